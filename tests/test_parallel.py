"""Parallel grading with one gradebook writer gives exactly the scores of plain sequential autograde."""
import pytest

from autograder.course import demo, parallel, sandbox
from autograder.course.coursedir import CourseDir

pytestmark = [pytest.mark.roundtrip, pytest.mark.xdist_group("parallel")]
NAME = "bptt"   # the quickest notebook
needs_bwrap = pytest.mark.skipif(bool(sandbox.sandbox_problem()), reason=f"{sandbox.sandbox_problem()}")


@pytest.fixture(scope="module")
def sequential_course(tmp_path_factory):
    rt = demo.prepare(tmp_path_factory.mktemp("seq") / "course", [NAME], progress=False)
    for student in demo.STUDENTS:
        rt.course.autograde(NAME, student)
    return rt.course, rt.course.scores()


@pytest.fixture(scope="module")
def sequential(sequential_course):
    return sequential_course[1]


@needs_bwrap
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


def test_grade_stops_where_bubblewrap_cannot_run(sequential_course, monkeypatch, capsys):
    from autograder.cli import main

    course, _ = sequential_course
    monkeypatch.setenv(sandbox.BWRAP, "/nonexistent/bwrap")
    assert main(["grade", str(course.root), NAME]) == 2
    err = capsys.readouterr().err
    assert "cannot isolate the submissions: bubblewrap ('bwrap') was not found at /nonexistent/bwrap" in err
    assert "--no-os-sandbox" in err


def test_grade_without_the_sandbox_says_so_in_the_table_and_the_log(sequential_course, monkeypatch, capsys):
    from autograder.cli import main

    course, scores = sequential_course
    monkeypatch.setenv(sandbox.BWRAP, "/nonexistent/bwrap")
    assert main(["grade", str(course.root), NAME, "--student", "blank", "--no-os-sandbox"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"WARNING: {parallel.NOT_ISOLATED}") and out.rstrip().endswith(parallel.NOT_ISOLATED)
    [row] = [line for line in out.splitlines() if line.startswith("blank ")]
    assert "graded" in row and parallel.NOT_ISOLATED in row
    log = (course.root / "logs" / f"autograde-{NAME}.log").read_text()
    assert f" {NAME} blank graded: {parallel.NOT_ISOLATED}" in log
    assert course.scores()[("blank", NAME)] == scores[("blank", NAME)]


def test_the_executors_stderr_is_written_to_the_instructors_log(tmp_path):
    """``JobResult.log`` (the executor's stderr tail) reaches logs/autograde-<a>.log, after the decisions,
    without the guard's machine-readable report lines."""
    from autograder.course import guard

    stderr = ("[IPKernelApp] WARNING | Unknown error in handling startup files\n\n"
              f'{guard.TAG}{{"kind": "gradebook", "detail": "opened gradebook.db"}}\n'
              "MemoryError: Unable to allocate 8.00 GiB\n")
    results = [parallel.JobResult("ada", status="rejected", lines=["rejected: the kernel died"], log=stderr),
               parallel.JobResult("bob")]
    path = parallel._write_log(CourseDir(tmp_path), NAME, results)
    assert path == tmp_path / "logs" / f"autograde-{NAME}.log"
    lines = [line.split(" ", 1)[1] for line in path.read_text().splitlines()]   # without the time stamp
    assert lines == [f"{NAME} ada rejected: rejected: the kernel died",
                     f"{NAME} ada rejected: executor: [IPKernelApp] WARNING | Unknown error in handling startup files",
                     f"{NAME} ada rejected: executor: MemoryError: Unable to allocate 8.00 GiB",
                     f"{NAME} bob graded: graded"]
