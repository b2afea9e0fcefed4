"""The course map: order, prerequisites, learning goals and a time estimate per assignment.

``COURSE`` below is the one place that says in which order the assignments go, what each needs
first and what a learner can do after it. The time estimate adds three parts, and the map says which
is measured and which assumed:

    minutes = words / READING_WPM + run + autograded questions * PER_CHECK + written answers * PER_WRITTEN

- measured: ``words``, those of the released notebook's Markdown and read-only code cells (what a
  learner reads before answering), and ``run``, the CPU time of one run of the solution notebook in a
  fresh kernel, recorded by ``tools/time_notebooks.py`` in ``timings.json`` (with machine and date);
- assumed (no learner has been timed): ``READING_WPM`` = 150 words a minute (technical text with
  formulas, below the 200-300 of ordinary prose), ``PER_CHECK`` = 8 minutes per autograded question
  (code or derivation, a run of its check and a fix), ``PER_WRITTEN`` = 10 minutes per written answer.

``xai-course map`` prints the table and this split.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from . import material
from .labels import labels

READING_WPM = 150
PER_CHECK = 8
PER_WRITTEN = 10
TIMINGS = Path(__file__).resolve().with_name("timings.json")     # written by tools/time_notebooks.py


@dataclass(frozen=True)
class Entry:
    name: str
    prerequisites: tuple[str, ...]
    goals: tuple[str, ...]


COURSE = (
    Entry("prototypes", (), (
        "find a class prototype by activation maximization (L2, expert, generator) in closed form",
        "run gradient ascent on the input of a trained digit classifier")),
    Entry("taylor", (), (
        "explain one prediction by sensitivity analysis and by Taylor decomposition",
        "find the nearest root point with a Lagrange multiplier; check conservation")),
    Entry("lrp_max", ("taylor",), (
        "derive LRP-alpha1beta0 relevances by hand and implement the z+ rule for a dense layer",
        "see that networks computing the same function can get different explanations")),
    Entry("deep_taylor", ("taylor", "lrp_max"), (
        "derive the w^2, z+ and z^beta rules from root points and search directions",
        "propagate relevance through a digit classifier and read its heatmaps")),
    Entry("bptt", (), (
        "write an RNN's forward pass and derive dE_T/dW_hh by the chain rule",
        "implement backpropagation through time and check it against autograd")),
    Entry("vanishing", ("bptt",), (
        "bound and measure how fast the Jacobian chain shrinks or grows",
        "clip gradients by global norm; explain the LSTM's additive cell path")),
    Entry("attribution", ("taylor",), (
        "compute integrated gradients, DeepLIFT, guided backprop, CAM / Grad-CAM and LIME",
        "check each method against the property that defines it (completeness, summation-to-delta)")),
    Entry("rnn_explain", ("deep_taylor", "bptt"), (
        "build the thesis's Deep cell and propagate relevance through time",
        "compare the heatmaps of Shallow-7 and Deep-7 with a measured distance")),
)


@dataclass(frozen=True)
class Estimate:
    words: int
    checks: int
    written: int
    run_s: float = 0.0        # measured run time of the notebook (timings.json), seconds

    @property
    def reading(self) -> float:
        return self.words / READING_WPM

    @property
    def answering(self) -> float:
        return self.checks * PER_CHECK + self.written * PER_WRITTEN

    @property
    def minutes(self) -> float:
        return self.reading + self.run_s / 60 + self.answering


def timings(path: Path | None = None) -> dict[str, dict]:
    """``{assignment: {"cpu_s", "wall_s", "date", "machine", ...}}`` as ``tools/time_notebooks.py`` wrote it
    (in ``TIMINGS`` unless ``path`` is given)."""
    path = path or TIMINGS
    if not path.is_file():
        raise FileNotFoundError(f"no measured run times: {path} is missing (run tools/time_notebooks.py)")
    return json.loads(path.read_text(encoding="utf-8"))["assignments"]


def estimate(nb, run_s: float = 0.0) -> Estimate:
    """The time estimate of the notebook ``nb`` that runs in ``run_s`` seconds (see the module docstring)."""
    words = 0
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "markdown" and not meta.get("solution") or cell.cell_type == "code" and meta.get("locked") and not meta.get("grade"):
            words += len(re.findall(r"\S+", cell.source))
    names, kinds = labels(nb), {}   # a question checked by two cells counts once
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            kinds.setdefault(str(names[meta["grade_id"]]), cell.cell_type)
    written = sum(kind == "markdown" for kind in kinds.values())
    return Estimate(words, len(kinds) - written, written, run_s)


def check_map() -> None:
    """The map names every assignment once, in an order where each prerequisite comes first."""
    names, seen = [e.name for e in COURSE], set()
    if sorted(names) != material.assignments():
        raise ValueError(f"COURSE lists {sorted(names)}, the course has {material.assignments()}")
    for e in COURSE:
        missing = [p for p in e.prerequisites if p not in seen]
        if missing:
            raise ValueError(f"{e.name}: prerequisite(s) {missing} come later in COURSE")
        seen.add(e.name)


def _minutes(m: float) -> str:
    return f"{m:.1f} min" if m < 10 else f"{m:.0f} min"


def _joined(values) -> str:
    values = sorted(set(values))
    return values[0] if len(values) == 1 else "; ".join(values)


def table() -> str:
    """``xai-course map``: the Markdown table (README's) and which parts are measured, which assumed."""
    check_map()
    runs = timings()
    missing = [e.name for e in COURSE if e.name not in runs]
    if missing:
        raise ValueError(f"{TIMINGS.name} has no run time for {missing} (run tools/time_notebooks.py {' '.join(missing)})")
    rows = ["| # | assignment | prerequisites | you will | time | reading + run + answering |",
            "|---|---|---|---|---|---|"]
    for i, e in enumerate(COURSE, 1):
        est = estimate(nbformat.read(material.notebook("release", e.name), as_version=4), runs[e.name]["cpu_s"])
        rows.append(f"| {i} | `{e.name}` | {', '.join(f'`{p}`' for p in e.prerequisites) or '-'} | "
                    f"{'; '.join(e.goals)} | {est.minutes / 60:.1f} h | {_minutes(est.reading)} ({est.words} words) "
                    f"+ {est.run_s:.0f} s + {_minutes(est.answering)} ({est.checks} checks, "
                    f"{est.written} written) |")
    used = [runs[e.name] for e in COURSE]
    how = (f"Measured: the words (the released notebook's text and read-only code) and the run time (CPU time "
           f"of one run of the solution notebook in a fresh kernel, `tools/time_notebooks.py`; "
           f"{_joined(r['machine'] for r in used)}; {_joined(r['date'] for r in used)}). "
           f"Assumed, not measured: reading at {READING_WPM} words a minute, {PER_CHECK} min per autograded "
           f"question and {PER_WRITTEN} min per written answer; questions counted by their `**Qn**` markers.")
    return "\n".join(rows) + "\n\n" + how
