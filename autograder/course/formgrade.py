"""The formgrader's page of a submission, with each written answer's rubric beside it and the math
rendered by the server's own MathJax.

nbgrader's formgrader (the Jupyter server extension ``nbgrader.server_extensions.formgrader``)
renders a submission with nbconvert's ``HTMLExporter`` and the template ``formgrade``, configured by
the course's ``nbgrader_config.py``, which it reads after its own defaults. The course's config
(``coursedir.CONFIG``) changes two things:

- ``HTMLExporter.preprocessors = [RubricCells]``: for each manually graded answer of the submission,
  ``RubricCells`` reads the instructor's notebook (``source/<assignment>/<notebook>.ipynb`` in the
  course, where the model answer and the rubric live) and puts the rubric and the model answer in the
  cell's ``metadata.xai``. That happens in memory, for the page only: no notebook is changed, and the
  release (nbgrader replaces the whole answer cell) and the feedback (its own exporter, see
  ``feedback_html``) never carry it;
- the template ``templates/xai_formgrade``: the formgrader's page, each such answer in a row with its
  rubric beside it, and MathJax from ``jupyter-server-mathjax``, which the Jupyter server serves at
  ``<base_url>/static/jupyter_server_mathjax/`` (the copy that the feedback HTML loads from disk).

In the source notebook an answer cell reads ``**Model answer.** ... **Rubric.** ...`` (or
``**Rubric** (4 points).``): the rubric is everything from its marker on.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from .feedback_html import MATHJAX_CONFIG, TEMPLATES, nbgrader_templates

RUBRIC = re.compile(r"^\*\*Rubric\b\.?\*\*\.?[ \t]*", re.M)
MODEL = re.compile(r"^\*\*Model answer\.?\*\*\.?[ \t]*")
# jupyter-server-mathjax's static files, under the Jupyter server's base URL (HTMLExporter.mathjax_url)
MATHJAX = f"static/jupyter_server_mathjax/MathJax.js?config={MATHJAX_CONFIG}"


def split_answer(source: str) -> tuple[str, str | None]:
    """``(model answer, rubric)`` of a source answer cell; ``rubric`` is None where it has no marker."""
    m = RUBRIC.search(source)
    if m is None:
        return MODEL.sub("", source.strip()), None
    return MODEL.sub("", source[:m.start()].strip()), source[m.end():].strip()


def manual_cells(nb) -> dict[str, nbformat.NotebookNode]:
    """``{grade_id: cell}`` of the answers graded by hand (nbgrader's ``grade`` and ``solution``)."""
    return {m["grade_id"]: c for c in nb.cells
            if (m := c.metadata.get("nbgrader", {})).get("grade") and m.get("solution")}


def template_basedirs() -> list[str]:
    """Where the exporter finds ``xai_formgrade`` and the ``formgrade`` it builds on."""
    return [str(TEMPLATES), str(nbgrader_templates())]


def template_paths() -> list[str]:
    """Where ``{% extends 'formgrade/index.html.j2' %}`` (not our own ``index.html.j2``) and
    ``xai_mathjax.html.j2`` are found."""
    return [str(nbgrader_templates()), str(TEMPLATES)]


class RubricCells(Preprocessor):
    """Each manually graded cell gets ``metadata.xai = {"rubric", "model_answer", "source"}`` from the
    course's source notebook (``rubric`` None when the source has none, or no such notebook)."""

    enabled = Bool(True).tag(config=True)

    def source_notebook(self, resources) -> Path | None:
        from nbgrader.coursedir import CourseDirectory

        assignment, notebook = resources.get("assignment_id"), resources.get("notebook_id")
        if not (assignment and notebook):      # not the formgrader's page (no submission named)
            return None
        course = CourseDirectory(config=self.config)
        return Path(course.format_path(course.source_directory, ".", assignment)) / f"{notebook}.ipynb"

    def preprocess(self, nb, resources):
        path = self.source_notebook(resources)
        if path is None:
            return nb, resources
        if path.is_file():
            source = manual_cells(nbformat.read(path, as_version=4))
        else:       # the page says so beside each answer
            self.log.warning("no source notebook %s: the formgrader shows no rubric", path)
            source = {}
        for gid, cell in manual_cells(nb).items():
            model, rubric = split_answer(source[gid].source) if gid in source else ("", None)
            cell.metadata["xai"] = {"rubric": rubric, "model_answer": model, "source": str(path)}
        return nb, resources
