"""Grading a class safely and in parallel, with one writer to the gradebook.

Plain ``nbgrader autograde`` executes one notebook after another, each in a kernel that runs inside
the course directory. Here, for one assignment:

0. the gradebook must be nbgrader's and nothing more (``gradebook.require``): otherwise nothing runs;
1. **intake** (``intake.validate``, ``intake.read_submission``, ``intake.repair_cells``): the folder
   is checked without following links, then which notebook to grade, or why none can be; its nbgrader
   metadata is made to agree with the instructor's notebook;
2. **sanitize**, per submission: ``nbgrader autograde --no-execute`` in a scratch course of its own
   (a copy of the gradebook and ``source/``, in the temp dir, outside the course) restores the
   instructor's locked and test cells (no student code runs); a notebook nbgrader cannot restore is
   rejected alone, with nbgrader's reason;
3. **execute** every sanitized notebook in parallel, each in its own bubblewrap sandbox (no course,
   no gradebook, no other job in sight; its processes end with it) with limits and the in-kernel
   guard (``sandbox.execute``), on a process pool or on a Dask cluster
   (a ``LocalCluster`` on loopback here, any scheduler address for a class that outgrows a machine);
   for a judged assignment (``autograder.remote.JUDGED``) with a judge process beside each sandbox
   that runs the checks, the sandbox holding only a stub of the check module;
4. **write**, in this one process and only once every execution has ended: the gradebook is checked
   again, ``nbgrader autograde --no-execute`` scores the executed notebooks into it; then a
   test cell of a judged assignment whose checks the judge's record does not confirm passed
   (``autograder.remote.confirm``) is set to zero, and a submission that was rejected, or that the
   guard caught cheating, has every grade set to zero (as manual scores, visible and reversible in the
   formgrader); the gradebook is checked once more.

Every decision is a line in ``<course>/logs/autograde-<assignment>.log`` (followed by what the
submission's executor wrote to stderr, its kernel's warnings and errors). Whose fault a failure is
decides the status: the submission's (``rejected``, scored 0) or the grader's own (an exception in
this code, nbgrader failing on the instructor's notebook as well, a job that never came back, a
kernel that did not run a single cell):
``attention``, nothing written for it, for the instructor to look at.

What this does and does not defend against: ``docs/threat-model.md``.
"""
from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import sqlalchemy.exc

from . import gradebook, guard, intake, material, sandbox
from .coursedir import CONFIG, REPO, CourseDir, nbgrader_env

EXECUTED = "executed"   # where the writer reads the executed notebooks from
CHEATING = {"reference-import", "tampering", "forbidden-file", "forbidden-call"}
ATTENTION = "attention"   # the grader failed, not the submission: nothing scored, the instructor looks
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
    judged: sandbox.Judged | None = None   # the checks run at the grader (autograder.remote)


@dataclass
class JobResult:
    student: str
    seconds: float = 0.0
    cpu: float = 0.0                  # CPU seconds of its executor and kernel, as the executor measured them
    status: str = "graded"            # graded | rejected | cheating | attention
    lines: list = field(default_factory=list)    # the log lines of this submission
    findings: list = field(default_factory=list)
    log: str = ""
    unconfirmed: dict = field(default_factory=dict)   # test id -> why the judge's record does not confirm it

    @property
    def ok(self) -> bool:
        """Executed and scored by nbgrader, nothing zeroed."""
        return self.status == "graded"


def _execute(job: Job) -> tuple[str, sandbox.Execution]:
    return job.student, sandbox.execute(job.notebook, trusted_sources=job.trusted_sources, files=job.files,
                                        protected=job.protected, modules=job.modules, limits=job.limits,
                                        os_sandbox=job.os_sandbox, judged=job.judged)


