"""Reading a submission folder before anything of it runs: is there a notebook we can grade?

nbgrader expects ``submitted/<student>/<assignment>/<assignment>.ipynb`` in UTF-8 JSON. What students
hand in is not always that. Decisions, each with a line for the instructor's log:

=============================  ======================================================================
renamed notebook               exactly one other ``.ipynb`` in the folder: graded as the assignment's
                               notebook (several: rejected, the names listed)
no notebook                    rejected: every question scores 0 (as nbgrader does for a missing one)
not UTF-8                      read as Latin-1 (every byte decodes; only the odd characters change),
                               re-saved as UTF-8, graded
not JSON / not a notebook      rejected with the parser's message and position
larger than ``max_bytes``      rejected (a notebook of this course is well under 1 MB)
=============================  ======================================================================
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

MAX_BYTES = 20 << 20


@dataclass
class Intake:
    notebook: str | None = None              # UTF-8 JSON text to grade, None when rejected
    notes: list = field(default_factory=list)    # what was done to make it gradable
    rejected: str | None = None              # why it cannot be graded

    @property
    def ok(self) -> bool:
        return self.notebook is not None


def read_submission(folder: Path, assignment: str, max_bytes: int = MAX_BYTES) -> Intake:
    """The gradable notebook text of ``folder`` (see the module docstring for the decisions)."""
    folder = Path(folder)
    intake = Intake()
    expected = folder / f"{assignment}.ipynb"
    if not expected.is_file():
        others = sorted(p.name for p in folder.glob("*.ipynb")) if folder.is_dir() else []
        if len(others) == 1:
            intake.notes.append(f"notebook handed in as {others[0]!r}, graded as '{assignment}.ipynb'")
            expected = folder / others[0]
        else:
            intake.rejected = (f"no notebook '{assignment}.ipynb' in the submission"
                               + (f" (found {', '.join(others)}; which one is meant is unclear)" if others else ""))
            return intake
    size = expected.stat().st_size
    if size > max_bytes:
        intake.rejected = f"{expected.name} is {size / 2**20:.1f} MB, more than the {max_bytes / 2**20:.0f} MB accepted"
        return intake
    raw = expected.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        text = raw.decode("latin-1")
        intake.notes.append(f"{expected.name} is not UTF-8 (byte 0x{raw[err.start]:02x} at offset {err.start}); "
                            f"read as Latin-1")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        intake.rejected = f"{expected.name} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}"
        return intake
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        intake.rejected = f"{expected.name} is JSON but not a notebook (expected an object with a 'cells' list)"
        return intake
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as err:   # nbformat's ValidationError or a structural error in the cells
        intake.rejected = f"{expected.name} is not a valid notebook: {str(err).splitlines()[0][:200]}"
        return intake
    intake.notebook = nbformat.writes(nb)
    return intake


def repair_cells(notebook: str, source_nb) -> tuple[str, list[str]]:
    """Put the instructor's cells back where a submission lost them; returns (notebook, notes).

    * a cell whose nbgrader ``grade_id`` the instructor's notebook does not have (the student edited
      the metadata, or pasted a cell from elsewhere) is kept as an ordinary cell of the student's:
      nbgrader would otherwise refuse the whole notebook;
    * a locked or test cell of the instructor's that is missing (deleted) is inserted again after the
      cell that precedes it in the instructor's notebook, so that its question is graded, not skipped.
    nbgrader's own sanitizing then restores the source of every locked and test cell.
    """
    nb = nbformat.reads(notebook, as_version=4)
    notes = []
    meta = lambda cell: cell.get("metadata", {}).get("nbgrader", {})  # noqa: E731
    known = {meta(c).get("grade_id"): c for c in source_nb.cells if meta(c).get("grade_id")}
    for cell in nb.cells:
        gid = meta(cell).get("grade_id")
        if "nbgrader" in cell.get("metadata", {}) and gid not in known:
            del cell.metadata["nbgrader"]
            notes.append(f"cell with unknown grade id {gid!r} kept as an ordinary cell")
    present = {meta(c).get("grade_id") for c in nb.cells}
    previous = None
    for cell in source_nb.cells:
        gid = meta(cell).get("grade_id")
        m = meta(cell)
        if gid and gid not in present and (m.get("locked") or m.get("grade")) and not m.get("solution"):
            ids = [meta(c).get("grade_id") for c in nb.cells]
            at = ids.index(previous) + 1 if previous in ids else len(nb.cells)
            restored = nbformat.from_dict(json.loads(json.dumps(cell)))
            if restored.cell_type == "code":
                restored.outputs, restored.execution_count = [], None
            nb.cells.insert(at, restored)
            if m.get("grade"):
                notes.append(f"test cell {gid!r} was deleted; restored from the instructor's notebook")
        if gid:
            previous = gid
    return nbformat.writes(nb), notes
