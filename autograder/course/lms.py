"""Gradebook exports for learning-management systems, beside nbgrader's own ``grades.csv``.

One row per student of the nbgrader gradebook, one column per assignment, the score being
nbgrader's (autograded plus hand-graded points, as in ``grades.csv``'s ``score``); an assignment a
student did not submit is left empty, so that an import leaves that grade as it is.

- ``canvas``: the columns of Canvas's gradebook CSV, ``Student`` ("Last, First"), ``ID``,
  ``SIS User ID``, ``SIS Login ID``, ``Section``, then one column per assignment, and a second row
  ``Points Possible``. Canvas matches students on ``SIS User ID`` / ``SIS Login ID`` (here: the
  nbgrader student id); ``ID`` (Canvas's own number) is left empty. A new column creates an assignment.
- ``moodle``: Moodle's grade import CSV, ``First name``, ``Last name``, ``ID number``,
  ``Email address``, then ``<assignment> (Real)`` per assignment, as Moodle's own export names them;
  on import, map "ID number" (the nbgrader student id) or "Email address" to identify the user.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

FORMATS = ("canvas", "moodle")


@dataclass
class Row:
    student: str
    first: str
    last: str
    email: str
    scores: dict          # assignment -> score, absent if not submitted


def gradebook_rows(db: Path) -> tuple[dict, list[Row], list[str]]:
    """``({assignment: max score}, rows, warnings)`` from the nbgrader gradebook at ``db``."""
    from nbgrader.api import Gradebook, MissingEntry

    tops, rows, pending = {}, [], []
    with Gradebook(f"sqlite:///{db}") as gb:
        for a in sorted(gb.assignments, key=lambda a: (a.duedate is None, a.duedate, a.name)):
            tops[a.name] = a.max_score
        for s in sorted(gb.students, key=lambda s: s.id):
            row = Row(s.id, s.first_name or "", s.last_name or "", s.email or "", {})
            for name in tops:
                try:
                    sub = gb.find_submission(name, s.id)
                except MissingEntry:
                    continue
                row.scores[name] = sub.score
                if sub.needs_manual_grade:
                    pending.append(f"{s.id}/{name}")
            rows.append(row)
    warnings = [f"{len(pending)} submission(s) still need hand grading; their scores lack those points: "
                + ", ".join(pending)] if pending else []
    return tops, rows, warnings


def _number(x: float) -> str:
    return f"{x:g}"


def to_csv(fmt: str, tops: dict, rows: list[Row]) -> str:
    """The CSV text of format ``fmt`` (``"canvas"`` or ``"moodle"``)."""
    if fmt not in FORMATS:
        raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    names = list(tops)
    if fmt == "canvas":
        w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *names])
        w.writerow(["Points Possible", "", "", "", "", *(_number(tops[n]) for n in names)])
        for r in rows:
            w.writerow([f"{r.last}, {r.first}" if r.last or r.first else r.student, "", r.student, r.student, "",
                        *(_number(r.scores[n]) if n in r.scores else "" for n in names)])
    else:
        w.writerow(["First name", "Last name", "ID number", "Email address", *(f"{n} (Real)" for n in names)])
        for r in rows:
            w.writerow([r.first, r.last, r.student, r.email,
                        *(_number(r.scores[n]) if n in r.scores else "" for n in names)])
    return out.getvalue()


def export(course: Path, fmt: str, out: Path | None = None, *, force: bool = False) -> tuple[Path, list[str]]:
    """Write ``<course>/grades-<fmt>.csv`` (or ``out``); the path and any warnings."""
    from .coursedir import Refused

    course = Path(course)
    db = course / "gradebook.db"
    if not db.is_file():
        raise Refused(f"expected an nbgrader gradebook at {db}")
    out = Path(out) if out else course / f"grades-{fmt}.csv"
    if out.exists() and not force:
        raise Refused(f"{out} exists: pass --force to overwrite it, or --out another file")
    tops, rows, warnings = gradebook_rows(db)
    out.write_text(to_csv(fmt, tops, rows), encoding="utf-8")
    return out, warnings
