"""What each process of a grading job costs to start, with jsonschema as pinned and as pip would pick it.

Every graded submission starts an executor (which imports nbgrader and nbformat), a kernel, and an
nbgrader process to score; the tests start many more. From 4.25 on, jsonschema imports
``rfc3987-syntax`` (pulled in by jupyter-events' ``jsonschema[format-nongpl]``), which builds a Lark
grammar at import time. pyproject.toml pins ``jsonschema<4.25``; the baseline is what an unpinned
install gets: jsonschema 4.26 with rfc3987-syntax and lark, installed for this run into a scratch
folder put first on ``PYTHONPATH`` (so both are measured in the same run, alternately).

    .venv/bin/python benchmarks/process_startup.py --rounds 5

Writes ``benchmarks/results/process_startup.md``.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "process_startup.md"
BASELINE = ["jsonschema==4.26.0", "rfc3987-syntax==1.1.0", "lark==1.3.1"]
PROCESSES = {
    "import nbformat": "import nbformat",
    "import nbgrader's executor": "from nbgrader.preprocessors import Execute",
    "one-cell notebook, executed": (
        "import nbformat, nbclient\nfrom nbformat.v4 import new_notebook, new_code_cell\n"
        "nb = new_notebook(cells=[new_code_cell('1')])\n"
        "nbclient.NotebookClient(nb, kernel_name='python3').execute()"),
}


def timed(code: str, env: dict) -> tuple[float, float]:
    """(wall s, CPU s of the process and its children) of ``python -c code``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="xai-baseline-") as scratch:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", scratch, *BASELINE],
                       check=True)
        envs = {"pinned (jsonschema<4.25)": dict(os.environ),
                "unpinned (jsonschema 4.26 + rfc3987-syntax)": {**os.environ, "PYTHONPATH": scratch}}
        times = {(p, e): [] for p in PROCESSES for e in envs}
        for r in range(args.rounds):   # alternate the order, so the machine's load hits both alike
            for e in (list(envs) if r % 2 == 0 else list(envs)[::-1]):
                for p, code in PROCESSES.items():
                    times[(p, e)].append(timed(code, envs[e]))
    load = os.getloadavg()
    lines = ["# Process start-up", "",
             f"Machine: {platform.node()}, {platform.machine()}, {os.cpu_count()} cores, python "
             f"{platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average "
             f"{load[0]:.2f} at the end; {args.rounds} rounds, median (min-max).", "",
             "    .venv/bin/python benchmarks/process_startup.py " + " ".join(argv or sys.argv[1:]), "",
             "| process | jsonschema | wall s | CPU s |", "|---|---|---|---|"]
    for (p, e), runs in times.items():
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        lines.append(f"| {p} | {e} | {statistics.median(walls):.2f} ({min(walls):.2f}-{max(walls):.2f}) | "
                     f"{statistics.median(cpus):.2f} ({min(cpus):.2f}-{max(cpus):.2f}) |")
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
