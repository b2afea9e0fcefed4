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

Before any of that, ``validate`` looks at the folder itself without following anything: a student or
file name nbgrader cannot take, a symbolic link, a hard link to a file outside the submission, or a
special file (a FIFO would block the grader) rejects the submission. Afterwards ``repair_cells``
makes the nbgrader metadata of the cells agree with the instructor's notebook (``normalise_metadata``)
and puts back deleted test cells, so that nbgrader's own restore cannot fail on what a student did.
"""
from __future__ import annotations

import json
import os
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

MAX_BYTES = 20 << 20
MAX_FILES = 1000     # entries in one submission folder
GLOB = set("*?[]")   # nbgrader takes a student id as a file glob


@dataclass
class Intake:
    notebook: str | None = None              # UTF-8 JSON text to grade, None when rejected
    notes: list = field(default_factory=list)    # what was done to make it gradable
    rejected: str | None = None              # why it cannot be graded

    @property
    def ok(self) -> bool:
        return self.notebook is not None


def name_problem(name: str, what: str) -> str | None:
    """Why ``name`` cannot be a ``what`` (a student id, a file name) in nbgrader's course; None if it can."""
    bad = [c for c in name if unicodedata.category(c).startswith("C")]
    if not name or name.strip() != name:
        return f"{what} {name!r} is empty or starts or ends with white space (nbgrader strips it)"
    if bad:
        return f"{what} {name!r} contains the control character {bad[0]!r}"
    if "/" in name or "\\" in name or ".." in name:
        return f"{what} {name!r} contains a path separator or '..'"
    if what == "student id" and GLOB & set(name):
        return f"{what} {name!r} contains a glob character (nbgrader matches student ids as globs)"
    return None


def validate(submitted: Path, student: str, assignment: str) -> str | None:
    """Why ``submitted/<student>/<assignment>`` must not be read; None when it may be.

    Nothing is followed: every entry is looked at with ``lstat``. Names must be nbgrader's; no
    symbolic link, no special file, and a file's hard links (``st_nlink``) must all lie inside the
    folder (a link to another student's notebook or the gradebook would otherwise be read as this
    student's).
    """
    problem = name_problem(student, "student id")
    if problem:
        return problem
    links: dict[tuple[int, int], list] = {}
    for path in (Path(submitted) / student, Path(submitted) / student / assignment):
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            return f"{path.name} is missing"
        if stat.S_ISLNK(mode):
            return f"{path.name} is a symbolic link (to {os.readlink(path)}), not a folder"
        if not stat.S_ISDIR(mode):
            return f"{path.name} is not a folder"
    count = 0
    for top, dirs, files in os.walk(path):   # does not follow links
        for name in dirs + files:
            count += 1
            entry = Path(top) / name
            rel = entry.relative_to(path).as_posix()
            problem = name_problem(name, "file name")
            if problem:
                return problem
            st = entry.lstat()
            if stat.S_ISLNK(st.st_mode):
                return f"{rel} is a symbolic link (to {os.readlink(entry)}); a submission holds files only"
            if stat.S_ISREG(st.st_mode):
                links.setdefault((st.st_dev, st.st_ino), [rel, st.st_nlink, 0])[2] += 1
            elif not stat.S_ISDIR(st.st_mode):
                return f"{rel} is not a regular file (a pipe, socket or device)"
        if count > MAX_FILES:
            return f"more than {MAX_FILES} files in the submission"
    for rel, nlink, inside in links.values():
        if nlink > inside:
            return f"{rel} is a hard link to a file outside the submission ({nlink} links)"
    return None


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
    except Exception as err:  # noqa: BLE001 - nbformat's ValidationError or a structural error in the cells
        intake.rejected = f"{expected.name} is not a valid notebook: {str(err).splitlines()[0][:200]}"
        return intake
    intake.notebook = nbformat.writes(nb)
    return intake


FLAGS = ("grade", "solution", "locked", "task", "points", "schema_version")   # what nbgrader reads


