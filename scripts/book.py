"""Stage the book from the notebooks' fresh outputs and build it with jupyter-book (-W: warnings fail)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / os.environ.get("LLMCOURSE_BUILD", "_build")
EXECUTED = BUILD / "executed"  # written by the root conftest.py while nbval runs the notebooks
GENERATED = BUILD / "generated"  # pages made by other steps (e.g. student versions of graded labs)
STAGE = BUILD / "src"
HTML = BUILD / "html"
BOOK_FILES = ["_config.yml", "_toc.yml", "references.bib", "_static"]


def toc_files(toc: dict) -> list[str]:
    """Every `file:` named in the table of contents, root first."""
    found = [toc["root"]]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node:
                found.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk({k: v for k, v in toc.items() if k != "root"})
    return found


def resolve(entry: str, partial: bool = False) -> tuple[Path, Path] | None:
    """(source to copy, path inside the stage) for one toc entry; notebooks must have been executed.

    With `partial`, a notebook not yet executed is staged without outputs and a missing page is left out
    of the staged table of contents (for checking a few pages while others are being written).
    """
    for suffix in (".ipynb", ".md"):
        rel = Path(entry).with_suffix(suffix)
        for base in (EXECUTED, GENERATED):
            if (base / rel).is_file():
                return base / rel, rel
        if suffix == ".md" and (ROOT / rel).is_file():
            return ROOT / rel, rel
        if suffix == ".ipynb" and (ROOT / rel).is_file():
            if partial:
                return ROOT / rel, rel
            raise SystemExit(f"{rel} has not been executed: run the notebooks first (scripts/build.sh does).")
    if partial:
        return None
    raise SystemExit(f"_toc.yml names {entry}, which does not exist.")


def stage(partial: bool = False) -> None:
    """Copy the book's files into _build/src, notebooks with their fresh outputs."""
    shutil.rmtree(STAGE, ignore_errors=True)
    STAGE.mkdir(parents=True)
    for name in BOOK_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, STAGE / name)
        elif source.is_file():
            shutil.copy2(source, STAGE / name)
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    missing = []
    for entry in toc_files(toc):
        found = resolve(entry, partial)
        if found is None:
            missing.append(entry)
            continue
        source, rel = found
        (STAGE / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, STAGE / rel)
        for figure in source.parent.glob("*.png"):  # images a page links by relative path
            shutil.copy2(figure, (STAGE / rel).parent / figure.name)


    if missing:
        (STAGE / "_toc.yml").write_text(yaml.safe_dump(prune(toc, set(missing)), sort_keys=False))


def prune(node: object, missing: set[str]) -> object:
    """The table of contents without the entries in `missing` (and without parts left empty)."""
    if isinstance(node, list):
        kept = [prune(item, missing) for item in node if not (isinstance(item, dict) and item.get("file") in missing)]
        return [item for item in kept if not (isinstance(item, dict) and item.get("chapters") == [])]
    if isinstance(node, dict):
        return {key: prune(value, missing) for key, value in node.items()}
    return node


def build() -> None:
    """Run jupyter-book on the stage (no execution: outputs are already there) and move the HTML out."""
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(STAGE), "-W", "-n", "--keep-going"]
    if subprocess.run(command).returncode != 0:
        raise SystemExit("jupyter-book build failed (warnings count as errors).")
    shutil.rmtree(HTML, ignore_errors=True)
    shutil.move(STAGE / "_build" / "html", HTML)


if __name__ == "__main__":
    stage(partial="--partial" in sys.argv)
    build()
    print(f"built {HTML / 'index.html'}", file=sys.stderr)
