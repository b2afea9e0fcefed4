"""How long does each check take when a student runs it?

Executes every assignment's solution notebook, the partly wrong sample and the blank release in a
real kernel (nbclient records each cell's start and end), and prints the wall time of every
autograded check cell. Failing checks include Hypothesis's shrinking, so they are the slow case.

    .venv/bin/python benchmarks/check_latency.py [ASSIGNMENT ...]
"""
from __future__ import annotations

import platform
import sys
from datetime import datetime
from pathlib import Path

import nbclient
import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from autograder.course import submissions as subs  # noqa: E402
from autograder.course.coursedir import assignments  # noqa: E402


def _seconds(cell) -> float:
    t = cell.metadata.get("execution", {})
    start, end = t.get("iopub.execute_input"), t.get("shell.execute_reply")
    if not (start and end):
        return float("nan")
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def check_times(nb) -> dict[str, float]:
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True, record_timing=True,
                            resources={"metadata": {"path": str(REPO)}}).execute()
    return {c.metadata.nbgrader.grade_id: _seconds(c) for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")}


def main(names: list[str]) -> None:
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}, "
          f"{__import__('os').cpu_count()} cores")
    for name in names:
        source = subs.read(REPO / "solutions" / name / f"{name}.ipynb")
        release = subs.read(REPO / "exercises" / name / f"{name}.ipynb")
        runs = {"solution": check_times(subs.filled_in(release, source)),
                "partial": check_times(subs.filled_in(release, source, subs.sample(name)["answers"])),
                "blank": check_times(release)}
        print(f"\n{name}: seconds per check cell")
        print(f"  {'check':<24}" + "".join(f"{k:>10}" for k in runs))
        for gid in runs["solution"]:
            print(f"  {gid:<24}" + "".join(f"{runs[k][gid]:>10.3f}" for k in runs))


if __name__ == "__main__":
    main(sys.argv[1:] or assignments())
