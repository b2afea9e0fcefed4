"""Write nbgrader source notebooks from a short Python description (used by tools/notebooks/*.py).

The notebook text lives in ``tools/notebooks/<assignment>.py`` so that it reviews like code; the
committed ``solutions/<assignment>/<assignment>.ipynb`` is its output, and a test keeps the two in
sync. Cell kinds, as nbgrader knows them:

- ``md(text)``: read-only explanation;           ``code(src)``: read-only code (imports, set-up);
- ``solution(grade_id, src)``: the student's code; wrap the answer in ``### BEGIN SOLUTION`` /
  ``### END SOLUTION``, with the answer variables set to ``None`` *before* the markers so that a blank
  submission reaches the check with ``None`` (a readable "no answer yet") instead of a NameError;
- ``tests(grade_id, points, src)``: an autograded check, locked; ``### BEGIN HIDDEN TESTS`` regions
  are removed from the release;
- ``written(grade_id, points, model_answer)``: a manually graded Markdown answer; the model answer and
  rubric are the instructor's copy and are replaced by "YOUR ANSWER HERE" in the release.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def _meta(grade_id, *, grade, solution, locked, points=None):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def md(text: str):
    return new_markdown_cell(text.strip(), metadata=_meta(None, grade=False, solution=False, locked=True))


def code(src: str):
    return new_code_cell(src.strip(), metadata=_meta(None, grade=False, solution=False, locked=True))


def scratch(src: str = ""):
    """A free code cell for the student to experiment in (not graded, not locked)."""
    return new_code_cell(src.strip())


def solution(grade_id: str, src: str):
    return new_code_cell(src.strip(), metadata=_meta(grade_id, grade=False, solution=True, locked=False))


def tests(grade_id: str, points: float, src: str):
    return new_code_cell(src.strip(), metadata=_meta(grade_id, grade=True, solution=False, locked=True, points=points))


def written(grade_id: str, points: float, model_answer: str):
    return new_markdown_cell(model_answer.strip(),
                             metadata=_meta(grade_id, grade=True, solution=True, locked=False, points=points))


def write(path: str | Path, cells) -> Path:
    """Write the notebook with a python3 kernelspec; cell ids are derived from grade ids (stable)."""
    nb = new_notebook(cells=list(cells), metadata={
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    })
    for i, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader")
        if meta is not None and meta["grade_id"] is None:  # read-only cells: ids by position
            meta["grade_id"] = f"{cell.cell_type[:4]}-{i:03d}"
        cell["id"] = meta["grade_id"] if meta else f"scratch-{i:03d}"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.validate(nb)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return path


def main(build):
    """``python tools/notebooks/<a>.py [OUT]``: write the source notebook (default: solutions/<a>/<a>.ipynb)."""
    cells, default = build()
    out = write(sys.argv[1] if len(sys.argv) > 1 else default, cells)
    print(f"wrote {out}")
