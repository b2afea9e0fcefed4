"""Execute one submitted notebook in an operating-system sandbox, with limits.

``nbgrader autograde`` runs a submission's kernel inside the course directory, next to the gradebook,
the instructor's notebooks and every other student's files, with no limit on memory and only a
per-cell timeout. Here the notebook (already sanitized by nbgrader: the instructor's locked and test
cells restored) runs

* inside **bubblewrap** (``bwrap``): new user, mount, PID, network, IPC and UTS namespaces. The
  kernel sees the Python environment and the system directories read-only (``readonly_paths``), a
  fresh size-limited tmpfs at ``/job`` (``/job/work`` its working copy, ``/job/home`` its HOME,
  ``/job/tmp`` its TMPDIR) and a private tmpfs at ``/tmp`` as the only writable places, only a loopback network, and nothing of the
  course, the gradebook, the other submissions, the real home or the repository beyond the two
  packages it imports. The notebook and the assignment's data files come in on stdin, the executed
  notebook goes out on stdout (a descriptor the kernel does not inherit), the guard's reports on
  stderr: no file of one job is visible to another. When the executor ends, the sandbox's PID
  namespace ends and every process a cell started is killed with it (``--die-with-parent`` also
  when the grader dies);
* under resource limits that its kernel inherits: address space (``memory``), largest file
  (``file_size``), size of the tmpfs (``disk``), no core dumps; the whole job has a wall clock
  (``wall``) after which it is killed;
* with nbgrader's own ``Execute`` preprocessor (``allow_errors``, interrupt on a cell timeout), and
  the in-kernel tripwire ``autograder.course.guard`` installed before the first cell.

With ``judged`` (an assignment of ``autograder.remote.JUDGED``) the checks are not in the sandbox:
a stub package is bound read-only over ``autograder/questions``, and a judge process
(``autograder.remote.judge``) runs beside the sandbox with the real checks, reached over a Unix
socket bound at ``/job/judge.sock`` (``$XAI_JUDGE``); its socket and its record of verdicts live in
a folder of the grader's that the sandbox does not see (``Execution.verdicts``).

Afterwards every test cell that never ran (the kernel died, the wall clock ran out) gets an error
output, so that ``nbgrader autograde --no-execute`` scores it zero instead of full marks, and each
output is cut to ``output_chars``.

Without the sandbox (``execute(..., os_sandbox=False)``, the instructor's ``--no-os-sandbox``) the
same executor runs as a plain child process in a working copy in the shared temp dir, with the real
HOME: the pipeline of before, not isolated. ``sandbox_problem()`` says why bubblewrap cannot run here.

Run as ``python -m autograder.course.sandbox`` (the job as JSON on stdin); ``execute`` does that.
"""
from __future__ import annotations

import base64
import functools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from . import guard

