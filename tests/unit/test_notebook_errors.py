"""In a notebook, a course error fails the cell with one readable line, not a traceback wall."""

import os
import time

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def test_full_profile_without_hub_fails_the_cell_with_one_line(monkeypatch):
    monkeypatch.setenv("LLMCOURSE_PROFILE", "full")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("from llmcourse.env import report\nprint(report())"),
        nbformat.v4.new_code_cell("from llmcourse.data import load_ag_news\nload_ag_news()"),
    ]
    client = NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": os.getcwd()}})
    start = time.perf_counter()
    with pytest.raises(CellExecutionError):
        client.execute()
    elapsed = time.perf_counter() - start
    error = nb.cells[1].outputs[-1]
    assert error.output_type == "error" and error.ename == "CourseError"
    assert len(error.traceback) == 1 and "Fix:" in error.traceback[0]
    print(f"kernel start + failing cell: {elapsed:.1f} s")
