"""A full nbgrader round trip in a temporary course directory: release, three submissions per
assignment, autograde, feedback, export, and the gradebook's scores."""
import csv

import pytest

from autograder.course import demo
from autograder.course.coursedir import assignments

# one worker runs the whole round trip (a module-scoped fixture per worker would repeat it)
pytestmark = [pytest.mark.roundtrip, pytest.mark.xdist_group("roundtrip")]


@pytest.fixture(scope="module")
def roundtrip(tmp_path_factory):
    return demo.run(tmp_path_factory.mktemp("course") / "course", progress=False)


def test_every_submission_gets_the_score_it_deserves(roundtrip):
    assert roundtrip.mismatches() == []
    for name in assignments():
        tests = roundtrip.tests[name]
        full = sum(tests.values())
        auto = lambda s: sum(v for v, _ in roundtrip.scores[(s, name)].values() if v is not None)  # noqa: E731
        assert auto("solution") == full > 0
        assert auto("blank") == 0
        assert 0 < auto("partial") < full


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
