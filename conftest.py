"""Keep what nbval executes: each notebook's fresh outputs are written for the book, so it runs once."""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path

import nbformat
import pytest

from llmcourse.grading import is_published_student_copy

EXECUTED = Path(os.environ.get("LLMCOURSE_BUILD", "_build")) / "executed"
_notebooks: dict[Path, object] = {}
_seconds: dict[str, float] = {}  # wall time of each notebook's cells, for the summary at the end


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """After nbval runs a cell, copy the outputs it saw into the notebook that the book will show."""
    started = time.perf_counter()
    yield
    if hasattr(item, "cell"):
        rel = Path(str(item.fspath)).relative_to(Path(str(item.config.rootpath))).as_posix()
        _seconds[rel] = _seconds.get(rel, 0.0) + time.perf_counter() - started
    outputs = getattr(item, "test_outputs", None)
    if outputs is None or not hasattr(item, "cell"):
        return
    item.cell.outputs = [_as_output(out) for out in outputs]
    _notebooks[Path(str(item.fspath))] = item.parent.nb


def _as_output(out) -> nbformat.NotebookNode:
    """An nbval output as a valid nbformat output."""
    node = copy.deepcopy(out)
    if node.get("output_type") == "execute_result":
        node.setdefault("execution_count", None)
        node.setdefault("metadata", {})
    if node.get("output_type") == "display_data":
        node.setdefault("metadata", {})
    return nbformat.from_dict(node)


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    """Student copies of the graded labs (labs/<lab>/<lab>.ipynb) have blanks to fill: nbval runs the masters."""
    return True if collection_path.suffix == ".ipynb" and is_published_student_copy(collection_path) else None


# Pages that produce shared cached artifacts run first, so later pages load them instead of training.
RUN_FIRST = ("labs/ag_news/ag_news_finetuning.ipynb",)


def pytest_collection_modifyitems(session, config, items):
    """Move the notebooks in RUN_FIRST ahead of the others, keeping every other order as collected."""
    root = Path(str(config.rootpath))

    def rank(item) -> int:
        rel = Path(str(item.fspath)).relative_to(root).as_posix()
        return RUN_FIRST.index(rel) if rel in RUN_FIRST else len(RUN_FIRST)

    items.sort(key=rank)


def pytest_runtest_teardown(item, nextitem):
    """After a notebook's last cell, write it under _build/executed/ (mirroring its path), before later tests
    (the book build) read it."""
    path = Path(str(item.fspath))
    if path not in _notebooks or (nextitem is not None and Path(str(nextitem.fspath)) == path):
        return
    root = Path(str(item.config.rootpath))
    target = root / EXECUTED / path.relative_to(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(_notebooks.pop(path), target)


def pytest_terminal_summary(terminalreporter):
    """Print how long each notebook's cells took (kernel start excluded): the budget figures of the pages."""
    if _seconds:
        terminalreporter.section("notebook run times (s)")
        for rel, seconds in _seconds.items():
            terminalreporter.write_line(f"{seconds:8.1f}  {rel}")
        terminalreporter.write_line(f"{sum(_seconds.values()):8.1f}  all notebooks")
