"""Grading a class in parallel, with one writer to the gradebook.

Plain ``nbgrader autograde`` grades one notebook after another, and several nbgrader processes
writing one SQLite gradebook at once collide. Here the expensive part, executing each submission
in a kernel, runs in parallel, each job in a **scratch copy** of the course (its own working copy of
the submission, its own copy of the gradebook, so a submission can touch nothing but its copy); the
single writer then hands the executed notebooks to ``nbgrader autograde --no-execute``, which restores
the instructor's test cells once more, scores the outputs and writes the one gradebook.

Engines: ``processes`` (a process pool on this machine) or ``dask`` (a ``distributed`` cluster: a
``LocalCluster`` here, any scheduler address for a class that outgrows one machine).
"""
from __future__ import annotations

import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .coursedir import CONFIG, CourseDir

EXECUTED = "executed"   # where the writer reads the executed notebooks from


@dataclass
class Job:
    course_root: str
    assignment: str
    student: str
    timeout: int = 120


@dataclass
class JobResult:
    job: Job
    seconds: float
    ok: bool
    log: str = ""
    notebooks: dict | None = None   # file name -> executed notebook text


def execute_in_scratch(job: Job) -> JobResult:
    """Autograde one submission in a scratch course; return the executed notebooks (text), not paths."""
    start = time.perf_counter()
    main = Path(job.course_root)
    with tempfile.TemporaryDirectory(prefix=f"grade-{job.student}-") as tmp:
        scratch = CourseDir(Path(tmp) / "course", timeout=job.timeout)
        scratch.root.mkdir()
        (scratch.root / "nbgrader_config.py").write_text(CONFIG.format(root=str(scratch.root), timeout=job.timeout))
        shutil.copy2(main / "gradebook.db", scratch.root / "gradebook.db")
        shutil.copytree(main / "source" / job.assignment, scratch.root / "source" / job.assignment)
        shutil.copytree(main / "submitted" / job.student / job.assignment,
                        scratch.root / "submitted" / job.student / job.assignment)
        proc = scratch.nbgrader("autograde", job.assignment, f"--student={job.student}", "--force", check=False)
        out = scratch.root / "autograded" / job.student / job.assignment
        notebooks = {p.name: p.read_text(encoding="utf-8") for p in out.glob("*.ipynb")} if out.is_dir() else {}
        ok = proc.returncode == 0 and bool(notebooks)
        return JobResult(job, time.perf_counter() - start, ok, "" if ok else proc.stdout + proc.stderr, notebooks)


def _run_processes(jobs, workers):
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(execute_in_scratch, jobs))


def _run_dask(jobs, workers, address=None):
    from distributed import Client, LocalCluster

    if address:
        with Client(address) as client:
            return client.gather(client.map(execute_in_scratch, jobs, pure=False))
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        return client.gather(client.map(execute_in_scratch, jobs, pure=False))


def autograde_parallel(course: CourseDir, assignment: str, students: list[str], *, workers: int = 2,
                       engine: str = "processes", address: str | None = None) -> list[JobResult]:
    """Execute every submission in parallel, then write all scores with one ``--no-execute`` autograde."""
    if engine not in ("processes", "dask"):
        raise ValueError(f"engine: expected 'processes' or 'dask', got {engine!r}")
    jobs = [Job(str(course.root), assignment, s, course.timeout) for s in students]
    if engine == "processes":
        results = _run_processes(jobs, workers)
    else:
        results = _run_dask(jobs, workers, address)
    for r in results:   # the single writer
        if not r.ok:
            continue   # a submission that did not even execute is graded like nbgrader would: sequentially
        folder = course.root / EXECUTED / r.job.student / assignment
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(course.root / "submitted" / r.job.student / assignment, folder)
        for name, text in r.notebooks.items():
            (folder / name).write_text(text, encoding="utf-8")
    if any(r.ok for r in results):
        course.nbgrader("autograde", assignment, "--no-execute", "--force",
                        f"--CourseDirectory.submitted_directory={EXECUTED}")
    for r in results:
        if not r.ok:
            course.autograde(assignment, r.job.student)
    return results
