"""Sanitizing a class: one ``nbgrader autograde --no-execute`` for everyone, or one per submission.

nbgrader's restore of the instructor's locked and test cells is short, but nbgrader starts for each
call. Restoring each submission in a scratch course of its own costs one nbgrader start per student
and keeps a notebook nbgrader cannot restore from failing the others; the pool (threads: each job is
an nbgrader subprocess) wins some of it back. For N synthetic students cycling through the solution,
the partly wrong and the blank submission, these are timed in the same run, in rounds that
alternate the order (so the machine's load hits each alike), and the restored notebooks compared:

- ``class-wide, subprocess``: one ``nbgrader`` call over the whole class in one scratch course (the
  pipeline before);
- ``per submission``: ``parallel._sanitize``, one scratch course and one nbgrader run per student,
  on 1 or W workers, each run an ``nbgrader`` subprocess or a child forked from this process after
  importing nbgrader once (``parallel.nbgrader_forked``, what the pipeline uses).

    .venv/bin/python benchmarks/sanitize.py --students 12 --rounds 2
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from autograder.course import parallel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from parallel_grading import build


def _cells(folder: Path, name: str) -> list:
    import nbformat

    nb = nbformat.read(folder / f"{name}.ipynb", as_version=4)
    return [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in nb.cells]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assignment", default="bptt")
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    name = args.assignment
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f} at the start; {args.students} submissions of {name}; "
          f"{args.workers} workers; {args.rounds} rounds", flush=True)
    w = args.workers

    def per_submission(workers, forked):
        def run(course, texts, scratch):
            return {s: r.folder for s, r in parallel._sanitize(course, name, texts, scratch, workers, forked).items()}
        return run

    methods = {
        "class-wide, subprocess": lambda course, texts, scratch: parallel.restore(course, name, texts, scratch,
                                                                                  forked=False)[1],
        "per submission, subprocess, 1 worker": per_submission(1, False),
        f"per submission, subprocess, {w} workers": per_submission(w, False),
        "per submission, forked, 1 worker": per_submission(1, True),
        f"per submission, forked, {w} workers": per_submission(w, True),
    }
    times = {m: [] for m in methods}
    with tempfile.TemporaryDirectory() as tmp:
        course, students = build(Path(tmp) / "course", name, args.students)
        texts = {s: (course.root / "submitted" / s / name / f"{name}.ipynb").read_text() for s in students}
        restored = {}
        for r in range(args.rounds):
            order = list(methods) if r % 2 == 0 else list(methods)[::-1]
            for method in order:
                scratch = Path(tmp) / f"round{r}" / method.replace(" ", "-").replace(",", "")
                start = time.perf_counter()
                folders = methods[method](course, texts, scratch)
                times[method].append(time.perf_counter() - start)
                assert all(folders.values()), (method, [s for s, f in folders.items() if f is None])
                restored[method] = {s: _cells(f, name) for s, f in folders.items()}
        same = {m: restored[m] == restored["class-wide, subprocess"] for m in methods}
    print(f"\n{'method':<40} {'wall s (rounds)':>24} {'median s / submission':>22} {'same cells as class-wide':>25}")
    for method, ts in times.items():
        med = statistics.median(ts)
        print(f"{method:<40} {' '.join(f'{t:.1f}' for t in ts):>24} {med / args.students:>22.2f} "
              f"{same[method]!s:>25}")


if __name__ == "__main__":
    main()
