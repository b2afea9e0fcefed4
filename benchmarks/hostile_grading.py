"""Grading a class with hostile submissions: plain ``nbgrader autograde``, the pipeline without and with its sandbox.

The class is the one of ``tests/test_hostile.py``: the ``bptt`` assignment released by
``demo.prepare``, its three honest demo students (solution, partly wrong, blank) and one student per
case in ``tests/hostile_submissions.CASES`` (infinite loops, a kernel exit, a 64 GiB allocation,
cheating through monkeypatching, a gradebook overwrite, ``rm -rf`` of the other submissions, broken
notebook files, attacks on the gradebook, the neighbours and later runs, ...). The class is built
from scratch for each run, in a temporary directory this script owns, and graded

(a) ``plain``: by plain nbgrader, as an instructor would: ONE ``nbgrader autograde bptt --force`` for
    everybody, with the same per-cell timeout (``ExecutePreprocessor.timeout`` in
    ``nbgrader_config.py``); the hostile code runs unguarded in the course directory, so this run gets
    an address-space limit (``--plain-memory-gib``, RLIMIT_AS, inherited by its kernels) and a wall
    clock (``--plain-wall``) after which its process group is killed;
(b) ``unsandboxed``: by ``parallel.autograde_parallel`` (intake, nbgrader's sanitizing, parallel
    execution under the guard, one gradebook writer) with ``os_sandbox=False``: the pipeline before
    bubblewrap, every kernel a child process with the grader's HOME;
(c) ``sandboxed``: the same in a bubblewrap sandbox per submission, the checks in the kernel;
(d) ``judged``: the same with the grader-side judge beside each sandbox (what ``xai-course grade``
    does: ``bptt`` is in ``autograder.remote.JUDGED``), the kernel holding only the checks' stub.

The runs follow each other in this one process. The whole script runs with HOME and TMPDIR set to
folders of its own temporary directory, so that what a hostile case leaves in a shared HOME or temp
dir (an IPython startup file; the kernels' connection files, which the framer looks for) reaches only
the kernels of this script.

It measures, per submission, the expected total (from the case's ``expect``, with the test cells'
points, as ``tests/test_hostile.py`` computes it) against the total each run put in the gradebook,
and per run: the wall time and the CPU time (user + system of this process and every process it
waited for: the pool's workers, the judges, nbgrader; plus what each sandboxed executor reports
for itself and its kernel, since bubblewrap does not hand its processes' time to its parent;
unlike the wall time it hardly depends on what else the machine runs), ``PRAGMA integrity_check`` of the gradebook, whether every student's
``submitted/`` files and the instructor's ``source/`` are unchanged (SHA-256 before and after), and
whether the run finished at all, the guard's findings on the honest students, and the processes a
cell started that are still alive when the run returns (killed then).

    PATH=$PWD/.venv/bin:$PATH .venv/bin/python benchmarks/hostile_grading.py \\
        [--run plain --run unsandboxed --run sandboxed --run judged] [--workers N] [--cell-timeout 20] [--wall 150]
        [--markdown results.md] [--log-dir DIR]

Takes several minutes (plain nbgrader waits out every timeout one notebook after another).
Nothing outside the temporary directory is written (except ``--markdown`` / ``--log-dir``); the
script refuses to run if a hostile case names a path outside the course it is graded in.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
from autograder.course import demo, parallel, sandbox  # noqa: E402
from autograder.course.coursedir import CONFIG, CourseDir, nbgrader_env  # noqa: E402
from hostile_submissions import ASSIGNMENT, CASES, ORPHAN_MARKER, expected_scores, hand_in, processes_with  # noqa: E402

GiB = 1 << 30
HONEST = list(demo.STUDENTS)


# --- building the class -----------------------------------------------------------------------------

@dataclass
class Class:
    course: CourseDir
    tests: dict                                    # {grade_id: points}
    students: list
    expected: dict                                 # student -> {grade_id: points}
    submitted_before: dict = field(default_factory=dict)   # student -> digest of submitted/<student>
    source_before: dict = field(default_factory=dict)


def _digest(folder: Path) -> dict:
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _check_paths(case_name: str, content: str, correct: str, root: Path) -> None:
    """Refuse to run a case that names an absolute path outside the course (or the repository)."""
    if str(REPO) in content and str(REPO) not in correct:
        raise SystemExit(f"refusing to run: case {case_name!r} names the repository {REPO}")
    known = set(re.findall(r"""['"](/[^'"\\]*)['"]""", correct))
    for path in set(re.findall(r"""['"](/[^'"\\]*)['"]""", content)) - known:
        if not Path(path).resolve().is_relative_to(root.resolve()):
            raise SystemExit(f"refusing to run: case {case_name!r} names {path}, outside the course {root}")


def build(root: Path, cell_timeout: int, tmp: Path, cases: list) -> Class:
    """The class of tests/test_hostile.py's ``graded`` fixture at ``root``, per-cell timeout ``cell_timeout``."""
    assert root.resolve().is_relative_to(tmp.resolve()), (root, tmp)
    rt = demo.prepare(root, [ASSIGNMENT], progress=False)
    course = rt.course
    course.timeout = cell_timeout
    (course.root / "nbgrader_config.py").write_text(CONFIG.format(root=str(course.root), timeout=cell_timeout))
    correct = (course.root / "submitted" / "solution" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    hand_in(course, lambda name, data: _check_paths(name, data.decode("latin-1"), correct, course.root), cases)
    tests = rt.tests[ASSIGNMENT]
    expected = {s: rt.expected[(s, ASSIGNMENT)] for s in HONEST}
    expected.update({c.name: expected_scores(c, tests) for c in cases})
    students = HONEST + [c.name for c in cases]
    cls = Class(course, tests, students, expected)
    cls.submitted_before = {s: _digest(course.root / "submitted" / s) for s in students}
    cls.source_before = _digest(course.root / "source")
    return cls


# --- one run and what it left behind ----------------------------------------------------------------

@dataclass
class Outcome:
    name: str
    wall: float = 0.0
    cpu: float = 0.0                             # user + system seconds, this process and its waited-for children
    finished: str = ""                           # how the run ended
    scores: dict | None = None                   # student -> {grade_id: score or None}
    scores_error: str = ""
    integrity: str = ""
    changed: list = field(default_factory=list)  # students whose submitted/ files changed or vanished
    source_intact: bool = True
    leftovers: list = field(default_factory=list)
    results: dict = field(default_factory=dict)  # pipeline runs: student -> JobResult
    log_excerpt: list = field(default_factory=list)
    orphans: int = 0                             # processes a cell started, alive when the run returned


def _integrity(db: Path) -> str:
    if not db.is_file():
        return "gradebook.db missing"
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        return "ok" if rows == ["ok"] else "; ".join(rows)[:200]
    except sqlite3.Error as err:
        return f"{type(err).__name__}: {err}"


def _read_scores(course: CourseDir) -> tuple[dict | None, str]:
    try:
        got = course.scores()
    except Exception as err:   # a corrupted or overwritten gradebook
        return None, f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
    return {s: {gid: sc for gid, (sc, _) in v.items()} for (s, a), v in got.items() if a == ASSIGNMENT}, ""


def _leftover_processes(tmp: Path) -> list[int]:
    """Processes (ours: the kernels plain nbgrader started) still running with a cwd in ``tmp``."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if entry.stat().st_uid != os.getuid():
                continue
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if cwd.is_relative_to(tmp) or str(cwd).startswith(str(tmp)):
            out.append(int(entry.name))
    return out


def _kill_leftovers(tmp: Path) -> list[str]:
    killed = []
    for pid in _leftover_processes(tmp):
        try:
            cmd = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
            os.kill(pid, signal.SIGKILL)
            killed.append(f"{pid}: {cmd}")
        except OSError:
            pass
    return killed


def finish(outcome: Outcome, cls: Class, tmp: Path) -> Outcome:
    root = cls.course.root
    orphans = processes_with(ORPHAN_MARKER)
    outcome.orphans = len(orphans)
    for pid in orphans:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    outcome.leftovers = _kill_leftovers(tmp)
    outcome.integrity = _integrity(root / "gradebook.db")
    outcome.scores, outcome.scores_error = _read_scores(cls.course)
    outcome.changed = [s for s in cls.students if _digest(root / "submitted" / s) != cls.submitted_before[s]]
    outcome.source_intact = _digest(root / "source") == cls.source_before
    return outcome


def plain_run(cls: Class, tmp: Path, wall: int, memory: int, log_path: Path) -> Outcome:
    """ONE ``nbgrader autograde bptt --force`` under RLIMIT_AS ``memory`` and a wall clock ``wall``."""
    outcome = Outcome("plain nbgrader")
    env = nbgrader_env()
    env["JUPYTER_RUNTIME_DIR"] = str(tmp / "jupyter-runtime")   # the kernels' connection files, in here too

    def limits():
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    start, cpu = time.perf_counter(), cpu_seconds()
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "nbgrader", "autograde", ASSIGNMENT, "--force"],
                                cwd=cls.course.root, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=limits)
        try:
            rc = proc.wait(timeout=wall)
            outcome.finished = f"exit status {rc}"
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            outcome.finished = f"did not finish within {wall} s; killed"
    outcome.wall, outcome.cpu = time.perf_counter() - start, cpu_seconds() - cpu
    text = log_path.read_text(errors="replace")
    seen = []
    for line in text.splitlines():
        if "ERROR" in line or "CRITICAL" in line:
            short = line.strip()[:220]
            if short not in seen:
                seen.append(short)
    outcome.log_excerpt = seen[:40]
    return finish(outcome, cls, tmp)


def cpu_seconds() -> float:
    """User + system time of this process and of every child it (or they) waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def pipeline_run(name: str, cls: Class, tmp: Path, workers: int, limits: sandbox.Limits, os_sandbox: bool,
                 judge: bool) -> Outcome:
    outcome = Outcome(name)
    start, cpu = time.perf_counter(), cpu_seconds()
    try:
        results = parallel.autograde_parallel(cls.course, ASSIGNMENT, cls.students, workers=workers, limits=limits,
                                              os_sandbox=os_sandbox, judge=judge)
        outcome.results = {r.student: r for r in results}
        outcome.finished = "returned"
        if os_sandbox:   # what the sandboxes used, which getrusage does not see
            outcome.cpu += sum(r.cpu for r in results)
    except Exception:
        outcome.finished = "raised: " + traceback.format_exc().strip().splitlines()[-1][:200]
        outcome.log_excerpt = traceback.format_exc().splitlines()[-20:]
    outcome.wall, outcome.cpu = time.perf_counter() - start, outcome.cpu + cpu_seconds() - cpu
    return finish(outcome, cls, tmp)


# --- the report -------------------------------------------------------------------------------------

def _total(scores: dict | None, student: str, tests: dict) -> str:
    """The autograded total; ``-`` for no submission, ``(+n ungraded)`` for test cells left to a person."""
    if scores is None:
        return "unreadable"
    got = scores.get(student)
    if got is None:
        return "-"
    pending = [gid for gid in tests if got.get(gid) is None]
    total = sum(got.get(gid) or 0.0 for gid in tests)
    return f"{total:g}" + (f" (+{len(pending)} ungraded)" if pending else "")


def _as_expected(scores: dict | None, student: str, want: dict) -> bool:
    if scores is None or student not in scores:
        return False
    got = scores[student]
    return all(got.get(gid) is not None and abs(got[gid] - pts) < 1e-9 for gid, pts in want.items())


def rows(cls: Class, runs: list[Outcome]) -> list[list[str]]:
    """One row per student: expected, each run's total, and the last pipeline run's status and log."""
    out = []
    full = sum(cls.tests.values())
    kinds = {c.name: (c.expect if isinstance(c.expect, str) else "partial") for c in CASES}  # all, skipped too
    kinds.update({"solution": "full", "blank": "zero", "partial": "partial"})
    last = [r for r in runs if r.name != PLAIN][-1:]
    for s in cls.students:
        want = cls.expected[s]
        row = [s, f"{sum(want.values()):g}/{full:g} {kinds[s]}"]
        for run in runs:
            row.append(_total(run.scores, s, cls.tests) + (" ok" if _as_expected(run.scores, s, want) else " WRONG"))
        for run in last:
            r = run.results.get(s)
            row += [r.status if r else "-", (r.lines[0] if r and r.lines else ("graded" if r else "-"))]
        out.append(row)
    return out


def header(runs: list[Outcome]) -> list[str]:
    last = [r.name for r in runs if r.name != PLAIN][-1:]
    return (["submission", "expected", *[r.name for r in runs]]
            + [h for n in last for h in (f"{n}: status", f"{n}: first log line")])


def text_table(head: list[str], table: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [head] + table) for i in range(len(head) - 1)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths) + "  {}"
    lines = [fmt.format(*head), "-" * (sum(widths) + 2 * len(widths) + len(head[-1]))]
    lines += [fmt.format(*r) for r in table]
    return "\n".join(lines)


