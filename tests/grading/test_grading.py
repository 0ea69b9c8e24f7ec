"""The autograded labs end to end: student versions, full/zero/partial scores, misbehaving submissions, leaks.

Slow by nature (each graded submission runs a notebook in its own sandboxed process), so submissions are
graded in a few batches shared by the tests. Per-lab grading times are printed (a benchmark, not asserted).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from grading_helpers import answer_cells, filled, with_cell

from llmcourse import grading
from llmcourse.sandbox import Limits, isolation_available

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / os.environ.get("LLMCOURSE_BUILD", "_build")
MASTERS = grading.find_masters(ROOT)
LABS = sorted(MASTERS)
EXPECTED_LABS = {"attention", "mlm", "decoding", "ag_news_exercises", "bias_audit"}
FAST = Limits(cell_seconds=20, notebook_seconds=150, call_seconds=10)


@pytest.fixture(scope="session")
def assigned(tmp_path_factory) -> dict:
    """Run the assign command once into a private folder (the book's copy lives under _build/generated)."""
    out = tmp_path_factory.mktemp("assigned")
    started = time.monotonic()
    written = grading.assign(ROOT, student_dir=out / "student", autograder_dir=out / "autograder")
    print(f"\nassign: {len(written)} labs in {time.monotonic() - started:.1f} s")
    return {"dir": out, "labs": written, "zips": out / "autograder"}


def lab_tests(assigned, lab: str) -> grading.LabTests:
    return grading.LabTests.from_zip(lab, assigned["labs"][lab]["autograder"])


def write_batch(folder: Path, notebooks: dict[tuple[str, str], object]) -> Path:
    """Write {(student, lab): notebook or text} as folder/<student>/<lab>.ipynb."""
    for (student, lab), nb in notebooks.items():
        path = folder / student / f"{lab}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(nb if isinstance(nb, str) else nbformat.writes(nb))
    return folder


def by_key(results) -> dict[tuple[str, str], grading.SubmissionResult]:
    return {(r.student, r.lab): r for r in results}


# ---------------------------------------------------------------- the assign command


def test_every_lab_has_a_master_and_the_book_lists_its_student_page():
    import yaml

    assert set(LABS) == EXPECTED_LABS
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    labs_part = next(p for p in toc["parts"] if p.get("caption") == "Labs")
    files = [c["file"] for c in labs_part["chapters"]]
    for lab in LABS:
        assert f"labs/{lab}/{lab}" in files
    assert "labs/ag_news/ag_news_finetuning" in files and "labs/instructors_guide" in files


def test_the_repository_holds_current_student_copies_for_colab_that_nbval_and_ruff_skip(assigned):
    import tomllib

    ruff_skips = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["extend-exclude"])
    for lab in LABS:
        copy = ROOT / grading.student_path(lab)  # what the book's Colab button opens
        assert grading.is_published_student_copy(copy)
        assert copy.read_bytes() == assigned["labs"][lab]["notebook"].read_bytes(), \
            f"{copy} is stale: python -m llmcourse.grading assign --publish {lab}"
        assert str(grading.student_path(lab)) in ruff_skips
    assert not grading.is_published_student_copy(ROOT / "labs" / "ag_news" / "ag_news_finetuning.ipynb")


def test_assign_check_names_a_stale_student_copy_and_the_fix(tmp_path):
    root = tmp_path / "course"
    shutil.copytree(ROOT / "labs" / "attention", root / "labs" / "attention")
    for name in ("_config.yml", "requirements.txt", "requirements-models.txt"):
        shutil.copy2(ROOT / name, root / name)
    nb = nbformat.read(root / grading.student_path("attention"), as_version=4)
    nb.cells[-1].source += "\n# edited by hand"
    nbformat.write(nb, root / grading.student_path("attention"))
    with pytest.raises(SystemExit, match="assign --publish attention"):
        grading.assign(root, ["attention"], student_dir=tmp_path / "s", autograder_dir=tmp_path / "a",
                       published="check")


