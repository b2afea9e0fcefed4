"""The formgrader's page of a submission: each written answer's rubric beside it (from the course's
source notebook), MathJax from the Jupyter server, and the rubric nowhere a student looks.

The page is rendered here as the formgrader renders it: nbconvert's HTMLExporter with the formgrader's
defaults (template ``formgrade``), then the course's ``nbgrader_config.py``. The browser test
(test_browser.py) loads the same page from a running formgrader.
"""
import re
from pathlib import Path

import jupyter_server_mathjax
import nbformat
import pytest
from nbconvert.exporters import HTMLExporter
from traitlets.config import Config, PyFileConfigLoader

from test_feedback_html import assert_mathjax_configs_exist

from autograder.course import material
from autograder.course.coursedir import CourseDir
from autograder.course.feedback_html import FeedbackExporter
from autograder.course.formgrade import manual_cells, split_answer

NAME = "prototypes"
CDN = "cdnjs.cloudflare.com"


def words(rubric: str) -> str:
    """The longest stretch of a rubric's text without math or Markdown marks (what any rendering shows)."""
    pieces = re.split(r"\$[^$]*\$|\*+|`|\n", rubric)
    return max((p.strip(" .,;:()") for p in pieces), key=len)


def course_config(root) -> Config:
    """The formgrader's exporter config: its defaults, then the course's nbgrader_config.py on top."""
    from nbgrader.server_extensions.formgrader import handlers

    config = Config()
    config.HTMLExporter.template_name = "formgrade"         # FormgradeExtension.build_extra_config
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config())
    return config


def page_resources(notebook, assignment=NAME):
    """The resources the formgrader's SubmissionHandler passes to the exporter."""
    return {"assignment_id": assignment, "notebook_id": notebook, "submission_id": "s1", "index": 0, "total": 1,
            "base_url": "/user/ta", "student": "blank", "last_name": "", "first_name": "",
            "notebook_path": f"autograded/blank/{NAME}/{NAME}.ipynb"}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return CourseDir(tmp_path_factory.mktemp("course") / "course").create([NAME])


@pytest.fixture(scope="module")
def rubrics():
    """``{grade_id: rubric}`` of the assignment's written answers, from the instructor's notebook."""
    source = nbformat.read(material.notebook("source", NAME), as_version=4)
    return {gid: split_answer(cell.source)[1] for gid, cell in manual_cells(source).items()}


def test_every_written_answer_of_the_course_has_a_rubric():
    for name in material.assignments():
        cells = manual_cells(nbformat.read(material.notebook("source", name), as_version=4))
        for gid, cell in cells.items():
            model, rubric = split_answer(cell.source)
            assert rubric and model, f"{name}/{gid}: no '**Rubric.**' after the model answer"
            assert "Rubric" not in model and not rubric.startswith("**")


def test_split_answer_takes_the_rubric_from_its_marker_on():
    assert split_answer("**Model answer.** Yes.\n\n**Rubric** (4 points).\n1 point: says yes.") == \
        ("Yes.", "(4 points).\n1 point: says yes.")
    assert split_answer("**Model answer.** Yes.") == ("Yes.", None)
    assert split_answer("It says **Rubric.** inside a line.")[1] is None      # only at the start of a line


def test_the_formgrader_page_shows_each_rubric_beside_its_answer(course, rubrics):
    assert len(rubrics) >= 2
    exporter = HTMLExporter(config=course_config(course.root))
    release = material.notebook("release", NAME)
    html, _ = exporter.from_filename(str(release), resources=page_resources(NAME))
    for gid, rubric in rubrics.items():
        row = re.search(rf'<div class="xai-graded">(.*?)<div class="panel panel-info xai-rubric" id="{gid}-rubric">'
                        rf'(.*?)</details>', html, re.S)
        assert row, f"no rubric beside the answer {gid}"
        answer, panel = row.groups()
        assert f'id="{gid}"' in answer and "YOUR ANSWER HERE" in answer     # the score box and the answer
        assert words(rubric) in panel
        assert "Model answer" in panel
    assert html.count('class="panel panel-info xai-rubric"') == len(rubrics)
    assert "No rubric" not in html
    (src,) = re.findall(r'<script[^>]+src="([^"]*MathJax[^"]*)"', html)
    assert src.startswith("/user/ta/static/jupyter_server_mathjax/MathJax.js?config=")   # served by the server
    assert_mathjax_configs_exist(src, Path(jupyter_server_mathjax.__file__).parent / "static")
    assert CDN not in html


def test_a_missing_source_notebook_is_said_not_hidden(course, rubrics, tmp_path):
    exporter = HTMLExporter(config=course_config(course.root))
    renamed = tmp_path / "other.ipynb"
    renamed.write_bytes(material.notebook("release", NAME).read_bytes())
    html, _ = exporter.from_filename(str(renamed), resources=page_resources("other"))
    assert html.count("No rubric in ") == len(rubrics)
    assert f"source/{NAME}/other.ipynb" in html


def test_no_student_sees_a_rubric(course, rubrics):
    """Not in the release, and not in the feedback, even when rendered with the course's config and a
    submission's names (the formgrader's preprocessor would find the rubric then)."""
    release = material.notebook("release", NAME).read_text()
    graded = nbformat.reads(release, as_version=4)
    for cell in graded.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.metadata.nbgrader["score"] = 0.0
    feedback, _ = FeedbackExporter(config=course_config(course.root)).from_notebook_node(
        graded, resources=page_resources(NAME) | {"nbgrader": {"notebook": NAME, "score": 0, "max_score": 1,
                                                                "late_penalty": 0}})
    assert "Your answer to" in feedback                 # the feedback page, with its written answers
    for rubric in rubrics.values():
        assert words(rubric) not in release
        assert words(rubric) not in feedback
    assert "xai-rubric" not in feedback
