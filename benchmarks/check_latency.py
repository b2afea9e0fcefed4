"""How long does each check take when a student runs it, for a right and for a wrong answer?

Executes every assignment's release in a real kernel three ways, answered with the solution (*right*),
with the partly wrong sample (its wrong answers are the *wrong* checks; its right ones count as right)
and blank (*blank*: "no answer yet"), and times every autograded check cell with IPython's
``pre_run_cell`` / ``post_run_cell`` events inside the kernel: wall time (``perf_counter``) and the
kernel's CPU time (``process_time``, all its threads). The machine may be shared: CPU time is what the
budgets are checked on, wall time is shown next to it, and the load average is recorded.

Budgets (issue 13): a failing *code* check (one whose answer is a function, so Hypothesis searches and
shrinks) answers within 3 s, and p95 over all checks stays under 1 s. Each notebook runs in two modes:

- ``unbounded``: shrinking until Hypothesis is done (``XAI_SHRINK_SECONDS=inf``, the engine before the
  shrink budget);
- ``bounded``: the engine's default budget (``autograder.properties.SHRINK_SECONDS``).

In the bounded mode every check cell runs ``--repeat`` times (again at the end of the notebook, in the same
kernel: the first run includes the first imports of torch, SymPy, Hypothesis); the unbounded mode runs the
wrong answers once. It prints, and writes to ``benchmarks/results/check_latency.md`` (and the raw rows to
``check_latency.json``), p50 / p95 / max per mode and answer kind, the budgets' verdicts, and p50 / p95 /
max per check (bounded mode).

    .venv/bin/python benchmarks/check_latency.py [--repeat N] [--modes bounded,unbounded] [ASSIGNMENT ...]
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import sys
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import nbclient
import nbformat
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from autograder.course import submissions as subs  # noqa: E402
from autograder.course.coursedir import assignments  # noqa: E402
from autograder.properties import SHRINK_SECONDS  # noqa: E402

MODES = {"unbounded": "inf", "bounded": str(SHRINK_SECONDS)}
CODE_BUDGET, P95_BUDGET = 3.0, 1.0
MARK = "@@check-latency "

# Runs first in the kernel: times every later cell (the events fire even when a cell raises).
TIMER = """
import json as _lat_json, time as _lat_time
_lat_rows, _lat_start = [], None
def _lat_pre(info):
    global _lat_start
    _lat_start = (_lat_time.process_time(), _lat_time.perf_counter())
def _lat_post(result):
    if _lat_start is not None:
        _lat_rows.append([result.info.raw_cell, _lat_time.process_time() - _lat_start[0],
                          _lat_time.perf_counter() - _lat_start[1], result.success])
