"""What a student's feedback HTML shows: each graded cell named by its question, no hidden tests,
math rendered without the internet.

nbgrader's own feedback page (``generate_feedback``) names every check "Test cell" and shows the
test cells as the autograder ran them, hidden tests included (nbgrader issue #917). The course's
config (``coursedir.CONFIG``) puts two things in its place:

- ``FeedbackCells``, a preprocessor run after nbgrader's ``GetGrades``: it removes every
  ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` region from the cells, replaces the
  traceback of an error in such a cell by its last line (the check's message: a traceback quotes
  the hidden call), and stores each graded cell's question (``labels``) in ``metadata.xai.label``;
- ``FeedbackExporter``, nbgrader's HTML exporter with the template ``templates/xai_feedback``
  (nbgrader's feedback page, the cells named by that label) and MathJax from the
  ``jupyter-server-mathjax`` package instead of a CDN.
"""
from __future__ import annotations

import re
from pathlib import Path

from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from .labels import labels

HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*\n?", re.S | re.M)
HIDDEN_NOTE = "# (further tests, hidden)\n"
TEMPLATES = Path(__file__).resolve().with_name("templates")


def nbgrader_templates() -> Path:
    """The formgrader's template folder (``formgrade/``, ``feedback/``), which ours extend."""
    import nbgrader

    return Path(nbgrader.__file__).resolve().parent / "server_extensions" / "formgrader" / "templates"


def strip_hidden(source: str) -> str:
    """``source`` with every hidden-test region replaced by one comment line."""
    return HIDDEN.sub(HIDDEN_NOTE, source)


# The one combined configuration that jupyter-server-mathjax ships (not nbconvert's TeX-AMS_CHTML-full).
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"


def local_mathjax() -> str:
    """A ``file://`` URL of the MathJax that ``jupyter-server-mathjax`` ships (the formgrader's page gets
    the same files from the Jupyter server: ``formgrade.MATHJAX``)."""
    import jupyter_server_mathjax

    path = Path(jupyter_server_mathjax.__file__).resolve().parent / "static" / "MathJax.js"
    return f"{path.as_uri()}?config={MATHJAX_CONFIG}"


class FeedbackCells(Preprocessor):
    """Hidden tests out, question labels in (see the module docstring)."""

    enabled = Bool(True).tag(config=True)   # nbgrader registers its preprocessors without enabling them

    def preprocess(self, nb, resources):
        names = labels(nb)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and HIDDEN.search(cell.source):
                cell.source = strip_hidden(cell.source)
                for out in cell.get("outputs", []):
                    if out.output_type == "error":
                        out.traceback = [f"{out.ename}: {out.evalue}"]
            if meta.get("grade"):
                cell.metadata["xai"] = {"label": str(names[meta["grade_id"]])}
        return nb, resources


class FeedbackExporter(HTMLExporter):
    """nbgrader's feedback HTML through ``templates/xai_feedback``, with a local MathJax."""

    def __init__(self, **kwargs):
        from traitlets.config import Config

        # as config of this class: it outranks the HTMLExporter section that nbgrader's
        # generate_feedback writes (template "feedback"), and leaves the formgrader's exporter alone
        config = Config(kwargs.pop("config", None) or {})
        templates = nbgrader_templates()
        bootstrap = templates.parent / "static" / "node_modules" / "bootstrap" / "dist" / "css"   # as generate_feedback
        config.FeedbackExporter.template_name = "xai_feedback"
        config.FeedbackExporter.extra_template_basedirs = [str(TEMPLATES), str(templates)]
        config.FeedbackExporter.mathjax_url = local_mathjax()
        config.FeedbackExporter.preprocessors = []      # not the formgrader's RubricCells (course config)
        # where the template's {% extends 'feedback/index.html.j2' %}, xai_mathjax.html.j2 and
        # bootstrap.min.css are found
        config.FeedbackExporter.extra_template_paths = [str(bootstrap), str(templates), str(TEMPLATES)]
        super().__init__(config=config, **kwargs)

    def from_notebook_node(self, nb, resources=None, **kw):
        html, resources = super().from_notebook_node(nb, resources, **kw)
        # nbgrader's feedback template calls mathjax() without resources.mathjax_url: its CDN default
        # lands in the page; point it at the local copy
        return html.replace(HTMLExporter.mathjax_url.default_value, self.mathjax_url), resources