def _nbgrader(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def _grade_id(cell) -> str | None:
    gid = _nbgrader(cell).get("grade_id")
    return gid if isinstance(gid, str) else None


def _set_cell_type(cell, cell_type: str) -> None:
    """``cell`` as a cell of ``cell_type`` (what nbgrader's ``OverwriteCells.update_cell_type`` does)."""
    cell.cell_type = cell_type
    if cell_type == "code":
        cell.outputs, cell.execution_count = [], None
        cell.pop("attachments", None)
    else:
        cell.pop("outputs", None)
        cell.pop("execution_count", None)


def normalise_metadata(nb, source_nb) -> list[str]:
    """Make the nbgrader metadata of ``nb``'s cells agree with the instructor's ``source_nb``, in place;
    returns a note for each change.

    * metadata that is not nbgrader's shape, or a grade id the instructor's notebook does not have
      (edited, pasted from elsewhere): the cell is kept as an ordinary cell of the student's;
    * a grade id on several cells: the one of the instructor's cell type nearest the instructor's
      position keeps it, the others become ordinary cells;
    * the kept cell gets the instructor's cell type and exactly the instructor's nbgrader metadata
      (grade, solution, locked, points, schema version): a flag a student changed, a string where
      nbgrader expects a number, a dict where it expects a bool, a schema version nbgrader does not
      know (which would stop nbgrader's whole run) are all set back.
    """
    notes = []
    source = {_grade_id(c): (i, c) for i, c in enumerate(source_nb.cells) if _grade_id(c)}
    holders: dict[str, list[int]] = {}
    for i, cell in enumerate(nb.cells):
        if "nbgrader" not in cell.get("metadata", {}):
            continue
        raw, gid = cell.metadata["nbgrader"], _grade_id(cell)
        if not isinstance(raw, dict):
            notes.append(f"cell #{i}: nbgrader metadata is a {type(raw).__name__}, not a dict; kept as an "
                         f"ordinary cell")
            del cell.metadata["nbgrader"]
        elif gid not in source:
            notes.append(f"cell with unknown grade id {raw.get('grade_id')!r} kept as an ordinary cell")
            del cell.metadata["nbgrader"]
        else:
            holders.setdefault(gid, []).append(i)
    for gid, cells in holders.items():
        at, want = source[gid]
        keep = min(cells, key=lambda i: (nb.cells[i].cell_type != want.cell_type, abs(i - at)))
        if len(cells) > 1:
            notes.append(f"grade id {gid!r} is on {len(cells)} cells; kept on cell #{keep}, "
                         f"the others made ordinary cells")
            for i in cells:
                if i != keep:
                    del nb.cells[i].metadata["nbgrader"]
        cell = nb.cells[keep]
        if cell.cell_type != want.cell_type:
            notes.append(f"cell {gid!r} was turned into a {cell.cell_type} cell; made {want.cell_type} again")
            _set_cell_type(cell, want.cell_type)
        meta, right = cell.metadata["nbgrader"], _nbgrader(want)
        changed = [f"{k} {meta.get(k)!r} (expected {right.get(k)!r})" for k in FLAGS if meta.get(k) != right.get(k)
                   or type(meta.get(k)) is not type(right.get(k))]
        if changed:
            notes.append(f"cell {gid!r}: nbgrader metadata set back to the instructor's: {', '.join(changed)}")
        cell.metadata["nbgrader"] = json.loads(json.dumps(right))
    return notes


def repair_cells(notebook: str, source_nb) -> tuple[str, list[str]]:
    """Put the instructor's cells back where a submission lost them; returns (notebook, notes).

    * the cells' nbgrader metadata is made to agree with the instructor's (``normalise_metadata``):
      nbgrader would otherwise refuse the whole notebook, or, for some errors, the whole class;
    * a locked or test cell of the instructor's that is missing (deleted) is inserted again after the
      cell that precedes it in the instructor's notebook, so that its question is graded, not skipped.
    nbgrader's own sanitizing then restores the source of every locked and test cell.
    """
    nb = nbformat.reads(notebook, as_version=4)
    notes = normalise_metadata(nb, source_nb)
    present = {_grade_id(c) for c in nb.cells}
    previous = None
    for cell in source_nb.cells:
        gid, m = _grade_id(cell), _nbgrader(cell)
        if gid and gid not in present and (m.get("locked") or m.get("grade")) and not m.get("solution"):
            ids = [_grade_id(c) for c in nb.cells]
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
