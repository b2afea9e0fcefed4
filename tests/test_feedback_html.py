"""The feedback HTML a student gets: questions by name, no hidden tests (nbgrader #917), local MathJax."""
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import nbformat
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor

from autograder.course import material
from autograder.course.feedback_html import FeedbackCells, FeedbackExporter, strip_hidden

NAME = "lrp_max"


def autograded():
    """The instructor's notebook as nbgrader's autograde leaves it: scores on the graded cells, and a
    failed hidden test whose traceback quotes the hidden call."""
    nb = nbformat.read(material.notebook("source", NAME), as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            meta["score"] = 0.0
        if "BEGIN HIDDEN TESTS" in cell.source:
            hidden = cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0].strip()
            cell.outputs = [nbformat.v4.new_output("error", ename="CheckFailed", evalue="R1 is wrong",
                                                   traceback=[f"----> 3 {hidden.splitlines()[0]}", "CheckFailed: R1 is wrong"])]
    return nb


def render(nb) -> str:
    exporter = FeedbackExporter()
    for pp in (CSSHTMLHeaderPreprocessor, FeedbackCells):   # as nbgrader's converter registers them
        exporter.register_preprocessor(pp)
    html, _ = exporter.from_notebook_node(nb, resources={"nbgrader": {
        "notebook": NAME, "score": 0, "max_score": 27, "late_penalty": 0}})
    return html


def test_feedback_names_questions_and_hides_the_hidden_tests():
    nb = autograded()
    hidden_calls = [line.strip() for c in nb.cells if "BEGIN HIDDEN TESTS" in c.source
                    for line in c.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0].splitlines()
                    if line.strip() and not line.strip().startswith("#")]
    assert hidden_calls, "the notebook keeps some tests hidden"
    html = render(nb)
    text = re.sub(r"<[^>]+>", "", html)
    assert "BEGIN HIDDEN TESTS" not in html
    for call in hidden_calls:
        assert call not in text, f"hidden test shown in the feedback: {call}"
    assert "R1 is wrong" in text, "the check's message stays"
    assert "Test cell" not in text
    assert re.search(r"Check of\s+Q1 ", text) and re.search(r"Q4 Implement `zplus\(a, w, R\)`", text)


def test_feedback_loads_mathjax_from_disk_not_a_cdn():
    html = render(autograded())
    (src,) = re.findall(r'<script[^>]+src="([^"]*MathJax[^"]*)"', html)
    url = urlparse(src)
    assert url.scheme == "file" and Path(url.path).is_file()
    assert "cdn" not in html.lower().split("mathjax")[0][-200:]
    assert_mathjax_configs_exist(src, Path(url.path).parent)


def assert_mathjax_configs_exist(src: str, static: Path) -> None:
    """Every configuration named in ``MathJax.js?config=a,b`` is a file MathJax can load from ``static``
    (nbconvert's default TeX-AMS_CHTML-full is not in jupyter-server-mathjax: the math stays raw)."""
    names = parse_qs(urlparse(src).query)["config"][0].split(",")
    for name in names:
        assert (static / "config" / f"{name}.js").is_file() or (static / "extensions" / f"{name}.js").is_file(), name


def test_strip_hidden_keeps_the_visible_tests():
    src = "check(a)\n### BEGIN HIDDEN TESTS\ncheck(b, secret=1)\n### END HIDDEN TESTS\ncheck(c)\n"
    assert strip_hidden(src) == "check(a)\n# (further tests, hidden)\ncheck(c)\n"
