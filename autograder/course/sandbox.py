"""Execute one submitted notebook in its own process and working copy, with limits.

``nbgrader autograde`` runs a submission's kernel inside the course directory, next to the gradebook,
the instructor's notebooks and every other student's files, with no limit on memory and only a
per-cell timeout. Here the notebook (already sanitized by nbgrader: the instructor's locked and test
cells restored) runs

* in a **child process** of its own, in a new session, under resource limits that its kernel inherits:
  address space (``memory``), largest file (``file_size``), no core dumps; the whole job has a wall
  clock (``wall``) after which the process group is killed;
* in an **empty working copy** in the temp dir holding only the notebook and the assignment's data
  files: the course is not below it and its path is not in the kernel's environment;
* with nbgrader's own ``Execute`` preprocessor (``allow_errors``, interrupt on a cell timeout), and
  the in-kernel tripwire ``autograder.course.guard`` installed before the first cell.

Afterwards every test cell that never ran (the kernel died, the wall clock ran out) gets an error
output, so that ``nbgrader autograde --no-execute`` scores it zero instead of full marks, and each
output is cut to ``output_chars``.

Run as ``python -m autograder.course.sandbox JOB.json``; ``execute`` does that and reads the result.
"""
from __future__ import annotations

import json
import os
import resource
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


@dataclass
class Limits:
    cell_timeout: int = 120           # seconds per cell (nbgrader's ExecutePreprocessor.timeout)
    wall: int = 900                   # seconds for the whole notebook, kernel start included
    memory: int = 6 * GiB             # address space of the executor and its kernel (RLIMIT_AS)
    file_size: int = 256 << 20        # largest file the kernel may write (RLIMIT_FSIZE)
    output_chars: int = 20_000        # text output kept per cell


@dataclass
class Execution:
    notebook: str | None              # the executed notebook (JSON text), None if nothing came back
    seconds: float
    findings: list = field(default_factory=list)    # the guard's reports: {"kind", "detail"}
    problems: list = field(default_factory=list)    # what went wrong while executing, for the log
    log: str = ""                     # the executor's stderr (tail), for the instructor


def _set_limits(limits: Limits):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory, limits.memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size, limits.file_size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def kernel_environment() -> dict:
    """The environment of the executor and its kernel: no course paths, one BLAS thread."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "PYTHONPATH", "VIRTUAL_ENV", "MPLBACKEND",
            "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MPLBACKEND", "Agg")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def execute(notebook_text: str, *, trusted_sources: list[str], protected: list[str],
            modules: list[str] = (), files: dict[str, bytes] | None = None,
            limits: Limits | None = None) -> Execution:
    """Execute ``notebook_text`` in a child process (see the module docstring); never raises for the
    submission's sake: whatever happens is in ``Execution.problems``."""
    limits = limits or Limits()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="xai-job-") as private, \
            tempfile.TemporaryDirectory(prefix="xai-work-") as work:
        job = Path(private) / "job.json"
        result = Path(private) / "result.json"
        (Path(work) / "submission.ipynb").write_text(notebook_text, encoding="utf-8")
        for name, data in (files or {}).items():   # data files the notebook reads
            target = Path(work) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        job.write_text(json.dumps({
            "work": work, "result": str(result), "limits": asdict(limits),
            "guard": {"protected": [*protected, private], "trusted_sources": trusted_sources,
                      "modules": list(modules)}}))
        proc = subprocess.Popen([sys.executable, "-m", "autograder.course.sandbox", str(job)], cwd=work,
                                env=kernel_environment(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True, preexec_fn=_set_limits(limits))
        problems = []
        try:
            _, err = proc.communicate(timeout=limits.wall)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            _, err = proc.communicate()
            problems.append(f"the notebook did not finish within the wall clock of {limits.wall} s; killed")
        text = err.decode("utf-8", "replace")
        data = json.loads(result.read_text()) if result.is_file() else {}
        if proc.returncode and not data:
            problems.append(f"the executor exited with status {proc.returncode}"
                            + (" (killed: out of memory?)" if proc.returncode == -signal.SIGKILL else ""))
        return Execution(data.get("notebook"), time.perf_counter() - start, guard.read_report(text),
                         problems + data.get("problems", []), text[-4000:])


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


def _child(job_path: str) -> int:
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from nbgrader.preprocessors import Execute

    job = json.loads(Path(job_path).read_text())
    work, limits = Path(job["work"]), Limits(**job["limits"])
    nb = nbformat.read(work / "submission.ipynb", as_version=4)
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
    Path(job["result"]).write_text(json.dumps({"notebook": nbformat.writes(nb), "problems": problems}))
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