def test_assign_writes_student_notebooks_without_solutions_and_zips_with_hidden_tests(assigned):
    for lab in LABS:
        notebook, archive = assigned["labs"][lab]["notebook"], assigned["labs"][lab]["autograder"]
        assert notebook == assigned["dir"] / "student" / "labs" / lab / f"{lab}.ipynb"
        nb = nbformat.read(notebook, as_version=4)
        assert not [c for c in nb.cells if c.cell_type == "raw"], "otter delimiters left in the student notebook"
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
        questions = answer_cells(nb)
        specs = lab_tests(assigned, lab).specs
        assert set(questions) == set(specs) and all(questions.values())
        for question in questions:
            assert all(nb.cells[i].source.rstrip().endswith("...") for i in questions[question]), question
        # the grader cell embeds the public tests only, and follows the Colab cell
        assert nb.cells[0].source.startswith("# Colab setup") and nb.cells[1].source.startswith(grading.INIT_MARK)
        embedded = ast.literal_eval(re.search(r"PUBLIC_TESTS = (\{.*?\n\})", nb.cells[1].source, re.S).group(1))
        assert set(embedded) == set(specs)
        checks = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.startswith("grader.check(")]
        assert nb.cells[checks[-1] + 2].source == "grader.check_all()", "every public check at once, after the last"
        for question, source in embedded.items():
            scope: dict = {}
            exec(source, scope)
            cases = scope["test"]["suites"][0]["cases"]
            assert cases and not any(c["hidden"] for c in cases), f"{lab} {question}: hidden case in the notebook"
            hidden = [c for c in specs[question]["suites"][0]["cases"] if c["hidden"]]
            assert len(hidden) >= 2, f"{lab} {question}: hidden tests decide, so there must be some"
            assert all(c.get("points") == 0 for c in cases), "public tests help; they carry no points"
        possible = lab_tests(assigned, lab).possible()
        assert all(p > 0 for p in possible.values())
        with zipfile.ZipFile(archive) as z:  # what `otter grade` needs to build its Docker image
            environment = z.read("environment.yml").decode()
            assert "otter_config.json" in z.namelist()
            assert "torch==" in environment and "llmcourse @ git+" in environment


def test_assign_refuses_to_write_under_labs(tmp_path):
    with pytest.raises(SystemExit, match="under labs/"):
        grading.assign(ROOT, ["attention"], student_dir=ROOT / "labs" / "student", autograder_dir=tmp_path)


# ---------------------------------------------------------------- scores: master full, blank zero, partial partly


@pytest.fixture(scope="session")
def main_batch(assigned, tmp_path_factory):
    """Every lab's master, blank student copy and a partly filled copy, graded in one batch (2 workers)."""
    folder = tmp_path_factory.mktemp("submissions")
    notebooks = {}
    for lab in LABS:
        student = assigned["labs"][lab]["notebook"]
        questions = list(lab_tests(assigned, lab).specs)
        notebooks[("master", lab)] = MASTERS[lab].read_text()
        notebooks[("blank", lab)] = student.read_text()
        notebooks[("partial", lab)] = filled(student, MASTERS[lab], set(questions[:-1]))
    write_batch(folder, notebooks)
    out = tmp_path_factory.mktemp("results")
    started = time.monotonic()
    results = grading.grade_folder(folder, assigned["zips"], out, workers=2, limits=FAST)
    wall = time.monotonic() - started
    print(f"\nBENCHMARK grading {len(results)} submissions with 2 workers on {os.cpu_count()} cores: {wall:.1f} s "
          f"({wall / len(results):.1f} s per submission; 100 submissions ~ {100 * wall / len(results) / 60:.1f} min)")
    for r in sorted(results, key=lambda r: r.lab):
        if r.student == "master":
            print(f"BENCHMARK {r.lab:18s} one submission graded in {r.seconds:5.1f} s (another ran beside it)")
    return {"results": by_key(results), "out": out, "wall": wall}


def test_every_master_scores_full_marks(main_batch):
    for lab in LABS:
        r = main_batch["results"][("master", lab)]
        assert r.status == "graded" and r.possible > 0
        assert r.total == r.possible, f"{lab} master: {[(q.question, q.points, q.messages) for q in r.questions]}"


