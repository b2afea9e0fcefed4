"""Grading a class: plain ``nbgrader autograde`` against parallel grading with one gradebook writer.

For every assignment (or those given with ``--assignment``), N synthetic students cycling through
the solution, the partly wrong and the blank submission; the same class is graded three times from
scratch:

- ``nbgrader autograde <a>``: what an instructor runs, one notebook after another;
- ``processes``: ``autograder.course.parallel`` (intake, sandboxed execution with the guard, one
  writer) on a process pool;
- ``dask``: the same on a ``distributed`` LocalCluster (loopback only).

Prints the machine, then per assignment and engine the wall time and seconds per submission, and
whether every score equals the plain run's; then the totals.

    .venv/bin/python benchmarks/parallel_grading.py --students 6            # every assignment
    .venv/bin/python benchmarks/parallel_grading.py --students 12 --assignment bptt
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from autograder.course import demo, parallel  # noqa: E402
from autograder.course.coursedir import CourseDir, assignments  # noqa: E402

ENGINES = ("nbgrader autograde", "processes", "dask")


def build(root: Path, name: str, n: int) -> tuple[CourseDir, list[str]]:
    from nbgrader.api import Gradebook

    rt = demo.prepare(root, [name], progress=False)
    course = rt.course
    kinds = list(demo.STUDENTS)
    students = [f"student{i:03d}" for i in range(n)]
    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        for student in students:
            gb.update_or_create_student(student)
    for i, student in enumerate(students):
        text = (course.root / "submitted" / kinds[i % 3] / name / f"{name}.ipynb").read_text()
        course.submit(student, name, text)
    return course, students


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assignment", action="append", choices=assignments(), help="default: all")
    parser.add_argument("--students", type=int, default=6, help="per assignment (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    names = args.assignment or assignments()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}; "
          f"{args.students} submissions of each of {', '.join(names)}; {args.workers} workers", flush=True)
    totals = {e: 0.0 for e in ENGINES}
    same_all = {e: True for e in ENGINES}
    print(f"\n{'assignment':<12} {'engine':<20} {'wall s':>8} {'s / submission':>15} {'same scores as plain':>22}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            scores = {}
            for engine in ENGINES:
                course, students = build(Path(tmp) / name / engine.replace(" ", "-"), name, args.students)
                start = time.perf_counter()
                if engine == "nbgrader autograde":
                    course.nbgrader("autograde", name, "--force")
                else:
                    parallel.autograde_parallel(course, name, students, workers=args.workers, engine=engine)
                wall = time.perf_counter() - start
                scores[engine] = {k: v for k, v in course.scores().items() if k[0] in students}
                same = scores[engine] == scores["nbgrader autograde"]
                same_all[engine] &= same
                totals[engine] += wall
                print(f"{name:<12} {engine:<20} {wall:>8.1f} {wall / args.students:>15.2f} {str(same):>22}",
                      flush=True)
            assert len(scores["nbgrader autograde"]) == args.students
    n = args.students * len(names)
    print(f"\ntotal over {n} submissions:")
    for engine in ENGINES:
        print(f"  {engine:<20} {totals[engine]:>8.1f} s   {totals[engine] / n:5.2f} s / submission   "
              f"same scores as plain: {same_all[engine]}")


if __name__ == "__main__":
    main()
