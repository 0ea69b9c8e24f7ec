"""Fast checks of the grading plumbing: wire format, names, discovery, reports, the sandbox's failure paths."""

from __future__ import annotations

import io
import json
import pickle

import numpy as np
import pytest
import torch

from llmcourse import grading, sandbox
from llmcourse.sandbox import Limits, Sandbox, SubmissionError


def test_pack_round_trips_plain_data():
    value = {"t": torch.arange(6).reshape(2, 3), 0: (1, 2.5, None, True), "nested": [{"a": {1, 2}}, b"xy"],
             "array": np.arange(4, dtype=np.float32), "np_scalar": np.int64(7), "dtype": torch.float16,
             "size": torch.Size([2, 3]), "complex": 1 + 2j}
    back = sandbox.decode(sandbox.encode(value))
    assert torch.equal(back["t"], value["t"]) and back[0] == (1, 2.5, None, True)
    assert back["nested"] == [{"a": {1, 2}}, b"xy"] and back["np_scalar"] == 7 and back["dtype"] is torch.float16
    assert isinstance(back["array"], np.ndarray) and back["array"].tolist() == [0, 1, 2, 3]
    assert back["size"] == (2, 3) and back["complex"] == 1 + 2j


def test_pack_refuses_objects_and_decode_refuses_pickled_code():
    with pytest.raises(TypeError, match="cannot send"):
        sandbox.pack(object())

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    buffer = io.BytesIO()
    torch.save({"x": Evil()}, buffer)
    with pytest.raises(pickle.UnpicklingError):
        sandbox.decode(buffer.getvalue())


def test_frames_time_out_and_end(tmp_path):
    import os
    import time

    read, write = os.pipe()
    sandbox.send_frame(write, b"hello")
    assert sandbox.recv_frame(read, time.monotonic() + 5) == b"hello"
    with pytest.raises(TimeoutError):
        sandbox.recv_frame(read, time.monotonic() + 0.2)
    os.close(write)
    with pytest.raises(EOFError):
        sandbox.recv_frame(read, time.monotonic() + 5)
    os.close(read)


def test_names_used_skips_keywords_and_builtins():
    spec = {"suites": [{"cases": [{"code": ">>> import torch\n>>> out = attend(q, k)\n>>> assert len(out) == 2\n"},
                                  {"code": ">>> for x in range(3):\n...     check(x)\n"}]}]}
    assert grading.names_used(spec) == ["attend", "check", "k", "out", "q", "torch", "x"]


def test_error_summaries_never_quote_code():
    message = "Failed example:\n    assert secret_formula(x) == 3\nException raised:\n    AssertionError: oops"
    assert grading._error_kind(message) == "AssertionError"
    assert grading._error_kind("Expected:\n    1\nGot:\n    2") == "wrong output"
    assert grading._error_line("Exception raised:\n    Traceback\n    ValueError: bad shape") == "ValueError: bad shape"
    two = ("Failed example:\n    x = f(q)\nException raised:\n    TypeError: bad q\n"
           "Failed example:\n    assert x == 2\nException raised:\n    NameError: name 'x' is not defined")
    assert grading._error_kind(two) == "TypeError" and grading._error_line(two) == "TypeError: bad q", "the cause"


def test_discover_names_students_and_labs(tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "attention.ipynb").write_text("{}")
    (tmp_path / "bob.ipynb").write_text(json.dumps({"metadata": {"otter": {"assignment_name": "mlm"}}}))
    (tmp_path / "carol.ipynb").write_text("not json")
    found = {(s, lab, src) for s, lab, src, _ in grading.discover(tmp_path, ["attention", "mlm"])}
    assert found == {("alice", "attention", "alice/attention.ipynb"), ("bob", "mlm", "bob.ipynb"),
                     ("carol", "unknown", "carol.ipynb")}
    assert {lab for _, lab, _, _ in grading.discover(tmp_path, ["attention", "mlm"], lab="mlm")} == {"mlm"}


def test_unreadable_notebook_scores_zero_without_starting_a_process(tmp_path):
    tests = grading.LabTests("toy", {"q1": {"name": "q1", "points": 2, "suites": [{"cases": [
        {"code": ">>> assert f(1) == 2\n", "hidden": True}], "type": "doctest"}]}})
    result = grading.grade_submission("x", "toy", "x.ipynb", "{not json", tests, Limits(), "none")
    assert result.status == "unreadable" and result.total == 0 and result.possible == 2