def test_every_blank_student_notebook_scores_zero(main_batch):
    for lab in LABS:
        r = main_batch["results"][("blank", lab)]
        assert r.possible > 0 and r.total == 0, f"{lab} blank scored {r.total}"
        assert all(q.public_passed == 0 for q in r.questions)


def test_a_partly_right_submission_scores_partly(main_batch, assigned):
    for lab in LABS:
        r = main_batch["results"][("partial", lab)]
        last = list(lab_tests(assigned, lab).specs)[-1]
        points = {q.question: q.points for q in r.questions}
        possible = {q.question: q.possible for q in r.questions}
        assert 0 < r.total < r.possible
        assert points[last] == 0 and all(points[q] == possible[q] for q in points if q != last), (lab, points)


def test_scores_csv_and_report(main_batch):
    out = main_batch["out"]
    rows = (out / "scores.csv").read_text().splitlines()
    assert rows[0] == "student,lab,question,points,possible,total,total_possible,status"
    assert len(rows) == 1 + sum(len(r.questions) for r in main_batch["results"].values())
    report = (out / "report.md").read_text()
    assert report.startswith("# Grading report") and "| student |" in report
    print("\nSAMPLE scores.csv:\n" + "\n".join(rows[:6]))
    print("SAMPLE report.md:\n" + "\n".join(report.splitlines()[:16]))
    results = json.loads((out / "results.json").read_text())
    assert {r["student"] for r in results} == {"master", "blank", "partial"}


def test_report_never_quotes_hidden_tests(main_batch, assigned):
    text = (main_batch["out"] / "report.md").read_text() + (main_batch["out"] / "results.json").read_text()
    normal = grading._normal(text)
    # a line that the student notebooks show anyway (an import, say) reveals nothing when the report names a cell by it
    shown = {grading._normal(line) for lab in LABS
             for line in grading._visible_text(assigned["labs"][lab]["notebook"]).splitlines()}
    for lab in LABS:
        for spec in lab_tests(assigned, lab).specs.values():
            for case in spec["suites"][0]["cases"]:
                if case["hidden"]:
                    for line in case["code"].splitlines():
                        code = grading._normal(line.removeprefix(">>> ").removeprefix("... "))
                        assert len(code) < 30 or code in shown or code not in normal, \
                            f"hidden test line in the report: {line}"


# ---------------------------------------------------------------- misbehaving submissions

LOOP = "while True:\n    pass"
STUBBORN_LOOP = "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass"
HARD_CRASH = "import os\nos._exit(3)"
HANGING_FUNCTION = ("def attention_weights(q, k, mask=None):\n    while True:\n        try:\n            while True:\n"
                    "                pass\n        except BaseException:\n            pass")
BAD_IMPORT = "import definitely_not_an_installed_module"


def snoop_cell(paths: list[str], canaries: list[str]) -> str:
    """A cell that hunts for hidden tests: known paths, then every notebook, test file and zip it can read."""
    return f"""
import os, zipfile
canaries = [c.encode() for c in {canaries!r}]
def contents(path):
    if path.endswith('.zip'):
        with zipfile.ZipFile(path) as z:
            return b''.join(z.read(name) for name in z.namelist())
    with open(path, 'rb') as f:
        return f.read()
candidates = list({paths!r})
for top in ['/', '/tmp', os.path.expanduser('~')]:
    for base, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d not in ('proc', 'sys', 'dev', 'usr', 'etc', 'site-packages', 'python3.11')]
        candidates += [os.path.join(base, n) for n in files if n.endswith(('.ipynb', '.zip', '.py', '.json'))]
own = os.path.abspath('.')  # the submission itself (this very cell names the canaries)
leaked = []
for path in candidates:
    try:
        if not os.path.abspath(path).startswith(own) and any(c in contents(path) for c in canaries):
            leaked.append(path)
    except Exception:
        pass
print('LEAKED', len(leaked), leaked[:5], 'searched', len(candidates))
"""


