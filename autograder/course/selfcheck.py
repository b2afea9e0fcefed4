"""``xai-course check NOTEBOOK``: grade your own notebook without any course infrastructure.

The notebook runs top to bottom in a fresh kernel (errors do not stop it, as in nbgrader's
autograde); each autograded check cell is then reported as passed, failed (with the check's reason)
or not attempted (the answer is still blank), with the points. The notebook file is not modified.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

ANSI = re.compile(r"\x1b\[[0-9;]*m")
NOT_ATTEMPTED = ("no answer yet", "not implemented yet")


@dataclass
class Outcome:
    grade_id: str
    points: float
    status: str        # "passed", "failed" or "not attempted"
    reason: str = ""

    @property
    def score(self) -> float:
        return self.points if self.status == "passed" else 0.0


def _error_text(output) -> str:
    if output.get("ename") == "CheckFailed":
        lines = [ANSI.sub("", line) for line in output.get("traceback", [])]
        return "\n".join(lines[1:]).strip() or output.get("evalue", "")
    return f"{output.get('ename')}: {output.get('evalue')}"


def check_notebook(path: str | Path, *, timeout: int = 300) -> list[Outcome]:
    """Execute the notebook at ``path`` in a fresh python3 kernel and judge each autograded cell."""
    import nbclient

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such notebook")
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as err:  # noqa: BLE001 - anything unreadable is the same problem for the user
        raise ValueError(f"{path}: not a readable Jupyter notebook ({type(err).__name__}: {err})") from None
    graded = [c for c in nb.cells if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    if not graded:
        raise ValueError(f"{path}: has no autograded check cells (is it a notebook of this course?)")
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                     resources={"metadata": {"path": str(path.parent.resolve())}})
    try:
        client.execute()
    except nbclient.exceptions.CellTimeoutError as err:
        raise TimeoutError(f"{path}: a cell ran longer than {timeout} s ({err})") from None
    outcomes = []
    for cell in graded:
        meta = cell.metadata.nbgrader
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        if not errors:
            outcomes.append(Outcome(meta["grade_id"], float(meta.get("points", 0)), "passed"))
            continue
        text = _error_text(errors[0])
        status = "not attempted" if any(s in text for s in NOT_ATTEMPTED) else "failed"
        outcomes.append(Outcome(meta["grade_id"], float(meta.get("points", 0)), status, text))
    return outcomes


def report(outcomes: list[Outcome]) -> str:
    marks = {"passed": "✓", "failed": "✗", "not attempted": "·"}
    width = max(len(o.grade_id) for o in outcomes)
    lines = []
    for o in outcomes:
        lines.append(f"{marks[o.status]} {o.grade_id:<{width}}  {o.score:g}/{o.points:g}  {o.status}")
        if o.status == "failed":
            lines += ["      " + line for line in o.reason.splitlines()[:12]]
    total, full = sum(o.score for o in outcomes), sum(o.points for o in outcomes)
    counts = {s: sum(o.status == s for o in outcomes) for s in marks}
    lines.append(f"\ntotal {total:g}/{full:g} autograded points: {counts['passed']} passed, {counts['failed']} failed, "
                 f"{counts['not attempted']} not attempted (written answers are graded by hand)")
    return "\n".join(lines)
