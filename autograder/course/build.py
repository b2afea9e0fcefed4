"""Build each assignment's nbgrader source notebook from its jupytext text: ``xai-course build``.

The notebook's text is ``tools/notebooks/<a>.py`` in jupytext's percent format: real Python that
editors and ruff read and that JupyterLab (with jupytext) opens as a notebook. ``jupytext.read``
turns it into ``solutions/<a>/<a>.ipynb``, the instructor's copy; a test keeps the two in sync.
Cells, as the source writes them:

- ``# %% [markdown]`` / ``# %%`` without metadata: read-only explanation or code (imports, set-up);
- ``# %% tags=["scratch"]``: a free code cell for the student to experiment in (not graded, not locked);
- ``# %% nbgrader={"grade": false, "grade_id": ..., "locked": false, "solution": true}``: the student's
  code; the answer sits between ``### BEGIN SOLUTION`` / ``### END SOLUTION``, with the answer
  variables set to ``None`` *before* the markers so that a blank submission reaches the check with
  ``None`` (a readable "no answer yet") instead of a NameError;
- ``nbgrader={"grade": true, ..., "locked": true, "points": P}``: an autograded check; ``### BEGIN HIDDEN
  TESTS`` regions are removed from the release;
- ``# %% [markdown] nbgrader={"grade": true, "solution": true, "points": P, ...}``: a manually graded
  answer; the model answer and rubric are replaced by "YOUR ANSWER HERE" in the release.

The build adds what nbgrader needs and the text need not repeat: read-only metadata (grade ids by
position), ``schema_version`` and ``task``, cell ids equal to grade ids (stable under edits), the
kernelspec. Points are written once, in the graded cell's metadata: the prose says
``{points:<grade id>}`` and the build writes "2 points" (see ``fill_points`` for totals). A multiple-choice
question's statements are written once, in its check's :class:`~autograder.choices.Choices`: the prose says
``{choices:<check name>}`` on a line of its own and the build writes the list of options.
"""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import jupytext
import nbformat

from ..choices import Choices
from .coursedir import REPO

SOURCES = REPO / "tools" / "notebooks"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
NBGRADER = {"grade": False, "locked": False, "schema_version": 3, "solution": False, "task": False}
SCRATCH = "scratch"
# How jupytext remembers blank lines in the text; nothing the notebook needs.
LAYOUT = ("lines_to_next_cell", "lines_to_end_of_cell_marker", "cell_marker")
# "{points:sens-check}" -> "2 points"; "{n_points:...}" -> "2" (a table's column). A placeholder sums
# graded cells: "a+b" is a and b, "a..c" every graded cell from a to c in notebook order.
PLACEHOLDER = re.compile(r"\{(points|n_points):([^{}]+)\}")
# "{choices:statements}" -> the options of check.statements, one per line.
CHOICES = re.compile(r"\{choices:([^{}]+)\}")


class SourceError(ValueError):
    """A notebook source that cannot be built (unknown grade id in a placeholder, duplicate ids...)."""


def source_path(name: str) -> Path:
    return SOURCES / f"{name}.py"


def points_of(nb) -> dict[str, float]:
    """``{grade_id: points}`` of the graded cells of a (built or read) notebook."""
    return {m["grade_id"]: m["points"] for c in nb.cells
            if (m := c.metadata.get("nbgrader", {})).get("grade") and "points" in m}


def fill_points(text: str, points: dict[str, float], where: str) -> str:
    """Replace each ``{points:IDS}`` by the total of those graded cells in words ("3 points", "1 point"),
    each ``{n_points:IDS}`` by the number; IDS is ``a+b`` (those cells) or ``a..c`` (a to c in order)."""
    order = list(points)

    def ids(spec, placeholder):
        chosen = []
        for part in spec.split("+"):
            first, _, last = (g.strip() for g in part.partition(".."))
            unknown = [g for g in (first, last) if g and g not in points]
            if unknown:
                raise SourceError(f"{where}: {placeholder} names {unknown}, not graded cells of the notebook "
                                  f"(expected some of {order})")
            i, j = order.index(first), order.index(last or first)
            if j < i:
                raise SourceError(f"{where}: {placeholder}: {last} comes before {first} in the notebook")
            chosen += order[i:j + 1]
        return chosen

    def total(match):
        kind, spec = match.groups()
        value = sum(points[g] for g in ids(spec, match.group(0)))
        return f"{value:g}" if kind == "n_points" else f"{value:g} point" + ("" if value == 1 else "s")
    return PLACEHOLDER.sub(total, text)


def multiple_choice(module) -> dict[str, Choices]:
    """``{check name: its Choices}`` of the multiple-choice questions of a questions module."""
    return {name: value.choices for name, value in vars(module).items()
            if callable(value) and isinstance(getattr(value, "choices", None), Choices)}


def fill_choices(text: str, module, where: str) -> str:
    """Replace each ``{choices:NAME}`` by the options of ``module.NAME``, as the notebook shows them."""
    tables = multiple_choice(module)

    def options(match):
        name = match.group(1).strip()
        if name not in tables or not tables[name].shown:
            shown = sorted(n for n, t in tables.items() if t.shown)
            raise SourceError(f"{where}: {match.group(0)} names no multiple-choice question of {module.__name__} "
                              f"with options to show (expected one of {shown})")
        return tables[name].markdown()
    return CHOICES.sub(options, text)


def build(name: str, source: str | Path | None = None):
    """The source notebook of assignment ``name`` (an ``nbformat`` notebook), read by jupytext."""
    path = Path(source) if source else source_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"expected the notebook source {path} (jupytext percent format)")
    nb = jupytext.read(path, fmt="py:percent")
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    seen = set()
    for i, cell in enumerate(nb.cells):
        for key in LAYOUT:
            cell.metadata.pop(key, None)
        tags = cell.metadata.pop("tags", [])
        if tags == [SCRATCH]:
            cell.id = f"scratch-{i:03d}"
            continue
        if tags or set(cell.metadata) - {"nbgrader"}:
            raise SourceError(f"{path}: cell {i} has metadata {dict(cell.metadata, tags=tags)}; expected only "
                              f"nbgrader={{...}} or tags=[{SCRATCH!r}]")
        meta = cell.metadata.setdefault("nbgrader", {"grade_id": f"{cell.cell_type[:4]}-{i:03d}", "locked": True})
        if "grade_id" not in meta:
            raise SourceError(f"{path}: cell {i}'s nbgrader metadata {meta} has no grade_id")
        cell.metadata["nbgrader"] = meta = {**NBGRADER, **meta}
        if meta["grade_id"] in seen:
            raise SourceError(f"{path}: grade id {meta['grade_id']!r} is used twice")
        seen.add(meta["grade_id"])
        cell.id = meta["grade_id"]
    points = points_of(nb)
    questions = None
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            cell.source = fill_points(cell.source, points, f"{path}, cell {i}")
            if CHOICES.search(cell.source):
                questions = questions or importlib.import_module(f"autograder.questions.{name}")
                cell.source = fill_choices(cell.source, questions, f"{path}, cell {i}")
    nbformat.validate(nb)
    return nb


def write(name: str, out: str | Path | None = None) -> Path:
    """Build ``name`` into ``out`` (default: ``solutions/<name>/<name>.ipynb``)."""
    out = Path(out) if out else REPO / "solutions" / name / f"{name}.ipynb"
    nb = build(name)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return out


def sources() -> list[str]:
    """The assignments that have a notebook source in ``tools/notebooks/``."""
    return sorted(p.stem for p in SOURCES.glob("*.py"))