def sabotage_cell(paths: list[str]) -> str:
    """A cell that tries to change other students' results: writes, deletes, kills, network."""
    return f"""
import os, signal, socket, glob
wrote = []
targets = {paths!r} + glob.glob('/tmp/llmcourse-sandbox-*') + glob.glob('/tmp/*/scores.csv')
for path in targets:
    for mode in ('a', 'w'):
        try:
            with open(path if not os.path.isdir(path) else os.path.join(path, 'evil.txt'), mode) as f:
                f.write('HACKED')
            wrote.append(path)
        except OSError:
            pass
    try:
        os.remove(path)
        wrote.append('deleted ' + path)
    except OSError:
        pass
try:
    os.kill(-1, signal.SIGKILL)
except OSError:
    pass
try:
    socket.create_connection(('1.1.1.1', 80), timeout=3)
    print('NET open')
except OSError as error:
    print('NET blocked', type(error).__name__)
try:
    hog = bytearray(64 * 2**30)
    print('MEMORY granted')
except MemoryError:
    print('MEMORY refused')
print('WROTE', len(wrote), wrote[:5])
"""


@pytest.fixture(scope="session")
def misbehaving(assigned, tmp_path_factory):
    """Honest submissions graded alone, then again beside submissions that loop, crash, snoop and sabotage."""
    lab = "attention"
    student, master = assigned["labs"][lab]["notebook"], MASTERS[lab]
    honest = {("alice", lab): filled(student, master), ("bob", lab): filled(student, master, {"q1_weights"})}
    limits = Limits(cell_seconds=5, notebook_seconds=30, call_seconds=5)
    alone_dir = write_batch(tmp_path_factory.mktemp("alone"), honest)
    alone = by_key(grading.grade_folder(alone_dir, assigned["zips"], tmp_path_factory.mktemp("alone-out"),
                                        workers=2, limits=limits))
    full = filled(student, master)
    folder = tmp_path_factory.mktemp("mixed")
    out = tmp_path_factory.mktemp("mixed-out")
    secrets = [str(assigned["zips"] / f"{lab}-autograder.zip"), str(master), str(BUILD / "grading"),
               str(ROOT / "labs"), str(out)]
    to_damage = [str(folder / "alice" / f"{lab}.ipynb"), str(folder / "bob" / f"{lab}.ipynb"), str(out),
                 str(assigned["zips"] / f"{lab}-autograder.zip"), str(ROOT / "llmcourse" / "__init__.py"),
                 str(Path(sys.prefix) / "lib")]
    deleted = nbformat.from_dict(full)
    q2 = answer_cells(deleted)["q2_attend"]
    deleted.cells = [c for i, c in enumerate(deleted.cells)
                     if i not in q2 and 'grader.check("q2_attend")' not in c.source]
    mixed = dict(honest)
    mixed.update({
        ("loops", lab): with_cell(full, LOOP),
        ("loops_stubbornly", lab): with_cell(full, STUBBORN_LOOP),
        ("bad_import", lab): with_cell(full, BAD_IMPORT),
        ("hard_crash", lab): with_cell(full, HARD_CRASH),
        ("deleted_cells", lab): deleted,
        ("not_a_notebook", lab): "{this is not json",
        ("hangs_when_called", lab): with_cell(full, HANGING_FUNCTION, at=len(full.cells)),
    })
    if isolation_available() == "namespace":  # without namespaces these two would really read and damage files
        canaries = sorted(line.removeprefix(">>> ") for spec in lab_tests(assigned, lab).specs.values()
                          for case in spec["suites"][0]["cases"] if case["hidden"]
                          for line in case["code"].splitlines() if len(line) > 40)
        assert len(canaries) >= 5
        mixed[("snoops", lab)] = with_cell(nbformat.read(student, as_version=4), snoop_cell(secrets, canaries))
        mixed[("sabotages", lab)] = with_cell(full, sabotage_cell(to_damage), at=len(full.cells))
    write_batch(folder, mixed)
    guarded = [ROOT / "llmcourse" / "__init__.py", assigned["zips"] / f"{lab}-autograder.zip"]
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in guarded}
    started = time.monotonic()
    results = by_key(grading.grade_folder(folder, assigned["zips"], out, lab=lab, workers=2, limits=limits))
    wall = time.monotonic() - started
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in guarded}
    print(f"\nmisbehaving batch: {len(results)} submissions in {wall:.1f} s")
    for r in results.values():
        print(f"  {r.student:18s} {r.total:g}/{r.possible:g} {r.status:9s} {r.seconds:5.1f} s  {r.notes[:2]}")
    return {"alone": alone, "mixed": results, "wall": wall, "limits": limits, "before": before, "after": after,
            "folder": folder, "honest": honest}