def md_table(head: list[str], table: list[list[str]]) -> str:
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in table]
    return "\n".join(lines)


def summary(cls: Class, runs: list[Outcome]) -> list[str]:
    out = []
    n, hostile = len(cls.students), [s for s in cls.students if s not in HONEST]
    for run in runs:
        ok = [s for s in cls.students if _as_expected(run.scores, s, cls.expected[s])]
        out.append(f"{run.name}: {run.finished}; wall {run.wall:.1f} s, CPU {run.cpu:.1f} s")
        out.append(f"  scored as expected: {len(ok)}/{n} submissions "
                   f"({len([s for s in ok if s in hostile])}/{len(hostile)} hostile cases, "
                   f"{len([s for s in ok if s in HONEST])}/{len(HONEST)} honest students)")
        if run.scores is None:
            out.append(f"  gradebook unreadable with nbgrader.api.Gradebook: {run.scores_error}")
        else:
            missing = [s for s in cls.students if s not in run.scores]
            out.append(f"  students with no autograded submission in the gradebook: {len(missing)}"
                       + (f" ({', '.join(missing)})" if missing else ""))
        out.append(f"  gradebook PRAGMA integrity_check: {run.integrity}")
        out.append(f"  submitted files intact: {n - len(run.changed)}/{n} students"
                   + (f"; changed or deleted: {', '.join(run.changed)}" if run.changed else ""))
        out.append(f"  instructor's source/ intact: {run.source_intact}")
        if run.results:
            found = {s: len(run.results[s].findings) for s in HONEST if s in run.results}
            out.append(f"  guard findings on the honest students: {found}")
        out.append(f"  processes started from a cell still alive when the run returned: {run.orphans}")
        if run.leftovers:
            out.append(f"  processes left running afterwards (killed): {len(run.leftovers)}: "
                       + "; ".join(run.leftovers))
    return out


