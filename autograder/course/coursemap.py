"""The course map: order, prerequisites, learning goals and a measured time estimate per assignment.

``COURSE`` below is the one place that says in which order the assignments go, what each needs
first and what a learner can do after it. The time estimate is measured on the released notebook,
not written down:

    minutes = words to read / READING_WPM + autograded questions * PER_CHECK + written answers * PER_WRITTEN

where the words are those of its Markdown and read-only code cells (what a learner reads before
answering), ``READING_WPM`` = 150 words a minute (technical text with formulas, below the 200-300 of
ordinary prose), ``PER_CHECK`` = 8 minutes per autograded question (code or derivation, a run of its
check and a fix) and ``PER_WRITTEN`` = 10 minutes per written answer. ``xai-course map`` prints
this formula with the table.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import nbformat

from . import material
from .labels import labels

READING_WPM = 150
PER_CHECK = 8
PER_WRITTEN = 10


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

    @property
    def minutes(self) -> float:
        return self.words / READING_WPM + self.checks * PER_CHECK + self.written * PER_WRITTEN


def estimate(nb) -> Estimate:
    """The measured parts of the time estimate of the notebook ``nb`` (see the module docstring)."""
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
    return Estimate(words, len(kinds) - written, written)


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


def table() -> str:
    """``xai-course map``: the Markdown table (README's) and how the time was measured."""
    check_map()
    rows = ["| # | assignment | prerequisites | you will | time |", "|---|---|---|---|---|"]
    for i, e in enumerate(COURSE, 1):
        est = estimate(nbformat.read(material.notebook("release", e.name), as_version=4))
        rows.append(f"| {i} | `{e.name}` | {', '.join(f'`{p}`' for p in e.prerequisites) or '-'} | "
                    f"{'; '.join(e.goals)} | {est.minutes / 60:.1f} h ({est.words} words, {est.checks} checks, "
                    f"{est.written} written) |")
    how = (f"Time = words / {READING_WPM} words a minute + {PER_CHECK} min per autograded question + "
           f"{PER_WRITTEN} min per written answer; words counted in the released notebook's text and "
           f"read-only code, questions by their `**Qn**` markers.")
    return "\n".join(rows) + "\n\n" + how
