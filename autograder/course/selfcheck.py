"""``xai-course check NOTEBOOK...``: grade your own notebooks without any course infrastructure.

Each notebook runs top to bottom in a fresh kernel (errors do not stop it, as in nbgrader's
autograde); each autograded check cell is then reported by its question (``labels``) as passed,
failed (with the check's reason) or not attempted (the answer is still blank), with the points, and
each written answer as written or still blank. The notebook files are not modified. Several
notebooks (or a folder of them) end with an overview of the progress across them. The kernel's own
output on the terminal (ZMQ / TCP warnings) goes to nowhere: only the report is printed.
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .labels import labels
from .table import fraction, render

ANSI = re.compile(r"\x1b\[[0-9;]*m")
NOT_ATTEMPTED = ("no answer yet", "not implemented yet")


BLANK_ANSWERS = ("", "YOUR ANSWER HERE")   # nbgrader's text in a released written answer


@dataclass
class Outcome:
    grade_id: str
    points: float
    status: str        # "passed", "failed" or "not attempted"
    reason: str = ""
    label: str = ""    # "Q3 Compute the multiplier ..." (``labels``), the grade id if none

    @property
    def score(self) -> float:
        return self.points if self.status == "passed" else 0.0


@dataclass
class Written:
    grade_id: str
    points: float
    blank: bool
    label: str = ""


@dataclass
class Checked:
    """One notebook's report: its autograded outcomes and its written answers."""
    path: Path
    outcomes: list = field(default_factory=list)
    written: list = field(default_factory=list)


def _error_text(output) -> str:
    if output.get("ename") == "CheckFailed":
        lines = [ANSI.sub("", line) for line in output.get("traceback", [])]
        return "\n".join(lines[1:]).strip() or output.get("evalue", "")
    return f"{output.get('ename')}: {output.get('evalue')}"


def check_notebook(path: str | Path, *, timeout: int = 300) -> list[Outcome]:
    """Execute the notebook at ``path`` in a fresh python3 kernel and judge each autograded cell."""
    return check(path, timeout=timeout).outcomes


def check(path: str | Path, *, timeout: int = 300) -> Checked:
    """``check_notebook`` with the written answers too (``Checked``)."""
    import nbclient

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such notebook")
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as err:  # noqa: BLE001 - anything unreadable is the same problem for the user
        raise ValueError(f"{path}: not a readable Jupyter notebook ({type(err).__name__}: {err})") from None
    graded = [c for c in nb.cells if c.cell_type == "code" and c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    names = labels(nb)
    written = [Written(c.metadata.nbgrader["grade_id"], float(c.metadata.nbgrader.get("points", 0)),
                       c.source.strip() in BLANK_ANSWERS, str(names[c.metadata.nbgrader["grade_id"]]))
               for c in nb.cells if c.cell_type == "markdown" and c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    if not graded:
        raise ValueError(f"{path}: has no autograded check cells (is it a notebook of this course?)")
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                     resources={"metadata": {"path": str(path.parent.resolve())}})
    try:
        client.execute(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)   # the kernel's own chatter
    except nbclient.exceptions.CellTimeoutError as err:
        raise TimeoutError(f"{path}: a cell ran longer than {timeout} s ({err})") from None
    outcomes = []
    for cell in graded:
        meta = cell.metadata.nbgrader
        gid, points, label = meta["grade_id"], float(meta.get("points", 0)), str(names[meta["grade_id"]])
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        if not errors:
            outcomes.append(Outcome(gid, points, "passed", label=label))
            continue
        text = _error_text(errors[0])
        status = "not attempted" if any(s in text for s in NOT_ATTEMPTED) else "failed"
        outcomes.append(Outcome(gid, points, status, text, label=label))
    return Checked(path, outcomes, written)


def notebooks(paths: list[str | Path]) -> list[Path]:
    """The notebooks named by ``paths``: files as given, folders by their ``*.ipynb`` (checkpoints skipped)."""
    out = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
            if not found:
                raise FileNotFoundError(f"{path}: a folder with no notebook (*.ipynb) in it")
            out += found
        else:
            out.append(path)
    return list(dict.fromkeys(p.resolve() for p in out))   # each notebook once


MARKS = {"passed": "✓", "failed": "✗", "not attempted": "·"}


def report(outcomes: list[Outcome], written: list[Written] = ()) -> str:
    """One notebook: a line per question (autograded, then written), reasons under failed checks."""
    width = max(len(o.label or o.grade_id) for o in outcomes)
    lines = []
    for o in outcomes:
        lines.append(f"{MARKS[o.status]} {o.label or o.grade_id:<{width}}  {fraction(o.score, o.points):>7}  {o.status}")
        if o.status == "failed":
            lines += ["      " + line for line in o.reason.splitlines()[:12]]
    total, full = sum(o.score for o in outcomes), sum(o.points for o in outcomes)
    counts = {s: sum(o.status == s for o in outcomes) for s in MARKS}
    lines.append(f"\ntotal {total:g}/{full:g} autograded points: {counts['passed']} passed, {counts['failed']} failed, "
                 f"{counts['not attempted']} not attempted")
    if written:
        blank = [w for w in written if w.blank]
        lines.append(f"written answers (graded by hand, {sum(w.points for w in written):g} points): "
                     f"{len(written) - len(blank)} of {len(written)} written"
                     + (f"; still blank: {', '.join(w.label or w.grade_id for w in blank)}" if blank else ""))
    return "\n".join(lines)


def overview(checked: list[Checked]) -> str:
    """Progress across notebooks: autograded points, checks passed, written answers done."""
    rows = []
    for c in checked:
        o = c.outcomes
        rows.append([c.path.name, fraction(sum(x.score for x in o), sum(x.points for x in o)),
                     f"{sum(x.status == 'passed' for x in o)}/{len(o)}",
                     f"{sum(not w.blank for w in c.written)}/{len(c.written)}"])
    return render(["notebook", "autograded", "checks passed", "written"], rows, right={1, 2, 3})
