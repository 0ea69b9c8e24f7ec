"""The book builds with -W from the outputs nbval just produced, and its pages render offline in Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / os.environ.get("LLMCOURSE_BUILD", "_build")
HTML = BUILD / "html"
SCREENSHOTS = BUILD / "screenshots"
PARTIAL = os.environ.get("LLMCOURSE_BOOK_PARTIAL") == "1"  # authors checking a few pages: see scripts/book.py
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # any attempt to use the network fails
    "--virtual-time-budget=15000",
]


@pytest.fixture(scope="session")
def book() -> Path:
    """Build the book once (scripts/book.py: stage executed notebooks, jupyter-book build -W)."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "book.py"), *(["--partial"] * PARTIAL)], cwd=ROOT)
    assert done.returncode == 0, "the book build failed: see the jupyter-book output above"
    return HTML


def chromium(*args: str) -> subprocess.CompletedProcess:
    """Run headless Chromium with a throwaway profile and no network."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("chromium is not installed: scripts/test.sh installs Debian's chromium")
    with tempfile.TemporaryDirectory() as profile_dir:
        return subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", *args],
                              capture_output=True, text=True, timeout=120)


def test_every_page_of_the_toc_is_built_and_notebooks_show_outputs(book):
    import yaml

    sys.path.insert(0, str(ROOT / "scripts"))
    from book import toc_files

    for entry in toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text())):
        page = book / f"{entry}.html"
        if PARTIAL and not page.is_file():
            continue
        assert page.is_file(), f"{entry} was not built"
        if (BUILD / "executed" / f"{entry}.ipynb").is_file():
            assert "cell_output" in page.read_text(), f"{entry} shows no outputs"


def test_pages_load_nothing_from_the_network(book):
    for page in book.rglob("*.html"):
        remote = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', page.read_text())
        assert not remote, f"{page.relative_to(book)} loads {remote[:3]}"


def test_chapter_page_renders_typeset_math_and_figures_offline(book):
    page = book / "chapters" / "02_self_attention.html"
    dom = chromium("--dump-dom", page.as_uri()).stdout
    assert dom.count("<mjx-container") >= 10, "MathJax did not typeset the math"
    figures = re.findall(r'<img[^>]+src="data:image/png;base64,|<img[^>]+src="[^"]+\.png"', dom)
    assert len(figures) >= 3, f"expected the chapter's figures, found {len(figures)}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOTS / "02_self_attention.png"
    chromium("--window-size=1280,4000", f"--screenshot={shot}", page.as_uri())
    assert shot.is_file() and shot.stat().st_size > 50_000


def test_every_figure_has_a_caption_and_alt_text(book):
    # Without the cell's `mystnb` figure/image metadata, myst-nb writes the file name as alt text and no caption.
    for page in book.rglob("*.html"):
        html, where = page.read_text(), page.relative_to(book)
        images = re.findall(r'<img alt="([^"]*)" src="([^"]*_images/[^"]+)"', html)
        for alt, src in images:
            assert alt.strip() and Path(src).name not in alt, f"{where}: {Path(src).name} has no alt text"
        captioned = re.findall(r'<figure[^>]*>\s*<img [^>]*_images/[^>]*>\s*<figcaption>', html)
        assert len(captioned) == len(images), f"{where}: {len(images) - len(captioned)} figure(s) without a caption"


def test_no_page_shows_unprocessed_markup(book):
    role = re.compile(r"\{(?:cite|glue|doc|ref|numref|eq|download)(?::[a-z]+)?\}")
    for page in book.rglob("*.html"):
        text = re.sub(r"<pre.*?</pre>", "", page.read_text(), flags=re.S)  # code may show these on purpose
        assert not role.search(text), f"{page.relative_to(book)}: a MyST role was not processed: {role.search(text)[0]}"
        assert '$<span class="math' not in text, f"{page.relative_to(book)}: broken math delimiters"
        table = re.search(r"<p>\|[^<]*\|\s*(?:-{3,}|—)\s*\|", text)  # typography may turn --- into a dash
        assert not table, f"{page.relative_to(book)}: a Markdown table shown as text: {table[0][:80]}"
