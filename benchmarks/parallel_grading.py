"""Grading a class: plain ``nbgrader autograde`` against parallel grading with one gradebook writer.

N synthetic students per assignment (cycling through the solution, the partly wrong and the blank
submission); the same course is graded three times from scratch:

- ``nbgrader autograde <a>``: what an instructor runs, one notebook after another;
- ``processes``: autograder.course.parallel with a process pool;
- ``dask``: the same on a distributed LocalCluster (loopback only).

Prints the machine, wall time, seconds per submission, and whether every score equals the plain run.

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
from autograder.course.coursedir import CourseDir  # noqa: E402


def build(root: Path, name: str, n: int) -> tuple[CourseDir, list[str]]:
    rt = demo.prepare(root, [name], progress=False)
    course = rt.course
    kinds = list(demo.STUDENTS)
    students = []
    for i in range(n):
        student = f"student{i:03d}"
        course.add_student(student)
        text = (course.root / "submitted" / kinds[i % 3] / name / f"{name}.ipynb").read_text()
        course.submit(student, name, text)
        students.append(student)
    return course, students


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assignment", default="bptt")
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}; "
          f"{args.students} submissions of '{args.assignment}', {args.workers} workers")
    scores = {}
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for engine in ("nbgrader autograde", "processes", "dask"):
            course, students = build(Path(tmp) / engine.replace(" ", "-"), args.assignment, args.students)
            start = time.perf_counter()
            if engine == "nbgrader autograde":
                course.nbgrader("autograde", args.assignment, "--force")
            else:
                parallel.autograde_parallel(course, args.assignment, students, workers=args.workers, engine=engine)
            wall = time.perf_counter() - start
            got = {k: v for k, v in course.scores().items() if k[0] in students}
            scores[engine] = got
            rows.append((engine, wall))
        print(f"\n{'engine':<20} {'wall s':>8} {'s / submission':>15} {'same scores as plain':>22}")
        for engine, wall in rows:
            same = scores[engine] == scores["nbgrader autograde"]
            print(f"{engine:<20} {wall:>8.1f} {wall / args.students:>15.2f} {str(same):>22}")
        assert len(scores["nbgrader autograde"]) == args.students


if __name__ == "__main__":
    main()