PLAIN, UNSANDBOXED, SANDBOXED = "plain nbgrader", "pipeline, no OS sandbox", "pipeline, bwrap sandbox"
JUDGED = "pipeline, bwrap sandbox + judge"
RUNS = {"plain": PLAIN, "unsandboxed": UNSANDBOXED, "sandboxed": SANDBOXED, "judged": JUDGED}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", choices=list(RUNS),
                        help="which runs, in this order (repeatable; default: all four)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--cell-timeout", type=int, default=20, help="seconds per cell, every run (default 20)")
    parser.add_argument("--wall", type=int, default=150, help="seconds per notebook, pipeline runs (default 150)")
    parser.add_argument("--plain-wall", type=int, default=900,
                        help="seconds for the whole plain nbgrader run before it is killed (default 900)")
    parser.add_argument("--plain-memory-gib", type=float, default=8,
                        help="RLIMIT_AS of plain nbgrader and its kernels, GiB (default 8)")
    parser.add_argument("--skip", action="append", default=[], choices=[c.name for c in CASES],
                        help="leave a case out of every run (repeatable), e.g. shell-escape, which deletes "
                             "the other submissions under plain nbgrader and so hides what it does with them")
    parser.add_argument("--markdown", type=Path, help="also write the table and summary as markdown here")
    parser.add_argument("--log-dir", type=Path, help="keep nbgrader's output and the pipelines' logs here")
    args = parser.parse_args()
    cases = [c for c in CASES if c.name not in args.skip]
    chosen = args.run or list(RUNS)
    if {"sandboxed", "judged"} & set(chosen) and (problem := sandbox.sandbox_problem()):
        raise SystemExit(f"cannot run the sandboxed pipeline: {problem}")

    machine = (f"machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} cores, "
               f"python {platform.python_version()}")
    setup = (f"'{ASSIGNMENT}': {len(HONEST)} honest students + {len(cases)} hostile cases"
             f"{' (skipped: ' + ', '.join(args.skip) + ')' if args.skip else ''}; per-cell timeout "
             f"{args.cell_timeout} s (every run); pipeline runs: {args.workers} workers, wall {args.wall} s per "
             f"notebook; plain run: one 'nbgrader autograde {ASSIGNMENT} --force', RLIMIT_AS "
             f"{args.plain_memory_gib:g} GiB, killed after {args.plain_wall} s; runs: {', '.join(chosen)}")
    print(machine)
    print(setup, flush=True)
    limits = sandbox.Limits(cell_timeout=args.cell_timeout, wall=args.wall)

    runs, classes = [], []
    with tempfile.TemporaryDirectory(prefix="xai-hostile-bench-") as tmp_name:
        tmp = Path(tmp_name).resolve()
        (tmp / "home").mkdir()
        (tmp / "tmp").mkdir()
        # What a case leaves in a shared HOME or temp dir (a startup file, kernels' connection files)
        # reaches only this script's kernels, never those of anything else on the machine.
        os.environ["HOME"], os.environ["TMPDIR"] = str(tmp / "home"), str(tmp / "tmp")
        for key in chosen:
            t0 = time.perf_counter()
            cls = build(tmp / key / "course", args.cell_timeout, tmp, cases)
            print(f"\nbuilt the class for the {key} run in {time.perf_counter() - t0:.1f} s; grading ...", flush=True)
            if key == "plain":
                run = plain_run(cls, tmp, args.plain_wall, int(args.plain_memory_gib * GiB), tmp / "plain-nbgrader.log")
            else:
                run = pipeline_run(RUNS[key], cls, tmp, args.workers, limits, os_sandbox=key != "unsandboxed",
                                   judge=key == "judged")
            print(f"{run.name}: {run.finished}, {run.wall:.1f} s", flush=True)
            runs.append(run)
            classes.append(cls)
            if args.log_dir:
                args.log_dir.mkdir(parents=True, exist_ok=True)
                if key == "plain":
                    shutil.copy2(tmp / "plain-nbgrader.log", args.log_dir / "plain-nbgrader.log")
                log = cls.course.root / "logs" / f"autograde-{ASSIGNMENT}.log"
                if log.is_file():
                    shutil.copy2(log, args.log_dir / f"{key}-autograde-{ASSIGNMENT}.log")

    cls = classes[0]
    full = sum(cls.tests.values())
    head, table = header(runs), rows(cls, runs)
    lines = summary(cls, runs)
    print(f"\nautograded totals (out of {full:g}); 'ok' = every question scored as expected\n")
    print(text_table(head, table))
    print("\nwall time: " + ", ".join(f"{r.name} {r.wall:.1f} s" for r in runs))
    print("CPU time: " + ", ".join(f"{r.name} {r.cpu:.1f} s" for r in runs) + "\n")
    print("\n".join(lines))
    for run in runs:
        if run.log_excerpt:
            print(f"\n{run.name}: ERROR lines or failure (first 40, deduplicated):")
            print("\n".join("  " + line for line in run.log_excerpt))

    if args.markdown:
        md = ["# Hostile submissions: plain nbgrader vs the pipeline without and with its OS sandbox", "",
              machine, "", setup, "", f"Autograded totals out of {full:g}; `ok` = every question scored as expected.",
              "", md_table(head, table), "", "```", *lines, "```", ""]
        args.markdown.write_text("\n".join(md), encoding="utf-8")
        print(f"\nmarkdown: {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