def test_misbehaving_submissions_do_not_change_other_scores(misbehaving):
    for key in misbehaving["honest"]:
        alone, mixed = misbehaving["alone"][key], misbehaving["mixed"][key]
        assert [(q.question, q.points) for q in mixed.questions] == [(q.question, q.points) for q in alone.questions]
    assert misbehaving["alone"][("alice", "attention")].total == 10
    assert 0 < misbehaving["alone"][("bob", "attention")].total < 10


def test_misbehaving_submissions_are_graded_without_stalling_the_batch(misbehaving):
    mixed, limits = misbehaving["mixed"], misbehaving["limits"]
    assert mixed[("loops", "attention")].total == 10, "a looping cell is interrupted; the rest still counts"
    assert any("timeout" in n for n in mixed[("loops", "attention")].notes)
    stubborn = mixed[("loops_stubbornly", "attention")]
    assert stubborn.total == 0 and stubborn.status == "not run"
    assert stubborn.seconds < limits.notebook_seconds + 30, "the notebook budget bounds a submission"
    assert mixed[("bad_import", "attention")].total == 10
    crash = mixed[("hard_crash", "attention")]
    assert crash.total == 0 and any("exited with status 3" in n for n in crash.notes), crash.notes
    deleted = {q.question: q.points for q in mixed[("deleted_cells", "attention")].questions}
    assert deleted["q2_attend"] == 0 and sum(deleted.values()) == 8
    assert mixed[("not_a_notebook", "attention")].status == "unreadable"
    hangs = mixed[("hangs_when_called", "attention")]  # q1 and q2 (which calls q1's function) hang; q3, q4 count
    assert [q.points for q in hangs.questions] == [0, 0, 2, 3], hangs.notes
    assert sum("restarted" in n for n in hangs.notes) == 2
    assert misbehaving["wall"] < 6 * limits.notebook_seconds, "the batch must not stall"


@pytest.mark.skipif(isolation_available() != "namespace", reason="needs Linux namespaces (unshare) to contain writes")
def test_submissions_cannot_read_hidden_tests_or_write_outside_their_scratch(misbehaving):
    mixed = misbehaving["mixed"]
    snooper = "\n".join(mixed[("snoops", "attention")].log_tail)
    assert "LEAKED 0 []" in snooper, snooper[-2000:]
    assert int(re.search(r"searched (\d+)", snooper).group(1)) > 20, "the snooper should have read many files"
    assert mixed[("snoops", "attention")].total == 0
    saboteur = mixed[("sabotages", "attention")]
    log = "\n".join(saboteur.log_tail)
    assert "WROTE 0 []" in log and "NET blocked" in log and "MEMORY refused" in log, log[-2000:]
    assert saboteur.total == 10, "its own correct answers still count"
    assert misbehaving["before"] == misbehaving["after"], "the package or the autograder zip changed"
    for key in misbehaving["honest"]:
        path = misbehaving["folder"] / key[0] / f"{key[1]}.ipynb"
        assert "HACKED" not in path.read_text()


# ---------------------------------------------------------------- Colab: the student notebook alone


