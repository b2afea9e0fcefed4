"""Submissions built from the release: a correct one, a partly wrong one, a blank one.

A correct submission is the *released* notebook with each solution cell filled in with the
instructor's solution (the ``### BEGIN/END SOLUTION`` markers removed), exactly what a student who
got everything right hands in. The partly wrong one replaces some answers with the typical mistakes
kept in ``samples/<assignment>.json``: ``{"answers": {grade_id: source}, "failing_tests": [grade_id]}``.
"""
from __future__ import annotations

import copy
import json
from importlib import resources

import nbformat

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def strip_solution_markers(source: str) -> str:
    """The instructor's cell with the solution markers removed (the code between them stays)."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in MARKERS)


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def solution_cells(nb) -> dict[str, object]:
    return {_grade_id(c): c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")}


def test_cells(nb) -> dict[str, float]:
    """``{grade_id: points}`` of the autograded code cells."""
    return {_grade_id(c): float(c.metadata.nbgrader.get("points", 0)) for c in nb.cells
            if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("grade")}


def filled_in(release_nb, source_nb, answers: dict[str, str] | None = None):
    """The release with every solution cell answered: ``answers[grade_id]`` if given, else the solution."""
    answers = answers or {}
    solutions = solution_cells(source_nb)
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        gid = _grade_id(cell)
        if gid is None or not cell.metadata.nbgrader.get("solution"):
            continue
        if gid in answers:
            cell.source = answers[gid]
        elif gid in solutions:
            cell.source = strip_solution_markers(solutions[gid].source)
    unknown = set(answers) - set(solution_cells(release_nb))
    if unknown:
        raise ValueError(f"sample answers name cells the notebook does not have: {sorted(unknown)}")
    return nb


def sample(name: str) -> dict:
    """The partly wrong sample of assignment ``name`` (``answers`` and ``failing_tests``)."""
    path = resources.files("autograder.course") / "samples" / f"{name}.json"
    if not path.is_file():
        return {"answers": {}, "failing_tests": []}
    data = json.loads(path.read_text(encoding="utf-8"))
    if set(data) != {"answers", "failing_tests"}:
        raise ValueError(f"{path}: expected the keys 'answers' and 'failing_tests', got {sorted(data)}")
    return data


def read(path) -> object:
    return nbformat.read(str(path), as_version=4)


def dumps(nb) -> str:
    return nbformat.writes(nb)