GiB = 1 << 30
BWRAP = "XAI_BWRAP"       # the bubblewrap binary to use (default: ``bwrap`` on PATH)
JOB = "/job"              # the sandbox's tmpfs: work/ (the cwd), home/ (HOME), tmp/ (TMPDIR)
# What of /etc a Python process needs: the dynamic linker's cache, names of users and hosts, the
# time zone, fontconfig. Not the rest (shadow files, keys, the machine's configuration).
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "nsswitch.conf", "passwd", "group", "hosts",
       "localtime", "alternatives", "mime.types", "fonts")
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create its namespaces on this machine."""


@dataclass
class Limits:
    cell_timeout: int = 120           # seconds per cell (nbgrader's ExecutePreprocessor.timeout)
    wall: int = 900                   # seconds for the whole notebook, kernel start included
    memory: int = 6 * GiB             # address space of the executor and its kernel (RLIMIT_AS)
    file_size: int = 256 << 20        # largest file the kernel may write (RLIMIT_FSIZE)
    disk: int = 1 * GiB               # size of the sandbox's tmpfs /job (working copy, HOME, TMPDIR), and of /tmp
    output_chars: int = 20_000        # text output kept per cell


@dataclass
class Execution:
    notebook: str | None              # the executed notebook (JSON text), None if nothing came back
    seconds: float
    findings: list = field(default_factory=list)    # the guard's reports: {"kind", "detail"}
    problems: list = field(default_factory=list)    # what went wrong while executing, for the log
    log: str = ""                     # the executor's stderr (tail), for the instructor
    verdicts: list | None = None      # the grader-side judge's record; None: the checks ran in the kernel
    cpu: float = 0.0                  # CPU seconds of the executor and its kernel (bwrap does not pass them on)


def _rlimits(limits: Limits) -> dict[int, tuple[int, int]]:
    return {resource.RLIMIT_AS: (limits.memory, limits.memory),
            resource.RLIMIT_FSIZE: (limits.file_size, limits.file_size),
            resource.RLIMIT_CORE: (0, 0)}


def _set_limits(limits: Limits):
    def apply():
        for which, values in _rlimits(limits).items():
            resource.setrlimit(which, values)
    return apply


def kernel_environment(home: str | None = None, tmp: str | None = None) -> dict:
    """The environment of the executor and its kernel: no course paths, one BLAS thread; ``home``
    and ``tmp`` (the sandbox's own) replace the grader's HOME and TMPDIR."""
    keep = ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ", "PYTHONPATH", "VIRTUAL_ENV", "MPLBACKEND",
            "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MPLBACKEND", "Agg")
    env["PYTHONUNBUFFERED"] = "1"
    if home:
        env["HOME"] = home
    if tmp:
        env["TMPDIR"] = tmp
    return env


# --- the sandbox ----------------------------------------------------------------------------------

def readonly_paths() -> list[str]:
    """What the sandbox mounts read-only beside the system directories: the Python environment
    (``sys.prefix``, ``sys.base_prefix``) and the folders of the two packages the kernel imports
    (an editable install leaves them in the repository, whose other folders stay out of sight)."""
    out = []
    for p in sorted({os.path.realpath(p) for p in _environment_paths()}):
        if not any(p == q or p.startswith(q + os.sep) for q in out) and not p.startswith(SYSTEM):
            out.append(p)
    return out


def _environment_paths() -> list[str]:
    import autograder
    import reference

    return [sys.prefix, sys.base_prefix, str(Path(autograder.__file__).parent), str(Path(reference.__file__).parent)]


def symlinked_paths() -> list[tuple[str, str]]:
    """``(real path, path as the grader names it)`` for each environment path reached through a
    symlink (a venv that is a link to another): the kernel is started by the name, so the real folder
    is bound there too."""
    pairs = {(os.path.realpath(p), os.path.abspath(p)) for p in _environment_paths()}
    return sorted((real, named) for real, named in pairs if real != named and not named.startswith(SYSTEM))


@functools.cache
def font_cache() -> str | None:
    """The grader's matplotlib font list (built now if missing), which every sandbox gets read-only:
    a fresh HOME would otherwise rebuild it in every job that plots (about a second each)."""
    try:
        import matplotlib
        from matplotlib import font_manager
    except ImportError:
        return None
    path = Path(matplotlib.get_cachedir()) / f"fontlist-v{font_manager.FontManager.__version__}.json"
    return str(path) if path.is_file() else None


def bwrap_command(binary: str, limits: Limits, env: dict, binds: list[tuple[str, str]] = ()) -> list[str]:
    """``bwrap`` and its arguments for one job (the command to run inside follows); ``binds``:
    ``(source, target)`` mounted read-only over what is already there (the judge's stub and socket)."""
    # a user namespace always (not only "if possible"), and no capabilities in it: a grader run as
    # root must not hand the kernel the right to remount what it sees
    argv = [binary, "--unshare-all", "--unshare-user", "--cap-drop", "ALL", "--die-with-parent",
            "--new-session", "--hostname", "grading",
            "--proc", "/proc", "--dev", "/dev",
            "--size", str(limits.disk), "--tmpfs", JOB,
            "--dir", f"{JOB}/work", "--dir", f"{JOB}/home", "--dir", f"{JOB}/tmp",
            # /tmp: a tmpfs of its own, mounted before the read-only binds, so that an environment or
            # a checkout that itself lives under /tmp (a CI clone, a scratch venv) is bound inside it
            "--size", str(limits.disk), "--tmpfs", "/tmp"]
    for path in SYSTEM:
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            argv += ["--ro-bind", path, path]
    for name in ETC:
        if os.path.exists(f"/etc/{name}"):
            argv += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    for path in readonly_paths():
        argv += ["--ro-bind", path, path]
    for real, named in symlinked_paths():
        argv += ["--ro-bind", real, named]
    for source, target in binds:
        argv += ["--ro-bind", source, target]
    if font_cache():
        argv += ["--ro-bind", font_cache(), f"{JOB}/home/.cache/matplotlib/{Path(font_cache()).name}"]
    argv += ["--remount-ro", "/", "--chdir", f"{JOB}/work", "--clearenv"]
    for key, value in env.items():
        argv += ["--setenv", key, value]
    return argv


def bwrap_binary() -> str | None:
    return os.environ.get(BWRAP) or shutil.which("bwrap")


@functools.cache
def _probe(binary: str | None) -> str | None:
    if binary is None or not os.access(binary, os.X_OK):
        return (f"bubblewrap ('bwrap') was not found{f' at {binary}' if binary else ' on PATH'} "
                f"(Debian package 'bubblewrap', or set ${BWRAP})")
    try:
        run = subprocess.run(bwrap_command(binary, Limits(), {"PATH": "/usr/bin:/bin"}) + ["true"],
                             capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"{binary} could not be run: {err}"
    if run.returncode:
        return (f"{binary} cannot create its namespaces here (are unprivileged user namespaces "
                f"disabled?): {run.stderr.strip()[:300] or f'exit status {run.returncode}'}")
    return None


def sandbox_problem() -> str | None:
    """Why bubblewrap cannot isolate a job on this machine, or None if it can (probed once)."""
    return _probe(bwrap_binary())


@dataclass
class Judged:
    """The checks of ``module`` run at the grader (:mod:`autograder.remote`): ``stubs`` is the stub
    package (path -> content, from ``autograder.remote.stubs.build``) the kernel sees instead of
    ``autograder/questions``."""
    module: str
    stubs: dict


def questions_dir() -> str:
    import autograder

    return os.path.realpath(Path(autograder.__file__).parent / "questions")


def execute(notebook_text: str, *, trusted_sources: list[str], protected: list[str],
            modules: list[str] = (), files: dict[str, bytes] | None = None,
            limits: Limits | None = None, os_sandbox: bool = True, judged: Judged | None = None) -> Execution:
    """Execute ``notebook_text`` in the sandbox (see the module docstring); never raises for the
    submission's sake: whatever happens is in ``Execution.problems``. Raises ``SandboxUnavailable``
    if ``os_sandbox`` and bubblewrap cannot run. With ``judged`` (and the sandbox), a judge process
    runs beside it and its verdicts are in ``Execution.verdicts``."""
    limits = limits or Limits()
    job = json.dumps({
        "notebook": notebook_text, "limits": asdict(limits),
        "files": {name: base64.b64encode(data).decode() for name, data in (files or {}).items()},
        "guard": {"protected": list(protected), "trusted_sources": trusted_sources, "modules": list(modules)}})
    executor = [sys.executable, "-m", "autograder.course.sandbox"]
    start = time.perf_counter()
    if os_sandbox:
        problem = sandbox_problem()
        if problem:
            raise SandboxUnavailable(problem)
        env = kernel_environment(home=f"{JOB}/home", tmp=f"{JOB}/tmp")
        env["PYTHONDONTWRITEBYTECODE"] = "1"   # the packages are read-only in there
        if judged is None:
            return _run(bwrap_command(bwrap_binary(), limits, env) + executor, None, {}, job, limits, start)
        return _judged(judged, env, executor, job, limits, start)
    with tempfile.TemporaryDirectory(prefix="xai-work-") as work:
        return _run(executor, work, kernel_environment(), job, limits, start)


def _judged(judged: Judged, env: dict, executor: list[str], job: str, limits: Limits, start: float) -> Execution:
    """The sandboxed run with a judge beside it: the stub package over ``autograder/questions`` and the
    judge's socket at ``/job/judge.sock``; the record stays in a folder of the grader's."""
    from autograder.remote import judge, kernel

    with tempfile.TemporaryDirectory(prefix="xai-judge-") as folder:   # mode 0700: the grader's alone
        stubs = Path(folder) / "stubs"
        for name, content in judged.stubs.items():
            (stubs / name).parent.mkdir(parents=True, exist_ok=True)
            (stubs / name).write_bytes(content)
        with judge.running(Path(folder), judged.module, kernel_environment(), _rlimits(limits)) as j:
            binds = [(str(stubs), questions_dir()), (str(j.socket), f"{JOB}/{judge.SOCKET}")]
            argv = bwrap_command(bwrap_binary(), limits, {**env, kernel.ENV: f"{JOB}/{judge.SOCKET}"}, binds)
            run = _run(argv + executor, None, {}, job, limits, start)
        run.verdicts = j.verdicts()
        if j.problem:   # the grader's failure, never the student's 0
            run.verdicts.append({"check": None, "options": {}, "passed": False, "fault": "grader",
                                 "message": f"{j.problem}: {j.log()[-600:]}"})
    return run


def _run(argv, cwd, env, job: str, limits: Limits, start: float) -> Execution:
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, preexec_fn=_set_limits(limits))
    problems = []
    try:
        out, err = proc.communicate(job.encode(), timeout=limits.wall)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        out, err = proc.communicate()
        problems.append(f"the notebook did not finish within the wall clock of {limits.wall} s; killed")
    text = err.decode("utf-8", "replace")
    try:
        data = json.loads(out) if out else {}
    except json.JSONDecodeError:
        data = {}
        problems.append("the executor's result was not readable")
    if proc.returncode and not data:
        problems.append(f"the executor exited with status {proc.returncode}"
                        + (" (killed: out of memory?)" if proc.returncode == -signal.SIGKILL else ""))
    return Execution(data.get("notebook"), time.perf_counter() - start, guard.read_report(text),
                     problems + data.get("problems", []), text[-4000:], cpu=float(data.get("cpu", 0.0)))


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# --- the child process ----------------------------------------------------------------------------

def mark_unexecuted(nb, reason: str) -> int:
    """Give every test cell that did not run an error output; returns how many."""
    count = 0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution") \
                and cell.get("execution_count") is None:
            cell.outputs = [nbformat.v4.new_output("error", ename="NotExecuted", evalue=reason,
                                                   traceback=[f"NotExecuted: {reason}"])]
            count += 1
    return count


def _timeouts(nb, seconds: int) -> list[str]:
    """A line for each cell that nbgrader interrupted at the per-cell timeout."""
    out = []
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error" and o.get("ename") in ("CellTimeoutError", "KeyboardInterrupt"):
                where = cell.metadata.get("nbgrader", {}).get("grade_id") or f"#{i}"
                out.append(f"cell {where} hit the per-cell timeout ({seconds} s) and was interrupted")
                break
    return out


def _merge_streams(outputs):
    """Consecutive stream outputs of one name (stdout, stderr) as one output."""
    merged, pieces = [], []
    for out in outputs:
        text = out.get("text")
        text = "".join(text) if isinstance(text, list) else text
        if out.get("output_type") == "stream" and merged and merged[-1].get("output_type") == "stream" \
                and merged[-1].get("name") == out.get("name"):
            pieces[-1].append(text)
        else:
            merged.append(out)
            pieces.append([text] if out.get("output_type") == "stream" else None)
    for out, parts in zip(merged, pieces):
        if parts is not None:
            out["text"] = "".join(parts)
    return merged


def _cut_outputs(nb, limit: int) -> None:
    """Keep at most ``limit`` characters of text output per cell (nbgrader's LimitOutput counts lines,
    and a million short prints are a million outputs); large non-image data is dropped."""
    for cell in nb.cells:
        budget, kept = limit, []
        for out in _merge_streams(cell.get("outputs", [])):
            if "text" in out:   # a stream, merged above
                text = out["text"]
                if budget <= 0:
                    continue
                out["text"] = text[:budget] + (f"\n... output cut at {limit} characters ..." if len(text) > budget else "")
                budget -= len(text)
            for mime, value in out.get("data", {}).items():
                if isinstance(value, str) and len(value) > limit and not mime.startswith("image/"):
                    out["data"][mime] = value[:limit] + "\n... output cut ..."
            if "traceback" in out:
                out["traceback"] = [line[:limit] for line in out["traceback"][:100]]
            kept.append(out)
        if cell.cell_type == "code":
            cell.outputs = kept


def _child() -> int:
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from nbgrader.preprocessors import Execute

    result = os.fdopen(os.dup(1), "w", encoding="utf-8")   # not inherited by the kernel
    os.dup2(2, 1)                                           # what the kernel writes to fd 1 goes to the log
    job = json.loads(sys.stdin.read())
    work, limits = Path.cwd(), Limits(**job["limits"])
    for name, data in job["files"].items():   # the data files the notebook reads
        target = work / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(data))
    nb = nbformat.reads(job["notebook"], as_version=4)
    (work / "submission.ipynb").write_text(job["notebook"], encoding="utf-8")
    for cell in nb.cells:   # outputs the student handed in prove nothing
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    os.environ[guard.ENV] = json.dumps(job["guard"])
    executor = Execute(timeout=limits.cell_timeout, extra_arguments=guard.kernel_arguments())
    problems, complete = [], False
    try:
        executor.preprocess(nb, {"metadata": {"path": str(work)}})
        complete = True
    except DeadKernelError:
        problems.append("the kernel died (os._exit, a crash or the memory limit)")
    except CellTimeoutError:
        problems.append(f"a cell ran past the per-cell timeout ({limits.cell_timeout} s) and ignored the "
                        f"interrupt; execution stopped there")
    except Exception as exc:   # the executor's own failure must still produce a result
        problems.append(f"execution stopped: {type(exc).__name__}: {str(exc)[:300]}")
    if not complete:   # problems[0] says why execution stopped
        n = mark_unexecuted(nb, problems[0])
        problems[0] += f"; {n} test cell(s) not executed, scored 0"
    problems += _timeouts(nb, limits.cell_timeout)
    _cut_outputs(nb, limits.output_chars)
    used = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum(u.ru_utime + u.ru_stime for u in used)   # the kernel included: it has been waited for
    result.write(json.dumps({"notebook": nbformat.writes(nb), "problems": problems, "cpu": cpu}))
    result.close()
    return 0


if __name__ == "__main__":
    sys.exit(_child())