def _data_files(folder: Path) -> dict[str, bytes]:
    """The files beside the sanitized notebook (nbgrader copies the source folder's data files there)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix != ".ipynb" and p.name not in SUBMISSION_FILES}


def _run(jobs: list[Job], engine: str, workers: int, address: str | None, progress=None) -> dict:
    """``{student: Execution}``, or the exception for a job whose execution failed in the grader;
    ``progress(student)`` is called as each job ends (a progress bar)."""
    done = progress or (lambda student: None)
    if not jobs:
        return {}
    if engine == "processes":
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return _collect(jobs, [pool.submit(_execute, job) for job in jobs], as_completed, done)
    from distributed import Client, LocalCluster
    from distributed import as_completed as dask_completed

    if address:
        with Client(address) as client:
            return _collect(jobs, client.map(_execute, jobs, pure=False), dask_completed, done)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        return _collect(jobs, client.map(_execute, jobs, pure=False), dask_completed, done)


def _collect(jobs: list[Job], futures, completed, done) -> dict:
    """The results as the jobs end (``completed``: concurrent.futures' or dask's ``as_completed``)."""
    job_of = dict(zip(futures, jobs))
    out = {}
    for future in completed(futures):
        student = job_of[future].student
        try:
            out[student] = future.result()[1]
        except Exception as exc:  # noqa: BLE001 - a broken pool, a lost worker, an error in sandbox.execute
            out[student] = exc
        done(student)
    return out


def _judged(source, assignment: str) -> sandbox.Judged | None:
    """The stub package for an assignment judged at the grader (``autograder.remote.JUDGED``), else None."""
    from autograder.remote import JUDGED, confirm, stubs

    if assignment not in JUDGED:
        return None
    module = f"autograder.questions.{assignment}"
    return sandbox.Judged(module, stubs.build(assignment, confirm.used_names(source, module)))


def _unconfirmed(source, assignment: str, verdicts: list, r: JobResult) -> dict[str, str]:
    """The test cells the judge's record does not confirm (each to be scored 0); a failure of the judge
    itself makes the submission the instructor's to look at."""
    from autograder.question import entries
    from autograder.remote import confirm

    module = f"autograder.questions.{assignment}"
    faults = [v for v in verdicts if v.get("fault") == "grader"]
    if faults:
        r.status = ATTENTION
        r.lines += [f"judge: {v['check'] or 'the judge itself'}: {v['message']}" for v in faults[:3]]
        return {}
    required = confirm.required_checks(source, module, {e.check for e in entries(module)})
    return confirm.unconfirmed(required, verdicts)


def _ran_a_cell(notebook: str) -> bool:
    """Did the kernel execute any code cell of this executed notebook (the sandbox clears the counts)?"""
    nb = nbformat.reads(notebook, as_version=4)
    return any(c.cell_type == "code" and c.get("execution_count") is not None for c in nb.cells)


def _grader_error(exc: BaseException) -> str:
    """One log line for an exception in the grader: type, message and where it was raised."""
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    at = f" at {where[0].filename.rsplit('/', 1)[-1]}:{where[0].lineno}" if where else ""
    return f"{type(exc).__name__}: {str(exc)[:300]}{at}"


def nbgrader_reason(proc) -> str:
    """nbgrader's reason for a failure, from its log: the error lines and the last exception, one line."""
    lines = [line.strip() for line in (proc.stdout + "\n" + proc.stderr).splitlines() if line.strip()]
    generic = ("There was an error processing assignment", "Please see the", "Removing failed")
    errors = [line.split("]", 1)[-1].strip() for line in lines
              if "| ERROR]" in line and not any(g in line for g in generic) and "Traceback" not in line]
    raised = [line for line in lines if not line.startswith(("[", "File ", "Traceback")) and ":" in line
              and line.split(":", 1)[0].replace(".", "").isidentifier()]
    reason = " | ".join(dict.fromkeys(errors[-2:] + raised[-1:]))
    return (reason or (lines[-1] if lines else f"exit status {proc.returncode}"))[:600]


CONTROL = "xai-control"   # the student id under which the instructor's notebook is sanitized as a control


@dataclass
class Restored:
    folder: Path | None          # nbgrader's restored copy, None if it could not restore
    reason: str = ""             # nbgrader's reason, when it could not
    grader_fault: bool = False   # True: the pipeline failed (crash, signal), not the notebook


_FORKING = threading.Lock()


