"""Grading a class: plain ``nbgrader autograde`` against parallel grading with one gradebook writer.

For every assignment (or those given with ``--assignment``), N synthetic students cycling through
the solution, the partly wrong and the blank submission; the same class is graded from scratch by

- ``nbgrader autograde``: what an instructor runs, ``nbgrader autograde <a>``, one notebook after another;
- ``processes, no OS sandbox``: ``autograder.course.parallel`` (intake, execution under the guard, one
  writer) on a process pool, each kernel a plain child process: the pipeline before bubblewrap
  (``--no-os-sandbox``);
- ``processes, sandbox, checks in the kernel``: each submission in its bubblewrap sandbox, the checks in the
  kernel as before the judge (``judge=False``): against the line above, bubblewrap's own cost;
- ``processes``: each submission in its sandbox, with the grader-side judge of the judged assignments (what
  ``xai-course grade`` does): against the line above, the judge's cost;
- ``dask``: the same on a ``distributed`` LocalCluster (loopback only).

Per assignment the process-pool runs rotate their order, so a change in the machine's load hits each of them.
Prints the machine, then per assignment and engine the wall time, seconds per submission, the mean
time of one sandbox job (``JobResult.seconds``) and whether every score equals the plain run's; then
the totals, the sandbox's cost per submission against the pipeline without it, and the pool's speed-up
over plain nbgrader.

    .venv/bin/python benchmarks/parallel_grading.py --students 6            # every assignment
    .venv/bin/python benchmarks/parallel_grading.py --students 3 --engine "nbgrader autograde" \\
        --engine "processes, no OS sandbox" --engine processes
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
from autograder.course import demo, parallel, sandbox  # noqa: E402
from autograder.course.coursedir import CourseDir, assignments  # noqa: E402

PLAIN, UNSANDBOXED, UNJUDGED, POOL, DASK = ("nbgrader autograde", "processes, no OS sandbox",
                                            "processes, sandbox, checks in the kernel", "processes", "dask")
ENGINES = (PLAIN, UNSANDBOXED, UNJUDGED, POOL, DASK)


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
    parser.add_argument("--engine", action="append", choices=ENGINES,
                        help=f"repeatable (default: all); {PLAIN!r} always runs, first, unless --no-plain")
    parser.add_argument("--no-plain", action="store_true",
                        help="leave plain nbgrader out (scores are then compared with the first engine's)")
    args = parser.parse_args()
    names = args.assignment or assignments()
    engines = ([] if args.no_plain else [PLAIN]) + [e for e in ENGINES[1:] if e in (args.engine or ENGINES)]
    baseline = engines[0]
    if {UNJUDGED, POOL, DASK} & set(engines) and (problem := sandbox.sandbox_problem()):
        raise SystemExit(f"cannot run the sandboxed pipeline: {problem}")
    print(f"machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}; {args.students} submissions of each of {', '.join(names)}; "
          f"{args.workers} workers", flush=True)
    totals = {e: 0.0 for e in engines}
    jobs = {e: [] for e in engines}   # seconds of each sandbox job
    same_all = {e: True for e in engines}
    print(f"\n{'assignment':<12} {'engine':<40} {'wall s':>8} {'s / submission':>15} {'s / job':>8} "
          f"{'same scores as ' + ('plain' if baseline == PLAIN else 'the first'):>25}")
    with tempfile.TemporaryDirectory() as tmp:
        for i, name in enumerate(names):
            scores = {}
            pools = [e for e in engines if e != PLAIN]
            shift = i % len(pools) if pools else 0
            order = [e for e in engines if e == PLAIN] + pools[shift:] + pools[:shift]   # the pool runs rotate
            for engine in order:
                course, students = build(Path(tmp) / name / engine.replace(" ", "-").replace(",", ""), name,
                                         args.students)
                start = time.perf_counter()
                if engine == PLAIN:
                    course.nbgrader("autograde", name, "--force")
                    per_job = float("nan")
                else:
                    results = parallel.autograde_parallel(course, name, students, workers=args.workers,
                                                          engine="dask" if engine == DASK else "processes",
                                                          os_sandbox=engine != UNSANDBOXED, judge=engine != UNJUDGED)
                    jobs[engine] += [r.seconds for r in results]
                    per_job = statistics.mean(r.seconds for r in results)
                wall = time.perf_counter() - start
                scores[engine] = {k: v for k, v in course.scores().items() if k[0] in students}
                same = scores[engine] == scores.get(baseline, scores[engine])
                same_all[engine] &= same
                totals[engine] += wall
                print(f"{name:<12} {engine:<40} {wall:>8.1f} {wall / args.students:>15.2f} {per_job:>8.2f} "
                      f"{str(same):>25}", flush=True)
            assert len(scores[baseline]) == args.students
    n = args.students * len(names)
    print(f"\ntotal over {n} submissions:")
    for engine in engines:
        job = f"{statistics.mean(jobs[engine]):6.2f} s / job" if jobs[engine] else " " * 13
        print(f"  {engine:<40} {totals[engine]:>8.1f} s   {totals[engine] / n:5.2f} s / submission   {job}   "
              f"same scores: {same_all[engine]}")
    print()
    for what, before, after in (("bubblewrap", UNSANDBOXED, UNJUDGED), ("the judge", UNJUDGED, POOL),
                                ("bubblewrap and the judge", UNSANDBOXED, POOL)):
        if before in engines and after in engines:
            wall = totals[after] / totals[before] - 1
            job = statistics.mean(jobs[after]) / statistics.mean(jobs[before]) - 1
            budget = f" ({'within' if max(wall, job) <= 0.10 else 'ABOVE'} the 10 % budget)" if what == "bubblewrap" else ""
            print(f"{what}'s cost per submission: {100 * wall:+.1f} % of wall time, {100 * job:+.1f} % of a job's "
                  f"time{budget}")
    if PLAIN in engines:
        for engine in engines[1:]:
            print(f"{engine} is {totals[PLAIN] / totals[engine]:.2f}x as fast as plain nbgrader autograde")


if __name__ == "__main__":
    main()
