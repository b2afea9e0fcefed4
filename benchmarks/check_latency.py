"""How long does each check take when a student runs it, for a right and for a wrong answer?

Executes every assignment's solution notebook, the partly wrong sample and the blank release in a
real kernel (nbclient records each cell's start and end) and times every autograded check cell. A
check cell counts as *passed* when it ran without error and as *failed* otherwise; failing checks
include Hypothesis's shrinking, so they are the slow case. Each notebook runs twice in the same run:

- ``unbounded``: shrinking until Hypothesis is done (``XAI_SHRINK_SECONDS=inf``, the engine before the
  shrink budget);
- ``bounded``: the engine's default budget (``autograder.properties.SHRINK_SECONDS``).

It prints, and writes to ``benchmarks/results/check_latency.md``, the p50 / p95 / max per mode for
passed and failed checks, and the slowest cells.

    .venv/bin/python benchmarks/check_latency.py [ASSIGNMENT ...]
"""
from __future__ import annotations

import os
import platform
import sys
from datetime import datetime
from pathlib import Path

import nbclient
import nbformat
import numpy as np
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from autograder.course import submissions as subs  # noqa: E402
from autograder.course.coursedir import assignments  # noqa: E402
from autograder.properties import SHRINK_SECONDS  # noqa: E402

MODES = {"unbounded": "inf", "bounded": str(SHRINK_SECONDS)}


def _seconds(cell) -> float:
    t = cell.metadata.get("execution", {})
    start, end = t.get("iopub.execute_input"), t.get("shell.execute_reply")
    if not (start and end):
        return float("nan")
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def check_times(nb, shrink_seconds: str) -> list[tuple[str, bool, float]]:
    """``(grade id, passed, seconds)`` for every check cell of ``nb`` run in a fresh kernel."""
    nb = nbformat.from_dict(nb)
    os.environ["XAI_SHRINK_SECONDS"] = shrink_seconds   # the kernel inherits it
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True, record_timing=True,
                            resources={"metadata": {"path": str(REPO)}}).execute()
    return [(c.metadata.nbgrader.grade_id, not any(o.get("output_type") == "error" for o in c.outputs), _seconds(c))
            for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]


def summary(times: list[float]) -> str:
    if not times:
        return "| - | - | - | 0 |"
    t = np.asarray(times)
    return f"| {np.median(t):.2f} | {np.percentile(t, 95):.2f} | {t.max():.2f} | {len(t)} |"


def main(names: list[str]) -> None:
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
               f"{datetime.now():%Y-%m-%d %H:%M}")
    rows = []   # (mode, assignment, variant, grade id, passed, seconds)
    jobs = [(name, variant, mode) for name in names for variant in ("solution", "partial", "blank") for mode in MODES]
    notebooks = {}
    for name in names:
        source = subs.read(REPO / "solutions" / name / f"{name}.ipynb")
        release = subs.read(REPO / "exercises" / name / f"{name}.ipynb")
        notebooks[name] = {"solution": subs.filled_in(release, source),
                           "partial": subs.filled_in(release, source, subs.sample(name)["answers"]),
                           "blank": release}
    for name, variant, mode in tqdm(jobs, desc="notebooks", unit="nb"):
        for gid, ok, sec in check_times(notebooks[name][variant], MODES[mode]):
            rows.append((mode, name, variant, gid, ok, sec))

    lines = [f"# Check latency ({machine})", "",
             "Seconds per check cell in a real kernel; *passed* = the check printed ✓, *failed* = it raised "
             "(a wrong or blank answer). `unbounded` shrinks until Hypothesis stops, `bounded` uses the "
             f"engine's shrink budget of {SHRINK_SECONDS:g} s. Both modes ran in the same run.", "",
             "| mode | answer | p50 | p95 | max | checks |", "|---|---|---|---|---|---|"]
    for mode in MODES:
        for label, want in (("passed", True), ("failed", False)):
            lines.append(f"| {mode} | {label} " + summary([r[5] for r in rows if r[0] == mode and r[4] is want]))
        lines.append(f"| {mode} | all " + summary([r[5] for r in rows if r[0] == mode]))
    lines += ["", "Slowest check cells (bounded):", "", "| assignment | answer | check | passed | seconds |",
              "|---|---|---|---|---|"]
    for mode, name, variant, gid, ok, sec in sorted((r for r in rows if r[0] == "bounded"), key=lambda r: -r[5])[:12]:
        lines.append(f"| {name} | {variant} | {gid} | {'yes' if ok else 'no'} | {sec:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = REPO / "benchmarks" / "results" / "check_latency.md"
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:] or assignments())