def test_sandbox_without_namespaces_still_times_out_and_reports_errors():
    cells = [{"source": "def f(x):\n    return x + 1"}, {"source": "def slow():\n    while True:\n        pass"},
             {"source": "raise KeyError('k')"}, {"source": "print('skipped')", "ignore": True}]
    with Sandbox("{}", cells, Limits(call_seconds=2), isolation="none") as box:
        assert [c["status"] for c in box.cell_report] == ["ok", "ok", "error"]
        assert box.call("f", (torch.tensor([1]),), {}).tolist() == [2]
        with pytest.raises(TypeError):
            box.call("f", (), {"y": 1})
        with pytest.raises(SubmissionError, match="NameError"):
            box.call("not_defined", (), {})
        with pytest.raises(SubmissionError, match="TimeoutError"):
            box.call("slow", (), {})
        assert box.call("f", (1,), {}) == 2, "the child answers again after a timed-out call"
        assert "skipped" not in "\n".join(box.log)


def test_report_lists_problems_per_student(tmp_path):
    limits = Limits()
    questions = [grading.QuestionResult("q1", 1.0, 2.0, messages=["hidden test 2 failed (AssertionError)"])]
    result = grading.SubmissionResult("ann", "toy", "ann.ipynb", questions, notes=["cell 3: timeout: CellTimeout"])
    text = grading.report_markdown([result], 1.0, 1, limits, "none")
    assert "| ann | 1/2 | 1/2 | graded |" in text and "cell 3: timeout" in text and "Warning" in text
    grading.write_outputs([result], tmp_path, 1.0, 1, limits, "none")
    assert (tmp_path / "scores.csv").read_text().splitlines()[1] == "ann,toy,q1,1.0,2.0,1.0,2.0,graded"


def test_grading_stops_when_the_sandbox_cannot_start(monkeypatch):
    class Broken:
        def __init__(self, *args, **kwargs):
            self.alive, self.died, self.log = False, "could not start (exit status 126)", ["Permission denied"]

        def start(self):
            pass

        def close(self):
            pass

    monkeypatch.setattr(grading, "Sandbox", Broken)
    with pytest.raises(SystemExit, match="(?s)Namespace isolation failed.*Permission denied"):
        grading.probe_sandbox()


def test_child_sees_data_and_cache_folders_as_bound(tmp_path, monkeypatch):
    """Links and `..` in LLMCOURSE_DATA/CACHE are resolved: the sandbox binds the real folders, not the links."""
    from llmcourse.sandbox import child_environment, read_only_paths

    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "clone").mkdir()
    monkeypatch.setenv("LLMCOURSE_DATA", str(tmp_path / "clone" / ".." / "link"))
    monkeypatch.setenv("LLMCOURSE_CACHE", str(tmp_path / "link"))
    env = child_environment("/scratch")
    assert env["LLMCOURSE_DATA"] == env["LLMCOURSE_CACHE"] == str((tmp_path / "real").resolve())
    assert env["LLMCOURSE_DATA"] in read_only_paths()


def test_a_linked_environment_is_bound_with_its_target(tmp_path, monkeypatch):
    """.venv may be a link to a shared environment: the child re-makes the link, so the target must be bound too."""
    from llmcourse import sandbox

    (tmp_path / "envs" / "abc").mkdir(parents=True)
    (tmp_path / ".venv").symlink_to(tmp_path / "envs" / "abc")
    monkeypatch.setattr(sandbox.sys, "prefix", str(tmp_path / ".venv"))
    paths = sandbox.read_only_paths()
    assert str(tmp_path / ".venv") in paths and str((tmp_path / "envs" / "abc").resolve()) in paths


def test_report_names_cells_as_the_notebook_shows_them():
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Lab"), nbformat.v4.new_code_cell("x = 1"),
                                         nbformat.v4.new_markdown_cell("text"),
                                         nbformat.v4.new_code_cell("\n\ndef attend(q, k, v, mask=None):\n    pass")])
    cells = grading.notebook_cells(nbformat.writes(nb))
    assert [c["number"] for c in cells] == [2, 4], "numbers count markdown cells too, from 1"
    assert grading.describe_cell(cells[1]) == "cell 4 (`def attend(q, k, v, mask=None):`)"
    assert grading.describe_cell({"source": "y = " + "1 + " * 40, "number": 9}).endswith("...`)")


def test_hidden_tests_are_numbered_apart_from_the_public_one():
    spec = {"name": "q1", "points": 2, "suites": [{"type": "doctest", "cases": [
        {"code": ">>> assert True\n", "hidden": False, "points": 0},
        {"code": ">>> assert f(1) == 2\n", "hidden": True},
        {"code": ">>> assert f(2) == 3\n", "hidden": True}]}]}

    class Stopped:
        alive = False

    result = grading._run_question(Stopped(), grading.LabTests("toy", {"q1": spec}), "q1")
    assert result.messages == ["hidden test 1 failed (NameError)", "hidden test 2 failed (NameError)"]
    assert (result.public_passed, result.hidden_total) == (1, 2)