def test_grader_check_works_in_a_notebook_downloaded_alone_as_in_colab(assigned, tmp_path):
    """Run the student notebook by itself in an empty folder, with otter believing it runs in Colab."""
    from nbclient import NotebookClient

    lab = "attention"
    pretend_colab = ("from otter.check.utils import IPythonInterpreter\n"
                     "IPythonInterpreter.COLAB.value.check_strs.append('ipykernel')  # otter now behaves as in Colab\n"
                     "import os\nassert os.listdir('.') == [], os.listdir('.')")
    for name, nb in (("done", filled(assigned["labs"][lab]["notebook"], MASTERS[lab])),
                     ("blank", nbformat.read(assigned["labs"][lab]["notebook"], as_version=4))):
        folder = tmp_path / name
        folder.mkdir()
        nb = with_cell(nb, pretend_colab, at=1)
        NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(folder)}}).execute()
        checks = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("grader.check(")]
        assert len(checks) == 4
        (check_all,) = [c for c in nb.cells if c.cell_type == "code" and c.source == "grader.check_all()"]
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        texts = [json.dumps(c.outputs) for c in checks]
        summary = json.dumps(check_all.outputs)
        if name == "done":
            assert not errors, errors
            assert all("passed" in t and "failed" not in t for t in texts), texts
            assert "failed" not in summary and all(q in summary for q in answer_cells(nb)), summary
        else:
            assert all("failed" in t for t in texts), texts
            assert all(q in summary for q in answer_cells(nb)) and "failed" in summary, summary
            assert not [e for e in errors if e["ename"] in ("ValueError", "FileNotFoundError")], "otter setup failed"
        written = sorted(p.name for p in (folder / grading.PUBLIC_TESTS_DIR).iterdir())
        assert written == sorted(f"{q}.py" for q in answer_cells(nb))


# ---------------------------------------------------------------- no solution and no hidden test in public files


def _hidden_case_lines(assigned) -> set[str]:
    lines = set()
    for lab in LABS:
        for spec in lab_tests(assigned, lab).specs.values():
            for case in spec["suites"][0]["cases"]:
                if case["hidden"]:  # imports are not secrets (the notebook makes the same ones)
                    lines |= {grading._normal(line[4:]) for line in case["code"].splitlines()
                              if len(grading._normal(line[4:])) >= 30 and not line[4:].startswith(("import", "from"))}
    return lines


