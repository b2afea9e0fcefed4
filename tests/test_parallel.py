"""Parallel grading with one gradebook writer gives exactly the scores of plain sequential autograde."""
import pytest

from autograder.course import demo, parallel
from autograder.course.coursedir import CourseDir

pytestmark = [pytest.mark.roundtrip, pytest.mark.xdist_group("parallel")]
NAME = "bptt"   # the quickest notebook


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    rt = demo.prepare(tmp_path_factory.mktemp("seq") / "course", [NAME], progress=False)
    for student in demo.STUDENTS:
        rt.course.autograde(NAME, student)
    return rt.course.scores()


@pytest.mark.parametrize("engine", ["processes", "dask"])
def test_parallel_scores_equal_sequential(engine, tmp_path, sequential):
    rt = demo.prepare(tmp_path / "course", [NAME], progress=False)
    results = parallel.autograde_parallel(rt.course, NAME, list(demo.STUDENTS), workers=2, engine=engine)
    assert all(r.ok for r in results), [r.log for r in results if not r.ok]
    assert rt.course.scores() == sequential
    rt.scores = rt.course.scores()
    assert rt.mismatches() == []
    # the submissions themselves are untouched; executed copies live beside them
    assert (rt.course.root / "submitted" / "blank" / NAME / f"{NAME}.ipynb").is_file()
    assert (rt.course.root / parallel.EXECUTED / "blank" / NAME / f"{NAME}.ipynb").is_file()


def test_unknown_engine_is_named(tmp_path):
    with pytest.raises(ValueError, match="engine"):
        parallel.autograde_parallel(CourseDir(tmp_path), NAME, ["blank"], engine="spark")


def test_grade_command_names_what_it_expects(tmp_path, capsys):
    from autograder.cli import main

    assert main(["grade", str(tmp_path), NAME]) == 2
    assert "expected an nbgrader course with gradebook.db and submitted/" in capsys.readouterr().err


def test_every_assignment_is_graded_under_the_guard_without_a_false_alarm(tmp_path):
    """The solution, the partly wrong and the blank submission of every assignment, through the safe
    pipeline: the scores the round trip expects, and not one finding of the guard."""
    from autograder.course.coursedir import assignments

    rt = demo.prepare(tmp_path / "course", assignments(), progress=False)
    for name in rt.names:
        results = parallel.autograde_parallel(rt.course, name, list(demo.STUDENTS), workers=2)
        assert [(r.student, r.status, r.findings) for r in results] == \
            [(s, "graded", []) for s in demo.STUDENTS], [r.lines for r in results]
    rt.scores = rt.course.scores()
    assert rt.mismatches() == []
