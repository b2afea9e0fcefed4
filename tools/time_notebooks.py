"""Measure how long each assignment's notebook takes to run, for the course map's time estimate.

    .venv/bin/python tools/time_notebooks.py [ASSIGNMENT ...]

Runs each solution notebook (``solutions/<a>/<a>.ipynb``: the instructor's copy, which a learner's
finished notebook resembles) top to bottom in a fresh kernel, in a temporary copy of its folder, and
records in ``autograder/course/timings.json`` (read by ``autograder.course.coursemap``):

- ``cpu_s``: the CPU time of the kernel process and everything it started (``getrusage`` of this
  process's reaped children), kernel start included: about what the run takes on an idle machine,
  since the kernel runs one thread (``OMP_NUM_THREADS=1``);
- ``wall_s``: the elapsed time, inflated when other jobs share the machine;
- the machine (CPU model, cores, load average at the start), the date and the versions.

Assignments not named keep their earlier record.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from autograder.course import coursemap, material  # noqa: E402

TIMEOUT = 900      # s per cell: generous on a loaded machine


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(folder: Path, name: str) -> dict:
    """One run of ``folder/<name>.ipynb`` in a fresh kernel, in a temporary copy of ``folder``: its CPU
    and wall seconds and number of code cells."""
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"    # inherited by the kernel
    os.environ.setdefault("MPLBACKEND", "Agg")
    with tempfile.TemporaryDirectory(prefix=f"time-{name}-") as tmp:
        work = Path(tmp) / name
        shutil.copytree(folder, work)
        nb = nbformat.read(work / f"{name}.ipynb", as_version=4)
        client = NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(work)}})
        cpu0, wall0 = children_cpu(), time.perf_counter()
        client.execute()           # starts the kernel, runs every cell, shuts the kernel down (reaped)
        wall, cpu = time.perf_counter() - wall0, children_cpu() - cpu0
    cells = sum(c.cell_type == "code" for c in nb.cells)
    return {"cpu_s": round(cpu, 1), "wall_s": round(wall, 1), "code_cells": cells}


def main(argv: list[str]) -> int:
    names = argv or [e.name for e in coursemap.COURSE]
    unknown = sorted(set(names) - set(material.assignments()))
    if unknown:
        print(f"unknown assignment(s) {unknown}; the course has {material.assignments()}", file=sys.stderr)
        return 2
    path = coursemap.TIMINGS
    old = json.loads(path.read_text()) if path.is_file() else {}
    runs = dict(old.get("assignments", {}))
    import torch

    machine = f"{cpu_model()}, {os.cpu_count()} cores, {platform.system()}"
    versions = f"Python {platform.python_version()}, torch {torch.__version__}"
    for name in names:
        load = os.getloadavg()[0]
        runs[name] = run(material.folder("source", name), name) | {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "machine": machine,
                                  "versions": versions, "load_at_start": round(load, 2)}
        print(f"{name}: {runs[name]['cpu_s']:.1f} s CPU, {runs[name]['wall_s']:.1f} s elapsed "
              f"(load {load:.1f} at the start)", flush=True)
    record = {
        "how": "tools/time_notebooks.py: each solution notebook run once in a fresh kernel (OMP_NUM_THREADS=1); "
               "cpu_s = CPU time of the kernel and its children, wall_s = elapsed time",
        "assignments": {n: runs[n] for n in sorted(runs)},
    }
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
