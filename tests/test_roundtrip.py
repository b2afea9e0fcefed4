"""Full nbgrader round trips in a temporary course directory: release, three submissions per
assignment, autograde, feedback, export, and the gradebook's scores.

Every assignment goes through the class run (``conftest.graded_class``: the pipeline of
``xai-course grade``, sandboxed where bubblewrap runs); the main job's own path (``xai-course demo``:
plain ``nbgrader autograde`` per student) runs on one assignment, whose scores must be the same.
"""
import csv

import pytest
from conftest import CLASS_RUN

from autograder.course import demo
from autograder.course.coursedir import assignments

pytestmark = [pytest.mark.roundtrip, pytest.mark.xdist_group(CLASS_RUN)]
DEMO_ASSIGNMENT = "bptt"   # the quickest notebook


@pytest.fixture(scope="module")
def roundtrip(graded_class):
    return graded_class[0]


def test_every_submission_gets_the_score_it_deserves(roundtrip):
    assert roundtrip.mismatches() == []
    for name in assignments():
        tests = roundtrip.tests[name]
        full = sum(tests.values())
        auto = lambda s: sum(v for v, _ in roundtrip.scores[(s, name)].values() if v is not None)  # noqa: E731
        assert auto("solution") == full > 0
        assert auto("blank") == 0
        assert 0 < auto("partial") < full


def test_every_assignment_is_graded_under_the_guard_without_a_false_alarm(graded_class):
    """The solution, the partly wrong and the blank submission of every assignment: graded, and not
    one finding of the guard."""
    _, results = graded_class
    assert [(key, r.status, r.findings) for key, r in results.items()] == \
        [(key, "graded", []) for key in results], [r.lines for r in results.values()]


def test_the_demo_command_gives_the_same_scores(graded_class, tmp_path):
    """``xai-course demo``'s own path (plain ``nbgrader autograde --student``) on one assignment."""
    rt = demo.run(tmp_path / "course", [DEMO_ASSIGNMENT], progress=False)
    assert rt.mismatches() == []
    class_scores = graded_class[0].scores
    assert {s: rt.scores[(s, DEMO_ASSIGNMENT)] for s in demo.STUDENTS} == \
        {s: class_scores[(s, DEMO_ASSIGNMENT)] for s in demo.STUDENTS}
    assert len(rt.feedback) == len(demo.STUDENTS) and rt.grades_csv.is_file()
    assert DEMO_ASSIGNMENT in demo.table(rt)


def test_feedback_and_export_are_written(roundtrip):
    names = assignments()
    assert len(roundtrip.feedback) == 3 * len(names)
    for html in roundtrip.feedback:
        text = html.read_text(errors="replace")
        assert "<html" in text.lower()
        # the course's feedback (autograder.course.feedback_html): no hidden tests, checks named by question
        assert "BEGIN HIDDEN TESTS" not in text and "Test cell" not in text and "Check of" in text
        assert "cdnjs.cloudflare.com/ajax/libs/mathjax" not in text
    with open(roundtrip.grades_csv) as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["student_id"], r["assignment"]) for r in rows} >= {(s, n) for s in demo.STUDENTS for n in names}
    solution_rows = [r for r in rows if r["student_id"] == "solution"]
    assert all(float(r["raw_score"]) > 0 for r in solution_rows)


def test_table_lists_every_question(roundtrip):
    text = demo.table(roundtrip)
    for name in assignments():
        assert name in text
        for gid in roundtrip.tests[name]:
            assert gid in text
