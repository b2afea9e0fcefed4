"""Grading a class safely and in parallel, with one writer to the gradebook.

Plain ``nbgrader autograde`` executes one notebook after another, each in a kernel that runs inside
the course directory. Here, for one assignment:

1. **intake** (``intake.read_submission``): which notebook to grade, or why none can be;
2. **sanitize**: ``nbgrader autograde --no-execute`` in a scratch copy of the course restores the
   instructor's locked and test cells from the gradebook (no student code runs);
3. **execute** every sanitized notebook in parallel, each in its own bubblewrap sandbox (no course,
   no gradebook, no other job in sight; its processes end with it) with limits and the in-kernel
   guard (``sandbox.execute``), on a process pool or on a Dask cluster
   (a ``LocalCluster`` on loopback here, any scheduler address for a class that outgrows a machine);
4. **write**, in this one process: ``nbgrader autograde --no-execute`` scores the executed notebooks
   into the course's gradebook; then a submission that was rejected at intake, or that the guard
   caught cheating, has every grade set to zero (as a manual score, visible and reversible in the
   formgrader); every decision is a line in ``<course>/logs/autograde-<assignment>.log``.

What this does and does not defend against: ``docs/threat-model.md``.
"""
from __future__ import annotations

import shutil
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import sqlalchemy.exc

from . import intake, material, sandbox
from .coursedir import CONFIG, REPO, CourseDir

EXECUTED = "executed"   # where the writer reads the executed notebooks from
CHEATING = {"reference-import", "tampering", "forbidden-file", "forbidden-call"}
SUBMISSION_FILES = ("timestamp.txt",)   # what nbgrader reads beside the notebook


@dataclass
class Job:
    student: str
    notebook: str                     # the sanitized notebook (JSON text)
    files: dict                       # the instructor's data files nbgrader copied beside it
    trusted_sources: list
    protected: list
    modules: list
    limits: sandbox.Limits
    os_sandbox: bool = True


@dataclass
class JobResult:
    student: str
    seconds: float = 0.0
    status: str = "graded"            # graded | rejected | cheating
    lines: list = field(default_factory=list)    # the log lines of this submission
    findings: list = field(default_factory=list)
    log: str = ""

    @property
    def ok(self) -> bool:
        """Executed and scored by nbgrader, nothing zeroed."""
        return self.status == "graded"


def _execute(job: Job) -> tuple[str, sandbox.Execution]:
    return job.student, sandbox.execute(job.notebook, trusted_sources=job.trusted_sources, files=job.files,
                                        protected=job.protected, modules=job.modules, limits=job.limits,
                                        os_sandbox=job.os_sandbox)


def _data_files(folder: Path) -> dict[str, bytes]:
    """The files beside the sanitized notebook (nbgrader copies the source folder's data files there)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix != ".ipynb" and p.name not in SUBMISSION_FILES}


def _run(jobs: list[Job], engine: str, workers: int, address: str | None, progress=None) -> dict:
    """``{student: Execution}``; ``progress(student)`` is called as each job ends (a progress bar)."""
    done = progress or (lambda student: None)
    if not jobs:
        return {}
    if engine == "processes":
        with ProcessPoolExecutor(max_workers=workers) as pool:
            out = {}
            for future in as_completed([pool.submit(_execute, job) for job in jobs]):
                student, execution = future.result()
                out[student] = execution
                done(student)
            return out
    from distributed import Client, LocalCluster
    from distributed import as_completed as dask_completed

    def gather(client):
        out = {}
        for future in dask_completed(client.map(_execute, jobs, pure=False)):
            student, execution = future.result()
            out[student] = execution
            done(student)
        return out

    if address:
        with Client(address) as client:
            return gather(client)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        return gather(client)


def _sanitize(course: CourseDir, assignment: str, accepted: dict[str, str], scratch: Path) -> dict[str, Path]:
    """nbgrader's own sanitizing (cells restored from the gradebook) in a scratch course: student -> folder."""
    work = CourseDir(scratch, timeout=course.timeout)
    work.root.mkdir(parents=True)
    (work.root / "nbgrader_config.py").write_text(CONFIG.format(root=str(work.root), timeout=course.timeout))
    shutil.copy2(course.root / "gradebook.db", work.root / "gradebook.db")
    shutil.copytree(course.root / "source" / assignment, work.root / "source" / assignment)
    for student, text in accepted.items():
        folder = work.root / "submitted" / student / assignment
        folder.mkdir(parents=True)
        (folder / f"{assignment}.ipynb").write_text(text, encoding="utf-8")
        for name in SUBMISSION_FILES:
            src = course.root / "submitted" / student / assignment / name
            if src.is_file():
                shutil.copy2(src, folder / name)
    work.nbgrader("autograde", assignment, "--no-execute", "--force", check=False)
    out = {}
    for student in accepted:
        folder = work.root / "autograded" / student / assignment
        if (folder / f"{assignment}.ipynb").is_file():
            out[student] = folder
    return out


ZERO_NOTE = "Scored 0 by the grader: "
NOT_ISOLATED = "not isolated: executed without the operating-system sandbox (--no-os-sandbox)"