def test_grade_refuses_when_a_lab_data_file_is_not_readable_offline(tmp_path, monkeypatch):
    monkeypatch.delenv("LLMCOURSE_DATA", raising=False)
    monkeypatch.setenv("LLMCOURSE_CACHE", str(tmp_path / "empty_cache"))
    with pytest.raises(SystemExit, match="(?s)ag_news_exercises needs ag_news/test.csv.*Fix: set LLMCOURSE_DATA"):
        grading.check_lab_data(["attention", "ag_news_exercises"])
    grading.check_lab_data(["attention", "mlm"])  # labs that read no data file need nothing
    (tmp_path / "data" / "ag_news").mkdir(parents=True)
    (tmp_path / "data" / "ag_news" / "test.csv").write_text('"1","a","b"\n')
    monkeypatch.setenv("LLMCOURSE_DATA", str(tmp_path / "data"))
    grading.check_lab_data(["ag_news_exercises"])


def test_lab_data_files_list_every_data_file_that_graded_cells_read():
    import re
    from pathlib import Path

    import nbformat

    root = Path(__file__).resolve().parents[2]
    for lab, master in grading.find_masters(root).items():
        nb = nbformat.read(master, as_version=4)
        read = {m for c in nb.cells if c.cell_type == "code" and "otter_ignore" not in c.metadata.get("tags", [])
                for m in re.findall(r"data_file\(\s*[\"']([^\"']+)[\"']", c.source)}
        assert read == set(grading.LAB_DATA_FILES.get(lab, ())), (lab, read)


def test_a_call_through_the_sandbox_changes_its_arguments_as_a_call_in_one_process_would():
    cells = [{"source": "def grow(x, table, items, untouched):\n    x[0] = 9\n    table['t'].add_(1)\n"
                        "    table['new'] = 1\n    del table['old']\n    items.append(3)\n    return 'done'"}]
    x, table, items = torch.zeros(2), {"t": torch.ones(2), "old": 0}, [1]
    untouched = np.arange(3)
    with Sandbox("{}", cells, Limits(call_seconds=5), isolation="none") as box:
        assert box.call("grow", (x, table, items), {"untouched": untouched}) == "done"
    assert x.tolist() == [9, 0] and table["t"].tolist() == [2, 2] and items == [1, 3]
    assert set(table) == {"t", "new"} and untouched.tolist() == [0, 1, 2]
    original = [np.int64(3), "a", torch.zeros(1)]  # copies that come back unchanged change nothing
    sandbox.write_back(original, [3, "a", torch.zeros(1)])
    assert type(original[0]) is np.int64


CROSS_ENTROPY_CALLS = """import torch
import torch.nn.functional as F
from torch.nn.functional import cross_entropy as imported_early


def direct(x, y):
    return F.cross_entropy(x, y)


def early(x, y):
    return imported_early(x, y)


def through_a_module(x, y):
    return torch.nn.CrossEntropyLoss()(x, y)


def swallowed(x, y):
    try:
        return F.cross_entropy(x, y)
    except Exception:
        return None


def by_hand(x, y):
    return -torch.log_softmax(x, -1).gather(-1, y[:, None]).mean()
"""


def test_forbidding_refuses_a_library_function_in_the_students_process_however_it_is_reached():
    import torch.nn.functional as F

    x, y = torch.randn(3, 5), torch.tensor([0, 1, 2])
    want = F.cross_entropy(x, y)
    names = ("direct", "early", "through_a_module", "swallowed")
    with Sandbox("{}", [{"source": CROSS_ENTROPY_CALLS}], Limits(call_seconds=5), isolation="none") as box:
        for name in names:
            with sandbox.forbidding("torch.nn.functional.cross_entropy"), pytest.raises(sandbox.ForbiddenCallError):
                box.call(name, (x, y), {})
            torch.testing.assert_close(box.call(name, (x, y), {}), want)  # allowed outside the block
        with sandbox.forbidding("torch.nn.functional.cross_entropy"):
            torch.testing.assert_close(box.call("by_hand", (x, y), {}), want)
    namespace: dict = {}  # the same in one process, as under `otter run`
    exec(CROSS_ENTROPY_CALLS, namespace)
    for name in names:
        with sandbox.forbidding("torch.nn.functional.cross_entropy"), pytest.raises(sandbox.ForbiddenCallError):
            namespace[name](x, y)
    assert F.cross_entropy.__module__ == "torch.nn.functional" and namespace["direct"](x, y) is not None
    assert grading._error_kind("Exception raised:\n    ForbiddenCallError: no") == "ForbiddenCallError"


def test_forbidding_a_class_refuses_calls_of_its_instances_and_restores_it():
    from transformers.generation.logits_process import TopKLogitsWarper

    call = TopKLogitsWarper.__call__
    warper = TopKLogitsWarper(top_k=2)
    with sandbox.forbidding("transformers.generation.logits_process.TopKLogitsWarper", "no_such_module.f"):
        with pytest.raises(sandbox.ForbiddenCallError, match="TopKLogitsWarper"):
            warper(None, torch.randn(1, 5))
    assert TopKLogitsWarper.__call__ is call and torch.isfinite(warper(None, torch.randn(1, 5))).sum() == 2
    assert sandbox._FORBIDDEN == []
