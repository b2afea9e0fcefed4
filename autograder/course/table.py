"""Score tables for the terminal: aligned columns and one denominator per assignment.

The denominator of "autograded" is the points of the assignment's autograded test cells (code grade
cells); the hand-graded written answers are a column of their own, shown as ``-/4`` until graded.
``xai-course grade`` and ``xai-course demo`` both print through here, so they agree.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Points:
    auto: float
    auto_max: float
    manual: float | None     # None while some written answer awaits its grade
    manual_max: float

    @classmethod
    def of(cls, got: dict, tests: dict) -> Points:
        """From the gradebook's ``{grade_id: (score or None, max)}`` and the autograded ``{grade_id: points}``."""
        auto = sum(got.get(g, (0.0, 0))[0] or 0.0 for g in tests)
        written = {g: v for g, v in got.items() if g not in tests}
        pending = any(s is None for s, _ in written.values())
        manual = None if pending else sum(s for s, _ in written.values())
        return cls(auto, sum(tests.values()), manual, sum(m for _, m in written.values()))


def fraction(score: float | None, top: float) -> str:
    return f"{'-' if score is None else f'{score:g}'}/{top:g}"


def render(header: list[str], rows: list[list[str]], *, right: set[int] = frozenset(), indent: str = "") -> str:
    """Columns as wide as their widest entry; the columns in ``right`` (indices) right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells):
        parts = [f"{c:>{w}}" if i in right else f"{c:<{w}}" for i, (c, w) in enumerate(zip(map(str, cells), widths))]
        return (indent + "  ".join(parts)).rstrip()

    return "\n".join([line(header), indent + "  ".join("-" * w for w in widths)] + [line(r) for r in rows])


def grade_table(course, assignment: str, results) -> str:
    """``xai-course grade``'s table: one row per submission (``parallel.JobResult``), from the gradebook."""
    from . import submissions as subs

    tests = subs.test_cells(subs.read(course.root / "source" / assignment / f"{assignment}.ipynb"))
    scores = course.scores()
    rows = []
    for r in results:
        p = Points.of(scores.get((r.student, assignment), {}), tests)
        rows.append([r.student, r.status, fraction(p.auto, p.auto_max), fraction(p.manual, p.manual_max),
                     f"{r.seconds:.1f} s", "; ".join(r.lines[:2])])
    return render(["student", "status", "autograded", "manual", "time", "notes"], rows, right={2, 3, 4})
