"""Calibrating the copy detector's threshold (``autograder.course.copying.THRESHOLD``).

Two groups of submissions, with the similarity the detector gives each against the public solution
and against the others:

* **copies**: the solution handed in as it is, on every assignment; the partly wrong samples
  (``autograder/course/samples/*.json``: the solution with deliberate mistakes); and, on ``bptt``, the
  solution with every local name changed and the layout redone (``tests/copying_variants.py``);
* **independent**: two honest correct answers to ``bptt`` written independently of the solution and
  of each other (``tests/copying_variants.py``; both pass every check), and the blank release of
  every assignment.

The threshold must lie above every independent pair and below every copy. The table (and the gap
between the groups) goes to ``benchmarks/results/copying_threshold.md``. No kernels run: the detector
reads notebooks only. Usage: ``python benchmarks/copying_threshold.py``.
"""
from __future__ import annotations

import platform
import sys
import time

import nbformat

from autograder.course import copying
from autograder.course import submissions as subs
from autograder.course.coursedir import REPO, assignments

sys.path.insert(0, str(REPO / "tests"))
import copying_variants as variants

OUT = REPO / "benchmarks" / "results" / "copying_threshold.md"


def notebooks(name: str) -> tuple[object, object]:
    return (nbformat.read(REPO / "solutions" / name / f"{name}.ipynb", as_version=4),
            nbformat.read(REPO / "exercises" / name / f"{name}.ipynb", as_version=4))


def class_of(name: str) -> dict[str, tuple[object, str]]:
    """student -> (notebook, group) for one assignment."""
    source, release = notebooks(name)
    made = {"solution": (subs.filled_in(release, source), "copy"),
            "partial": (subs.filled_in(release, source, subs.sample(name)["answers"]), "copy"),
            "blank": (release, "independent")}
    if name == "bptt":
        made["renamed"] = (subs.filled_in(release, source, variants.RENAMED), "copy")
        made["honest_a"] = (subs.filled_in(release, release, variants.HONEST_A), "independent")
        made["honest_b"] = (subs.filled_in(release, release, variants.HONEST_B), "independent")
    return made


def similarities(name: str) -> list[tuple[str, str, str, float, float]]:
    """(student, other, group of the pair, code, written) for every pair of one assignment's class."""
    source, release = notebooks(name)
    ids = copying.solution_ids(source)
    made = class_of(name)
    students = {s: copying.answers(nb, ids) for s, (nb, _) in made.items()}
    pairs = copying.compare(copying.answers(source, ids), copying.boilerplate(release, ids), students,
                            threshold=1e-9)
    group = {s: g for s, (_, g) in made.items()}
    group[copying.SOLUTION] = "copy"
    rows = []
    for p in pairs:
        # a pair is a copy when one side copied the other (or both the solution); honest/blank pairs are not
        copied = group[p.student] == "copy" and group[p.other] == "copy"
        rows.append((p.student, p.other, "copy" if copied else "independent", p.code, p.written))
    return rows


def main() -> int:
    start = time.perf_counter()
    rows = [(name, *row) for name in assignments() for row in similarities(name)]
    seconds = time.perf_counter() - start
    def spread(group: str, column: int) -> tuple[float, float]:
        values = [row[column] for row in rows if row[3] == group]
        return min(values, default=0.0), max(values, default=0.0)

    (code_lo, _), (written_lo, _) = spread("copy", 4), spread("copy", 5)
    (_, code_hi), (_, written_hi) = spread("independent", 4), spread("independent", 5)
    # the detector reports max(code, written): separation needs every copy above and every independent
    # pair below the threshold on that
    copies = [max(c, w) for *_, g, c, w in rows if g == "copy"]
    independent = [max(c, w) for *_, g, c, w in rows if g == "independent"]
    verdict = "separates" if max(independent, default=0.0) < copying.THRESHOLD <= min(copies) \
        else "does NOT separate"
    lines = [
        "# Copy detector: threshold calibration",
        "",
        (f"`python benchmarks/copying_threshold.py`, {platform.python_version()} on {platform.machine()} "
        f"({seconds:.0f} s, a machine shared with other jobs). copydetect noise threshold "
        f"{copying.NOISE} filtered characters, window {copying.WINDOW}, at least {copying.MIN_TOKENS} "
        "own tokens. Pairs with similarity 0 are not listed (every blank pair is 0)."),
        "",
        "| assignment | student | other | group | code | written |",
        "|---|---|---|---|---|---|",
        *[f"| {a} | {s} | {o} | {g} | {c:.2f} | {w:.2f} |" for a, s, o, g, c, w in rows],
        "",
        (f"Copies: {len(copies)} pairs; code similarity at least {code_lo:.2f}, written at least {written_lo:.2f}. "
        f"Independent: {len(independent)} pairs above 0 (the others are 0); code at most {code_hi:.2f}, "
        f"written at most {written_hi:.2f}."),
        f"`THRESHOLD = {copying.THRESHOLD}` on max(code, written) {verdict} the two groups.",
    ]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0 if verdict == "separates" else 1


if __name__ == "__main__":
    sys.exit(main())