def _nbgrader_child(root: str, args: list[str], log: str) -> None:
    """In a forked child: ``nbgrader ARGS`` in ``root``, its output to ``log`` (nbgrader already imported)."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdout = sys.stderr = open(fd, "w", buffering=1, closefd=False)  # noqa: SIM115 - not the parent's
    os.chdir(root)
    os.environ.update(nbgrader_env())
    from nbgrader.apps.nbgraderapp import NbGraderApp

    sys.argv = ["nbgrader", *args]
    NbGraderApp.launch_instance(argv=list(args))   # exits with nbgrader's status


def nbgrader_forked(root: Path, *args: str) -> subprocess.CompletedProcess:
    """``nbgrader ARGS`` in ``root`` as ``CourseDir.nbgrader`` runs it, but in a child forked from this
    process, which has imported nbgrader once: a fresh process for every call without nbgrader's
    start-up (importing it costs about 3 s of CPU, the restore of one notebook well under one)."""
    import nbgrader.apps.nbgraderapp  # noqa: F401 - imported before the fork, inherited by the child

    log = Path(root) / "nbgrader.log"
    child = multiprocessing.get_context("fork").Process(target=_nbgrader_child, args=(str(root), list(args), str(log)))
    with _FORKING:   # one fork at a time from the sanitizing threads
        child.start()
    child.join()
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    return subprocess.CompletedProcess(["nbgrader", *args], child.exitcode, "", text)


def restore(course: CourseDir, assignment: str, texts: dict[str, str], scratch: Path, forked: bool = True):
    """``nbgrader autograde --no-execute`` of the notebooks ``texts`` (student -> JSON text) in a scratch
    course at ``scratch`` (a copy of the gradebook and of ``source/<assignment>``); returns nbgrader's
    process and ``{student: its restored folder, or None}``. The pipeline calls it for one student
    at a time, in a forked child (``nbgrader_forked``); ``benchmarks/sanitize.py`` also for a whole
    class, as one call, and as a subprocess (``forked=False``)."""
    work = CourseDir(scratch, timeout=course.timeout)
    work.root.mkdir(parents=True)
    (work.root / "nbgrader_config.py").write_text(CONFIG.format(root=str(work.root), timeout=course.timeout))
    shutil.copy2(course.root / "gradebook.db", work.root / "gradebook.db")
    shutil.copytree(course.root / "source" / assignment, work.root / "source" / assignment)
    for student, text in texts.items():
        folder = work.root / "submitted" / student / assignment
        folder.mkdir(parents=True)
        (folder / f"{assignment}.ipynb").write_text(text, encoding="utf-8")
        for name in SUBMISSION_FILES:   # intake.validate has made sure these are the student's own files
            src = course.root / "submitted" / student / assignment / name
            if src.is_file():
                shutil.copy2(src, folder / name)
    args = ["autograde", assignment, "--no-execute", "--force"]
    args += [f"--student={next(iter(texts))}"] if len(texts) == 1 else []
    proc = nbgrader_forked(work.root, *args) if forked else work.nbgrader(*args, check=False)
    out = {s: work.root / "autograded" / s / assignment for s in texts}
    return proc, {s: (f if (f / f"{assignment}.ipynb").is_file() else None) for s, f in out.items()}


def _sanitize_one(course: CourseDir, assignment: str, student: str, text: str, scratch: Path,
                  forked: bool = True) -> Restored:
    """nbgrader's own sanitizing (cells restored from the gradebook) of one submission, in a scratch
    course of its own."""
    try:
        proc, folders = restore(course, assignment, {student: text}, scratch, forked)
        folder = folders[student]
    except Exception as exc:  # noqa: BLE001 - the grader's failure, not the submission's
        return Restored(None, f"grader error while sanitizing: {_grader_error(exc)}", grader_fault=True)
    if folder is not None:
        return Restored(folder)
    if proc.returncode < 0:   # killed by a signal: not something a notebook's text can do
        return Restored(None, f"nbgrader was killed by signal {-proc.returncode}", grader_fault=True)
    return Restored(None, nbgrader_reason(proc))


def _sanitize(course: CourseDir, assignment: str, accepted: dict[str, str], scratch: Path,
              workers: int = 1, forked: bool = True) -> dict[str, Restored]:
    """Each submission restored on its own (``_sanitize_one``), ``workers`` at a time: student -> Restored.

    If nbgrader fails on some, the instructor's own notebook goes through the same steps: when that
    fails too, the pipeline is at fault, not the notebooks, and every failure becomes the grader's.
    """
    def one(item):
        i, (student, text) = item
        return student, _sanitize_one(course, assignment, student, text, scratch / f"{i}", forked)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:   # each waits for an nbgrader process
        out = dict(pool.map(one, enumerate(accepted.items())))
    if any(r.folder is None and not r.grader_fault for r in out.values()):
        source = course.root / "source" / assignment / f"{assignment}.ipynb"
        control = _sanitize_one(course, assignment, CONTROL, source.read_text(encoding="utf-8"),
                                scratch / "control", forked)
        if control.folder is None:
            for r in out.values():
                if r.folder is None:
                    r.grader_fault = True
                    r.reason += f" (nbgrader fails on the instructor's own notebook too: {control.reason})"
    return out


ZERO_NOTE = "Scored 0 by the grader: "
NOT_ISOLATED = "not isolated: executed without the operating-system sandbox (--no-os-sandbox)"


def _zero(course: CourseDir, assignment: str, student: str, reason: str, only: set | None = None) -> list[str]:
    """Every grade of ``student``'s submission set to 0 as a manual score (the formgrader shows it, with
    the reason in the notebook's comments); with ``only``, those of the grades named there that nbgrader
    gave points. Returns the names of the grades set to 0."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course.root / 'gradebook.db'}") as gb, warnings.catch_warnings():
        # nbgrader's own ORM warns while it creates a submission that has no notebook file
        warnings.simplefilter("ignore", sqlalchemy.exc.SAWarning)
        submission = gb.update_or_create_submission(assignment, student)
        zeroed = []
        for notebook in submission.notebooks:
            grades = [g for g in notebook.grades if only is None or (g.name in only and (g.auto_score or 0) > 0)]
            for grade in grades:
                grade.manual_score = 0.0
                grade.needs_manual_grade = False
            for comment in notebook.comments if grades else ():
                comment.manual_comment = ZERO_NOTE + reason
            zeroed += [g.name for g in grades]
        gb.db.commit()
        return zeroed


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
                       progress=None, judge: bool = True) -> list[JobResult]:
    """Grade ``students``' submissions of ``assignment`` (see the module docstring); one result each.

    Raises ``gradebook.GradebookError`` (nothing scored) for a gradebook that is not nbgrader's, before
    the run, or after the executions (then nothing is written) or after writing (the log says so).
    Raises ``sandbox.SandboxUnavailable`` before anything runs if ``os_sandbox`` and bubblewrap
    cannot run here; ``os_sandbox=False`` grades without it, and the first log line of every
    executed submission says so. ``progress(student)``, if given, is called once per student: at
    intake for a rejected submission, when its execution ends for the others. ``judge=False`` keeps
    the checks of a judged assignment in the kernel (for measuring what the judge costs).
    """
    if engine not in ("processes", "dask"):
        raise ValueError(f"engine: expected 'processes' or 'dask', got {engine!r}")
    if os_sandbox and (problem := sandbox.sandbox_problem()):
        raise sandbox.SandboxUnavailable(problem)
    db = course.root / "gradebook.db"
    gradebook.require(db, "before grading")
    limits = limits or sandbox.Limits(cell_timeout=course.timeout)
    results = {s: JobResult(s) for s in students}

    source = nbformat.read(course.root / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    accepted = {}
    for student in students:
        r = results[student]
        try:
            problem = intake.validate(course.root / "submitted", student, assignment)
            got = intake.read_submission(course.root / "submitted" / student / assignment, assignment) \
                if problem is None else intake.Intake(rejected=problem)
            r.lines += got.notes
            if got.ok:
                accepted[student], notes = intake.repair_cells(got.notebook, source)
                r.lines += notes
            else:
                r.status = "rejected"
                r.lines.append(f"rejected: {got.rejected}")
                if progress:
                    progress(student)
        except Exception as exc:  # noqa: BLE001 - our code failed on this submission: not the student's 0
            r.status = ATTENTION
            r.lines.append(f"grader error at intake: {_grader_error(exc)}")

    trusted = [c.source for c in source.cells if c.metadata.get("nbgrader", {}).get("locked")]
    protected = [str(course.root), str(material.root("source")), str(REPO / "tests")]
    modules = [f"autograder.questions.{assignment}"]
    judged = _judged(source, assignment) if os_sandbox and judge else None

    with tempfile.TemporaryDirectory(prefix="xai-sanitize-") as tmp:
        restored = _sanitize(course, assignment, accepted, Path(tmp), workers)
        for student, got in restored.items():
            if got.folder is None:
                r = results[student]
                r.status = ATTENTION if got.grader_fault else "rejected"
                r.lines.append(got.reason if got.grader_fault
                               else f"rejected: nbgrader could not restore its cells: {got.reason}")
                if progress:
                    progress(student)
        sanitized = {s: got.folder for s, got in restored.items() if got.folder is not None}
        jobs = [Job(s, (folder / f"{assignment}.ipynb").read_text(encoding="utf-8"), _data_files(folder),
                    trusted, protected, modules, limits, os_sandbox, judged) for s, folder in sanitized.items()]
        executed = _run(jobs, engine, workers, address, progress)

        # --- the single writer: every execution has ended ------------------------------------
        gradebook.require(db, "after the executions, before scoring")
        for stale in (course.root / EXECUTED).glob(f"*/{assignment}"):   # only this run's notebooks get scored
            shutil.rmtree(stale)
        for job in jobs:
            s, run = job.student, executed[job.student]
            r = results[s]
            if isinstance(run, Exception):
                r.status = ATTENTION
                r.lines.append(f"grader error while executing: {_grader_error(run)}")
                continue
            r.seconds, r.cpu, r.findings, r.log = run.seconds, run.cpu, run.findings, run.log
            r.lines += run.problems
            if not os_sandbox:
                r.lines.insert(0, NOT_ISOLATED)
            text = run.notebook
            if text is not None and not _ran_a_cell(text) and run.problems:
                # not even the instructor's first cell ran: the kernel did not start (a loaded machine,
                # a broken environment or sandbox), which is the grader's failure, not the student's
                r.status = ATTENTION
                r.lines.append("the kernel did not run a single cell")
                continue
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
            if run.verdicts is not None and r.status != "cheating":
                r.unconfirmed = _unconfirmed(source, assignment, run.verdicts, r)
    _score(course, assignment, [j.student for j in jobs if results[j.student].status != ATTENTION], results)
    for s, r in results.items():
        if r.status == "graded" and r.unconfirmed:
            try:
                zeroed = _zero(course, assignment, s, "; ".join(f"{gid}: {why}" for gid, why in r.unconfirmed.items()),
                               only=set(r.unconfirmed))
                r.lines += [f"{gid} scored 0 by the judge: {r.unconfirmed[gid]}" for gid in zeroed]
            except Exception as exc:  # noqa: BLE001 - the gradebook write failed: the grader's fault
                r.status = ATTENTION
                r.lines.append(f"grader error while writing the judge's zeros: {_grader_error(exc)}")
    for s, r in results.items():
        if r.status in ("rejected", "cheating"):
            try:
                _zero(course, assignment, s, "; ".join(r.lines[-1:]))
                r.lines.append("every question scored 0")
            except Exception as exc:  # noqa: BLE001 - the gradebook write failed: the grader's fault
                r.status = ATTENTION
                r.lines.append(f"grader error while writing the zero: {_grader_error(exc)}")
    for r in results.values():
        if r.status == ATTENTION:
            r.lines.append("needs the instructor's attention: the grader failed, no score was written")
    _write_log(course, assignment, results.values())
    gradebook.require(db, "after grading (the scores of this run cannot be trusted)")
    return [results[s] for s in students]


def _score(course: CourseDir, assignment: str, students: list[str], results: dict) -> None:
    """nbgrader scores the executed notebooks of ``students`` into the gradebook: once for the class,
    then once more for each notebook it did not score, to tell which one failed and why."""
    for s in students:   # before nbgrader scores: it keeps a grade with a manual score for review
        if _clear_zero(course, assignment, s) and results[s].status == "graded":
            results[s].lines.append("an earlier zero by the grader was lifted")
    if not students:
        return
    start = time.time()

    def scored(s: str) -> bool:
        out = course.root / "autograded" / s / assignment / f"{assignment}.ipynb"
        return out.is_file() and out.stat().st_mtime >= start - 1

    args = ("autograde", assignment, "--no-execute", "--force", f"--CourseDirectory.submitted_directory={EXECUTED}")
    course.nbgrader(*args, check=False)
    for s in [s for s in students if not scored(s)]:
        proc = course.nbgrader(*args, f"--student={s}", check=False)
        if not scored(s) and results[s].status == "graded":   # nbgrader restored this very notebook
            # before it ran, so the fault is not plainly the student's: the instructor looks
            results[s].status = ATTENTION
            results[s].lines.append(f"nbgrader could not score the executed notebook: {nbgrader_reason(proc)}")


def _executor_lines(text: str) -> list[str]:
    """What the executor wrote to stderr (its tail), without blank lines and the guard's own report lines
    (the log has those as findings already)."""
    return [line.rstrip() for line in text.splitlines() if line.strip() and not line.startswith(guard.TAG)]


def _write_log(course: CourseDir, assignment: str, results) -> Path:
    """One line per decision: ``time assignment student status: what``; then what the submission's executor
    wrote to stderr (``JobResult.log``: the kernel's warnings and errors), each line as ``...: executor: line``."""
    path = course.root / "logs" / f"autograde-{assignment}.log"
    path.parent.mkdir(exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    with path.open("a", encoding="utf-8") as log:
        for r in results:
            for line in r.lines or ["graded"]:
                log.write(f"{stamp} {assignment} {r.student} {r.status}: {line}\n")
            for line in _executor_lines(r.log):
                log.write(f"{stamp} {assignment} {r.student} {r.status}: executor: {line}\n")
    return path