def _zero(course: CourseDir, assignment: str, student: str, reason: str) -> None:
    """Every grade of ``student``'s submission set to 0 as a manual score (the formgrader shows it)."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb, warnings.catch_warnings():
        # nbgrader's own ORM warns while it creates a submission that has no notebook file
        warnings.simplefilter("ignore", sqlalchemy.exc.SAWarning)
        submission = gb.update_or_create_submission(assignment, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.manual_score = 0.0
                grade.needs_manual_grade = False
            for comment in notebook.comments:
                comment.manual_comment = ZERO_NOTE + reason
        gb.db.commit()


def _clear_zero(course: CourseDir, assignment: str, student: str) -> bool:
    """Undo an earlier ``_zero`` (never an instructor's own manual grade) when a regrade is clean."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb:
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            return False
        cleared = False
        for notebook in submission.notebooks:
            if any((c.manual_comment or "").startswith(ZERO_NOTE) for c in notebook.comments):
                for grade in notebook.grades:
                    grade.manual_score = None
                for comment in notebook.comments:
                    comment.manual_comment = None
                cleared = True
        gb.db.commit()
        return cleared


def autograde_parallel(course: CourseDir, assignment: str, students: list[str], *, workers: int = 2,
                       engine: str = "processes", address: str | None = None,
                       limits: sandbox.Limits | None = None, os_sandbox: bool = True,
                       progress=None) -> list[JobResult]:
    """Grade ``students``' submissions of ``assignment`` (see the module docstring); one result each.

    Raises ``sandbox.SandboxUnavailable`` before anything runs if ``os_sandbox`` and bubblewrap
    cannot run here; ``os_sandbox=False`` grades without it, and the first log line of every
    executed submission says so. ``progress(student)``, if given, is called once per student: at
    intake for a rejected submission, when its execution ends for the others.
    """
    if engine not in ("processes", "dask"):
        raise ValueError(f"engine: expected 'processes' or 'dask', got {engine!r}")
    if os_sandbox and (problem := sandbox.sandbox_problem()):
        raise sandbox.SandboxUnavailable(problem)
    limits = limits or sandbox.Limits(cell_timeout=course.timeout)
    results = {s: JobResult(s) for s in students}

    source = nbformat.read(course.root / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    accepted = {}
    for student in students:
        got = intake.read_submission(course.root / "submitted" / student / assignment, assignment)
        results[student].lines += got.notes
        if got.ok:
            accepted[student], notes = intake.repair_cells(got.notebook, source)
            results[student].lines += notes
        else:
            results[student].status = "rejected"
            results[student].lines.append(f"rejected: {got.rejected}")
            if progress:
                progress(student)

    trusted = [c.source for c in source.cells if c.metadata.get("nbgrader", {}).get("locked")]
    protected = [str(course.root), str(material.root("source")), str(REPO / "tests")]
    modules = [f"autograder.questions.{assignment}"]

    with tempfile.TemporaryDirectory(prefix="xai-sanitize-") as tmp:
        sanitized = _sanitize(course, assignment, accepted, Path(tmp) / "course")
        for student in set(accepted) - set(sanitized):
            results[student].status = "rejected"
            results[student].lines.append("rejected: nbgrader could not restore its cells (see nbgrader's log)")
            if progress:
                progress(student)
        jobs = [Job(s, (folder / f"{assignment}.ipynb").read_text(encoding="utf-8"), _data_files(folder),
                    trusted, protected, modules, limits, os_sandbox) for s, folder in sanitized.items()]
        executed = _run(jobs, engine, workers, address, progress)

        # --- the single writer --------------------------------------------------------------
        for stale in (course.root / EXECUTED).glob(f"*/{assignment}"):   # only this run's notebooks get scored
            shutil.rmtree(stale)
        for job in jobs:
            s, run = job.student, executed[job.student]
            r = results[s]
            r.seconds, r.findings, r.log = run.seconds, run.findings, run.log
            r.lines += run.problems
            if not os_sandbox:
                r.lines.insert(0, NOT_ISOLATED)
            text = run.notebook
            if text is None:   # nothing came back: every test cell is scored 0
                nb = nbformat.reads(job.notebook, as_version=4)
                sandbox.mark_unexecuted(nb, "; ".join(run.problems) or "the notebook did not execute")
                text = nbformat.writes(nb)
            folder = course.root / EXECUTED / s / assignment
            shutil.copytree(sanitized[s], folder)
            (folder / f"{assignment}.ipynb").write_text(text, encoding="utf-8")
            cheats = [f for f in run.findings if f.get("kind") in CHEATING]
            if cheats:
                r.status = "cheating"
                r.lines += [f"guard: {f['detail']}" for f in cheats]
    graded = [j.student for j in jobs]
    for s in graded:   # before nbgrader scores: it keeps a grade with a manual score for review
        if _clear_zero(course, assignment, s) and results[s].status == "graded":
            results[s].lines.append("an earlier zero by the grader was lifted")
    if graded:
        course.nbgrader("autograde", assignment, "--no-execute", "--force",
                        f"--CourseDirectory.submitted_directory={EXECUTED}", check=False)
    scored = course.scores()
    for s, r in results.items():
        if r.status == "graded" and (s, assignment) not in scored:
            r.status, r.lines = "rejected", r.lines + ["rejected: nbgrader could not score the executed notebook"]
        if r.status in ("rejected", "cheating"):
            _zero(course, assignment, s, "; ".join(r.lines[-1:]))
            r.lines.append("every question scored 0")
    _write_log(course, assignment, results.values())
    return [results[s] for s in students]


def _write_log(course: CourseDir, assignment: str, results) -> Path:
    """One line per decision: ``time assignment student status: what``."""
    path = course.root / "logs" / f"autograde-{assignment}.log"
    path.parent.mkdir(exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    with path.open("a", encoding="utf-8") as log:
        for r in results:
            for line in r.lines or ["graded"]:
                log.write(f"{stamp} {assignment} {r.student} {r.status}: {line}\n")
    return path