def _book_html(tmp_path_factory) -> Path:
    """The built book if tests/book built it with the student pages, else a small book of the student pages."""
    html = BUILD / "html"
    if all((html / "labs" / lab / f"{lab}.html").is_file() for lab in LABS):
        return html
    stage = tmp_path_factory.mktemp("minibook")
    for name in ("_config.yml", "references.bib", "references.md", "_static"):
        source = ROOT / name
        if source.exists():
            (shutil.copytree if source.is_dir() else shutil.copy2)(source, stage / name)
    generated = BUILD / "generated"
    if not all((generated / grading.student_path(lab)).is_file() for lab in LABS):
        grading.assign(ROOT, student_dir=generated)
    (stage / "intro.md").write_text("# Labs\n")
    chapters = [{"file": f"labs/{lab}/{lab}"} for lab in LABS] + [{"file": "references"}]
    (stage / "_toc.yml").write_text(json.dumps({"format": "jb-book", "root": "intro", "chapters": chapters}))
    for lab in LABS:
        (stage / "labs" / lab).mkdir(parents=True)
        shutil.copy2(generated / grading.student_path(lab), stage / "labs" / lab)
    binary = shutil.which("jupyter-book") or str(Path(sys.executable).parent / "jupyter-book")
    done = subprocess.run([binary, "build", str(stage)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
    return stage / "_build" / "html"


def test_no_solution_or_hidden_test_in_built_html_or_student_notebooks(assigned, tmp_path_factory):
    html = _book_html(tmp_path_factory)
    student_notebooks = [assigned["labs"][lab]["notebook"] for lab in LABS]
    book_copies = [BUILD / "generated" / grading.student_path(lab) for lab in LABS]
    public = grading.public_lines(ROOT)
    leaks = grading.find_leaks([html, *student_notebooks, *[p for p in book_copies if p.is_file()]], MASTERS, public)
    assert not leaks, leaks[:5]
    hidden = _hidden_case_lines(assigned)
    assert hidden
    for path in [*html.rglob("*.html"), *student_notebooks]:
        text = grading._normal(grading._visible_text(path))
        assert not [line for line in hidden if line in text], path
    for lab in LABS:  # the lab pages are the student versions
        page = (html / "labs" / lab / f"{lab}.html").read_text()
        assert "grader.check" in page and "BEGIN SOLUTION" not in page
    print(f"\nscanned {len(list(html.rglob('*.html')))} HTML pages and {len(student_notebooks)} student notebooks")


def test_the_scan_finds_solutions_where_they_are():
    leaks = grading.find_leaks(list(MASTERS.values()), MASTERS)
    assert {lab for _, lab, _ in leaks} == set(LABS), "the scanner must flag every master"
    for lab in LABS:
        assert len(grading.secrets_of(MASTERS[lab])) >= 8


# ---------------------------------------------------------------- otter's own runner accepts the zips


def test_otter_run_grades_a_full_submission_with_the_autograder_zip(assigned, tmp_path):
    """`otter run` (no isolation) is the documented fallback; it must give the same full marks."""
    lab = "attention"
    submission = tmp_path / f"{lab}.ipynb"
    nbformat.write(filled(assigned["labs"][lab]["notebook"], MASTERS[lab]), submission)
    done = subprocess.run([str(Path(sys.executable).parent / "otter"), "run", "-a",
                           str(assigned["labs"][lab]["autograder"]), "-o", str(tmp_path), str(submission)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    scored = [t for t in json.loads((tmp_path / "results.json").read_text())["tests"] if "max_score" in t]
    assert sum(t["score"] for t in scored) == sum(t["max_score"] for t in scored) == 10, scored


# ---------------------------------------------------------------- known wrong answers that the hidden tests catch

# Wrong answers from reviews, each in the answer cell of its question; the other answers are the master's.
WRONG_ANSWERS = {
    "attention": {
        "q1_weights": "def attention_weights(q, k, mask=None):\n    n_k = k.shape[-2]\n"
                      "    identity = torch.eye(n_k).expand(*k.shape[:-1], n_k)  # one-hot values give the weights\n"
                      "    return F.scaled_dot_product_attention(q, k, identity, attn_mask=mask)",
        "q2_attend": "from torch.nn.functional import scaled_dot_product_attention as fused\n\n\n"
                     "def attend(q, k, v, mask=None):\n    return fused(q, k, v, attn_mask=mask)",
    },
    "mlm": {
        "q2_corrupt": "def corrupt(input_ids, selected, mask_token_id, vocab_size, seed):\n"
                      "    generator = torch.Generator().manual_seed(seed)\n"
                      "    labels = torch.where(selected, input_ids, torch.full_like(input_ids, -100))\n"
                      "    draw = torch.rand(input_ids.shape, generator=generator)\n"
                      "    random_ids = torch.randint(0, vocab_size, input_ids.shape, generator=generator,\n"
                      "                               dtype=input_ids.dtype)\n"
                      "    inputs = input_ids  # no copy: this writes into the caller's tensor\n"
                      "    inputs[selected & (draw < 0.8)] = mask_token_id\n"
                      "    swap = selected & (draw >= 0.8) & (draw < 0.9)\n"
                      "    inputs[swap] = random_ids[swap]\n    return inputs, labels",
        "q3_loss": "def mlm_loss(logits, labels):\n    return F.cross_entropy(logits.flatten(0, 1), labels.flatten())",
    },
    "decoding": {
        "q1_top_k": "def top_k_filter(logits, k):\n"
                    "    kth = torch.topk(logits, min(k, logits.shape[-1]), dim=-1).values[..., -1:]\n"
                    "    logits[logits < kth] = float('-inf')  # changes the caller's tensor\n    return logits",
        "q2_top_p": "from transformers import TopPLogitsWarper\n\n\n"
                    "def top_p_filter(logits, p):\n    return TopPLogitsWarper(top_p=p)(None, logits.clone())",
        "q3_repetition": "def repetition_penalty(logits, input_ids, penalty):\n"
                         "    from transformers import RepetitionPenaltyLogitsProcessor\n"
                         "    return RepetitionPenaltyLogitsProcessor(penalty=penalty)(input_ids, logits.clone())",
    },
    "ag_news_exercises": {
        "q2_clean": "def clean_text(text):  # skips step 2: gas:\\\\$40 becomes 'gas: $40'\n"
                    "    pairs = ((' #39;', \"'\"), (' quot;', '\"'), (' amp;', '&'), (' #36;', '$'))\n"
                    "    for fragment, character in pairs:\n"
                    "        text = text.replace(fragment, character)\n"
                    "    return ' '.join(text.replace('\\\\', ' ').split())",
        "q4_macro_f1": "def macro_f1(y_true, y_pred, n_classes):  # skips classes absent from both\n"
                       "    counts = confusion(y_true, y_pred, n_classes).double()\n"
                       "    return (2 * counts.diagonal() / (counts.sum(0) + counts.sum(1))).nanmean().item()",
    },
}
# What each wrong answer fails: one new hidden test each (ForbiddenCallError: a refused library call).
CAUGHT_BY = {
    ("attention", "q1_weights"): ["hidden test 4 failed (ForbiddenCallError)"],
    ("attention", "q2_attend"): ["hidden test 3 failed (ForbiddenCallError)"],
    ("mlm", "q2_corrupt"): [f"hidden test {n} failed (AssertionError)" for n in (1, 2, 4)],
    ("mlm", "q3_loss"): ["hidden test 3 failed (ForbiddenCallError)"],
    ("decoding", "q1_top_k"): ["hidden test 3 failed (AssertionError)"],
    ("decoding", "q2_top_p"): ["hidden test 3 failed (ForbiddenCallError)"],
    ("decoding", "q3_repetition"): ["hidden test 3 failed (ForbiddenCallError)"],
    ("ag_news_exercises", "q2_clean"): ["hidden test 3 failed (AssertionError)"],
    ("ag_news_exercises", "q4_macro_f1"): ["hidden test 3 failed (AssertionError)"],
}


@pytest.fixture(scope="session")
def wrong_batch(assigned, tmp_path_factory):
    """One submission per lab holding every known wrong answer of that lab, graded by the course's grader."""
    folder = tmp_path_factory.mktemp("wrong")
    notebooks = {}
    for lab, answers in WRONG_ANSWERS.items():
        nb = filled(assigned["labs"][lab]["notebook"], MASTERS[lab])
        for question, source in answers.items():
            (index,) = answer_cells(nb)[question]
            nb.cells[index].source = source
        notebooks[("wrong", lab)] = nb
    write_batch(folder, notebooks)
    results = grading.grade_folder(folder, assigned["zips"], tmp_path_factory.mktemp("wrong-out"), workers=2,
                                   limits=FAST)
    return {"folder": folder, "results": by_key(results)}


def test_hidden_tests_catch_library_calls_in_place_changes_and_edge_cases(wrong_batch):
    for lab, answers in WRONG_ANSWERS.items():
        result = wrong_batch["results"][("wrong", lab)]
        assert result.status == "graded", (lab, result.notes)
        for question in result.questions:
            hidden = [m for m in question.messages if m.startswith("hidden")]
            assert not [m for m in question.messages if m.startswith("public")], (lab, question.messages)
            assert hidden == CAUGHT_BY.get((lab, question.question), []), (lab, question.question, hidden)
            assert (question.points < question.possible) == (question.question in answers)


def test_otter_run_gives_the_wrong_answers_the_same_scores_as_the_sandbox(assigned, wrong_batch, tmp_path):
    """`otter run` calls the functions in the notebook's own process: in-place changes and refusals must agree."""
    runs = {}
    for lab in WRONG_ANSWERS:
        folder = tmp_path / lab
        folder.mkdir()
        shutil.copy2(wrong_batch["folder"] / "wrong" / f"{lab}.ipynb", folder / f"{lab}.ipynb")
        runs[lab] = subprocess.Popen([str(Path(sys.executable).parent / "otter"), "run", "-a",
                                      str(assigned["labs"][lab]["autograder"]), "-o", str(folder),
                                      str(folder / f"{lab}.ipynb")], cwd=folder, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
    for lab, run in runs.items():
        output = run.communicate(timeout=600)[0]
        assert run.returncode == 0, output[-2000:]
        scored = {t["name"]: t["score"] for t in json.loads((tmp_path / lab / "results.json").read_text())["tests"]
                  if "max_score" in t}
        ours = {q.question: q.points for q in wrong_batch["results"][("wrong", lab)].questions}
        assert scored.keys() == ours.keys() and all(abs(scored[q] - ours[q]) < 1e-3 for q in ours), (lab, scored, ours)
