"""Build submissions for the grading tests: the student notebook with some answers filled from the master."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import yaml


def master_solutions(master: Path) -> dict[str, list[str]]:
    """Question -> the master's solution cells, with otter's solution markers removed."""
    nb = nbformat.read(master, as_version=4)
    solutions: dict[str, list[str]] = {}
    question, in_solution = None, False
    for cell in nb.cells:
        text = cell.source.strip()
        if cell.cell_type == "raw":
            if text.startswith("# BEGIN QUESTION"):
                question = yaml.safe_load(text.split("\n", 1)[1])["name"]
                solutions[question] = []
            in_solution = {"# BEGIN SOLUTION": True, "# END SOLUTION": False}.get(text.upper(), in_solution)
            continue
        if cell.cell_type == "code" and in_solution:
            lines = [re.sub(r"\s*#\s*SOLUTION\s*$", "", line) for line in cell.source.splitlines()
                     if line.strip().upper() not in ("# BEGIN SOLUTION", "# END SOLUTION")]
            solutions[question].append("\n".join(lines))
    return solutions


def answer_cells(nb) -> dict[str, list[int]]:
    """Question -> indices of its answer cells in a student notebook (they come before its grader.check cell)."""
    found: dict[str, list[int]] = {}
    pending: list[int] = []
    for index, cell in enumerate(nb.cells):
        if "otter_answer_cell" in cell.metadata.get("tags", []):
            pending.append(index)
        match = re.match(r'grader\.check\("([^"]+)"\)', cell.source.strip()) if cell.cell_type == "code" else None
        if match:
            found[match.group(1)] = pending
            pending = []
    return found


def filled(student: Path, master: Path, questions: set[str] | None = None) -> nbformat.NotebookNode:
    """The student notebook with the master's solution in the answer cells of `questions` (all when None)."""
    nb = nbformat.read(student, as_version=4)
    solutions = master_solutions(master)
    for question, indices in answer_cells(nb).items():
        if questions is None or question in questions:
            assert len(indices) == len(solutions[question]), question
            for index, source in zip(indices, solutions[question], strict=True):
                nb.cells[index].source = source
    return nb


def first_code_index(nb, after_marker: str = "# Otter grader setup") -> int:
    """Index just after the grader setup cell (where a submission's own first cells would run)."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.source.startswith(after_marker):
            return index + 1
    return 0


def with_cell(nb, source: str, at: int | None = None) -> nbformat.NotebookNode:
    """A copy of `nb` with a code cell inserted (after the setup cells by default)."""
    copy = nbformat.from_dict(nb)
    copy.cells.insert(first_code_index(copy) if at is None else at, nbformat.v4.new_code_cell(source))
    return copy
