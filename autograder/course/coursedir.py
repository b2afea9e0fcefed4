"""An nbgrader course directory, driven through nbgrader's own commands and gradebook.

Layout (nbgrader's defaults)::

    <root>/nbgrader_config.py
    <root>/gradebook.db
    <root>/source/<assignment>/<assignment>.ipynb          instructor copy (``material``: solutions/)
    <root>/release/<assignment>/<assignment>.ipynb         what students get (= exercises/)
    <root>/submitted/<student>/<assignment>/...            what they hand in
    <root>/autograded/..., <root>/feedback/...             nbgrader's outputs
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import material

REPO = Path(__file__).resolve().parents[2]

CONFIG = """\
c = get_config()  # noqa: F821 - provided by nbgrader
c.CourseDirectory.root = {root!r}
c.CourseDirectory.course_id = "xai-rnn"
# The exchange inside the course, not nbgrader's default /usr/local/share/nbgrader/exchange.
c.Exchange.root = {root!r} + "/exchange"
# Per-cell time limit when autograding; a notebook in this course runs in seconds.
c.ExecutePreprocessor.timeout = {timeout}
# Feedback HTML: cells named by question, hidden tests left out, MathJax from the installed package
# (autograder.course.feedback_html).
c.GenerateFeedback.exporter_class = "autograder.course.feedback_html.FeedbackExporter"
c.GenerateFeedback.preprocessors = ["nbgrader.preprocessors.GetGrades",
                                    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
                                    "autograder.course.feedback_html.FeedbackCells"]
# Formgrader: each written answer's rubric beside it, MathJax from the Jupyter server
# (autograder.course.formgrade).
from autograder.course import formgrade  # noqa: E402
c.HTMLExporter.template_name = "xai_formgrade"
c.HTMLExporter.extra_template_basedirs = formgrade.template_basedirs()
c.HTMLExporter.extra_template_paths = formgrade.template_paths()
c.HTMLExporter.preprocessors = ["autograder.course.formgrade.RubricCells"]
c.HTMLExporter.mathjax_url = formgrade.MATHJAX
"""


def repo_path(*parts: str) -> Path:
    """A path in the course repository (``solutions/``, ``exercises/``), with a clear error if absent."""
    path = REPO.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"expected {path} in the course repository; run xai-course from a checkout "
                                f"(installed with pip install -e .)")
    return path


def assignments() -> list[str]:
    """The course's assignments (``material.assignments``: the package's notebooks, or the checkout's)."""
    return material.assignments()


def nbgrader_env() -> dict[str, str]:
    """The environment for nbgrader: this interpreter's bin/ first on PATH (nbgrader runs ``alembic``)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.setdefault("OMP_NUM_THREADS", "1")   # small models: one BLAS thread per kernel beats oversubscription
    return env


class NbgraderError(RuntimeError):
    pass


class Refused(RuntimeError):
    """A command declined to delete or overwrite something it did not create (``--force`` overrides)."""


@dataclass
class CourseDir:
    root: Path
    timeout: int = 120

    def __post_init__(self):
        self.root = Path(self.root).resolve()

    # --- set-up ------------------------------------------------------------------------------
    def create(self, names: list[str] | None = None) -> "CourseDir":
        """Write the config and copy the instructor notebooks of ``names`` into ``source/``."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "nbgrader_config.py").write_text(CONFIG.format(root=str(self.root), timeout=self.timeout))
        (self.root / "exchange").mkdir(exist_ok=True)   # nbgrader's release / collect go through it
        for name in names or assignments():
            dest = self.root / "source" / name
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(material.folder("source", name), dest,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        return self

    def nbgrader(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``nbgrader ARGS`` in the course directory; raise ``NbgraderError`` with its log on failure."""
        proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=self.root, env=nbgrader_env(),
                              capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise NbgraderError(f"nbgrader {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def add_student(self, student: str, first: str = "", last: str = "") -> None:
        self.nbgrader("db", "student", "add", student, f"--first-name={first}", f"--last-name={last}")

    # --- the round trip ----------------------------------------------------------------------
    def release(self, name: str) -> Path:
        self.nbgrader("generate_assignment", name, "--force")
        return self.root / "release" / name / f"{name}.ipynb"

    def submit(self, student: str, name: str, notebook_text: str, filename: str | None = None) -> Path:
        """Place a submission as nbgrader's ``collect`` would: ``submitted/<student>/<name>/``."""
        folder = self.root / "submitted" / student / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        path = folder / (filename or f"{name}.ipynb")
        path.write_text(notebook_text, encoding="utf-8")
        (folder / "timestamp.txt").write_text(time.strftime("%Y-%m-%d %H:%M:%S.000000 UTC", time.gmtime()))
        return path

    def autograde(self, name: str, student: str | None = None) -> float:
        """Autograde ``name`` (for one student, or all); returns the wall time in seconds."""
        args = ["autograde", name, "--force"] + ([f"--student={student}"] if student else [])
        start = time.perf_counter()
        self.nbgrader(*args)
        return time.perf_counter() - start

    def generate_feedback(self, name: str) -> None:
        self.nbgrader("generate_feedback", name, "--force")

    def export(self) -> Path:
        self.nbgrader("export", "--to=grades.csv")
        return self.root / "grades.csv"

    # --- reading the gradebook ---------------------------------------------------------------
    def scores(self) -> dict:
        """``{(student, assignment): {grade_id: (score or None, max_score)}}`` from the gradebook."""
        from nbgrader.api import Gradebook, MissingEntry

        out = {}
        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}") as gb:
            for assignment in gb.assignments:
                for notebook in assignment.notebooks:
                    for student in gb.students:
                        try:
                            nb = gb.find_submission_notebook(notebook.name, assignment.name, student.id)
                        except MissingEntry:
                            continue
                        out[(student.id, assignment.name)] = {
                            g.name: (None if g.needs_manual_grade else g.score, g.max_score) for g in nb.grades}
        return out