get_ipython().events.register("pre_run_cell", _lat_pre)
get_ipython().events.register("post_run_cell", _lat_post)
"""
DUMP = f"print({MARK!r} + _lat_json.dumps(_lat_rows))"


def code_checks(nb) -> set[str]:
    """Grade ids of the check cells that pass a function the notebook defines (``def name``) to a check."""
    defined = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            try:
                defined |= {n.name for n in ast.walk(ast.parse(cell.source)) if isinstance(n, ast.FunctionDef)}
            except SyntaxError:
                continue
    out = set()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or not meta.get("grade"):
            continue
        calls = [n for n in ast.walk(ast.parse(cell.source)) if isinstance(n, ast.Call)]
        if any(isinstance(a, ast.Name) and a.id in defined for c in calls for a in c.args):
            out.add(meta["grade_id"])
    return out


def check_times(nb, shrink_seconds: str, repeat: int = 1) -> list[dict]:
    """``{grade_id, passed, cpu, wall, run}`` for every check cell of ``nb`` run in a fresh kernel; with
    ``repeat`` > 1 the check cells run again at the end (the kernel warm: run 0 includes first imports)."""
    nb = nbformat.from_dict(nb)
    graded = [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]
    nb.cells.insert(0, nbformat.v4.new_code_cell(TIMER))
    nb.cells += [nbformat.v4.new_code_cell(c.source) for _ in range(repeat - 1) for c in graded]
    nb.cells.append(nbformat.v4.new_code_cell(DUMP))
    os.environ["XAI_SHRINK_SECONDS"] = shrink_seconds   # the kernel inherits it
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(REPO)}}).execute()
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("output_type") == "stream")
    rows = json.loads(text.split(MARK, 1)[1])
    out = []
    for run in range(repeat):
        for cell in graded:
            i = next(k for k, row in enumerate(rows) if row[0] == cell.source)
            _, cpu, wall, ok = rows.pop(i)
            out.append({"grade_id": cell.metadata.nbgrader.grade_id, "passed": ok, "cpu": cpu, "wall": wall,
                        "run": run})
    return out


def stats(values) -> tuple[float, float, float, int]:
    t = np.asarray(values, float)
    if not t.size:
        return (float("nan"),) * 3 + (0,)
    return float(np.median(t)), float(np.percentile(t, 95)), float(t.max()), int(t.size)


def row(label: str, rows: list[dict]) -> str:
    c, w = stats([r["cpu"] for r in rows]), stats([r["wall"] for r in rows])
    return f"| {label} | {c[0]:.2f} | {c[1]:.2f} | {c[2]:.2f} | {w[0]:.2f} | {w[1]:.2f} | {w[2]:.2f} | {c[3]} |"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each check cell in the bounded mode")
    parser.add_argument("--modes", default="unbounded,bounded",
                        help="unbounded runs only the partly wrong sample (where shrinking happens), once")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "check_latency.md"))
    args = parser.parse_args(argv)
    names = args.assignments or assignments()
    modes = [m for m in args.modes.split(",") if m]
    started, load_start = datetime.now(timezone.utc), load()
    rows = []   # {mode, assignment, kind, grade_id, passed, code, cpu, wall}
    for name in names:
        source = subs.read(REPO / "solutions" / name / f"{name}.ipynb")
        release = subs.read(REPO / "exercises" / name / f"{name}.ipynb")
        sample = subs.sample(name)
        wrong, code = set(sample["failing_tests"]), code_checks(source)
        notebooks = {"right": subs.filled_in(release, source),
                     "partial": subs.filled_in(release, source, sample["answers"]), "blank": release}
        for mode in modes:
            for variant, nb in notebooks.items():
                if mode == "unbounded" and variant != "partial":
                    continue
                for r in check_times(nb, MODES[mode], args.repeat if mode == "bounded" else 1):
                    kind = "blank" if variant == "blank" else \
                        ("wrong" if variant == "partial" and r["grade_id"] in wrong else "right")
                    if variant == "partial" and kind == "right":
                        continue   # the same cells as in the solution run
                    rows.append({**r, "mode": mode, "assignment": name, "kind": kind, "code": r["grade_id"] in code})
                    if kind != "blank" and r["passed"] != (kind == "right"):
                        print(f"warning: {name} {r['grade_id']} ({kind}) passed={r['passed']}", file=sys.stderr)
            print(f"{name} {mode}: done ({datetime.now(timezone.utc):%H:%M:%S}, load {load()})", file=sys.stderr)
        write(rows, modes, args, started, load_start, names[:names.index(name) + 1])   # a partial report as it goes


def write(rows, modes, args, started, load_start, done) -> None:
    machine = (f"{platform.node()}, {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}; "
               f"started {started:%Y-%m-%d %H:%M} UTC; load average (1, 5, 15 min) {load_start} at the start, "
               f"{load()} at the end")
    head = "| answer | CPU p50 | CPU p95 | CPU max | wall p50 | wall p95 | wall max | cells |"
    rule = "|---|---|---|---|---|---|---|---|"
    lines = ["# Check latency", "", f"Machine: {machine}.", "",
             "Seconds per check cell in a real kernel (the release answered with the solution, with the partly "
             "wrong sample, and blank); CPU = the kernel's process time, wall = elapsed time. *right* = a right "
             "answer (the check passed), *wrong* = a wrong answer of the sample, *wrong code* = those whose "
             "answer is a function (Hypothesis searches and shrinks), *blank* = no answer yet. `unbounded` "
             f"shrinks until Hypothesis stops, `bounded` uses the engine's shrink budget of {SHRINK_SECONDS:g} s."
             f" Bounded: each check cell {args.repeat} times in the same kernel (run 0 pays the first imports); "
             "unbounded: the wrong answers once.", "", f"Assignments: {', '.join(done)}.", ""]
    for mode in modes:
        mine = [r for r in rows if r["mode"] == mode]
        lines += [f"## {mode}", "", head, rule]
        for label, pick in (("right", lambda r: r["kind"] == "right"), ("wrong", lambda r: r["kind"] == "wrong"),
                            ("wrong code", lambda r: r["kind"] == "wrong" and r["code"]),
                            ("blank", lambda r: r["kind"] == "blank"), ("all", lambda r: True)):
            lines.append(row(label, [r for r in mine if pick(r)]))
        code_max = max((r["cpu"] for r in mine if r["kind"] == "wrong" and r["code"]), default=float("nan"))
        p95 = stats([r["cpu"] for r in mine])[1]
        lines += ["", f"- a failing code check answers within {CODE_BUDGET:g} s (CPU): "
                      f"{'yes' if code_max <= CODE_BUDGET else 'NO'} (max {code_max:.2f} s)",
                  f"- p95 of all checks under {P95_BUDGET:g} s (CPU): {'yes' if p95 < P95_BUDGET else 'NO'} "
                  f"({p95:.2f} s)", ""]
    bounded = [r for r in rows if r["mode"] == "bounded"] or rows
    per_check = defaultdict(list)
    for r in bounded:
        per_check[(r["assignment"], r["grade_id"], r["kind"])].append(r)
    lines += ["## Per check (bounded)", "", "| assignment | check | answer | code | CPU p50 | CPU p95 | CPU max | "
              "wall p50 | wall p95 | wall max | runs |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (name, gid, kind), rs in sorted(per_check.items(), key=lambda kv: -max(r["cpu"] for r in kv[1])):
        c, w = stats([r["cpu"] for r in rs]), stats([r["wall"] for r in rs])
        lines.append(f"| {name} | {gid} | {kind} | {'yes' if rs[0]['code'] else ''} | {c[0]:.2f} | {c[1]:.2f} | "
                     f"{c[2]:.2f} | {w[0]:.2f} | {w[1]:.2f} | {w[2]:.2f} | {c[3]} |")
    text = "\n".join(lines) + "\n"
    out = Path(args.out)
    out.write_text(text, encoding="utf-8")
    (out.with_suffix(".json")).write_text(json.dumps({"machine": machine, "rows": rows}, indent=1), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
