"""The grading pipeline against hostile and broken submissions (tests/hostile_submissions.py).

One course, one run of ``parallel.autograde_parallel`` over the honest demo students (solution,
partial, blank) and every hostile case; then, per case: the score it must get, the status, a log
line an instructor can read; and for the class: the honest students' scores are exactly those of a
plain sequential ``nbgrader autograde`` with not one finding of the guard, the gradebook is intact,
its schema nbgrader's, nobody's files were touched, no process a cell started outlives the run, and no
startup file stays behind for later runs. A few cheap checks (no execution) follow on the same course:
a notebook nbgrader cannot restore fails alone; a failure of the grader is the instructor's to look
at, not a zero.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import nbformat
import pytest
from hostile_submissions import (
    ASSIGNMENT,
    CASES,
    ORPHAN_MARKER,
    STARTUP_FILE,
    expected_scores,
    hand_in,
    processes_with,
    set_metadata,
)
from nbgrader.api import Gradebook

from autograder.course import demo, gradebook, parallel, sandbox

pytestmark = [pytest.mark.roundtrip, pytest.mark.xdist_group("hostile"),
              pytest.mark.skipif(bool(sandbox.sandbox_problem()), reason=f"{sandbox.sandbox_problem()}")]
LIMITS = sandbox.Limits(cell_timeout=60, wall=300)   # generous: honest cells (checked at the judge) stay well inside on a busy machine


def _digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    rt = demo.prepare(tmp_path_factory.mktemp("hostile") / "course", [ASSIGNMENT], progress=False)
    course = rt.course
    cases = hand_in(course)
    before = {part: _digest(course.root / part) for part in ("submitted", "source", "release")}
    students = list(demo.STUDENTS) + cases
    results = parallel.autograde_parallel(course, ASSIGNMENT, students, workers=2, limits=LIMITS)
    survivors = processes_with(ORPHAN_MARKER)   # right when grading returns
    return {"rt": rt, "results": {r.student: r for r in results}, "scores": course.scores(),
            "before": before, "survivors": survivors,
            "log": (course.root / "logs" / f"autograde-{ASSIGNMENT}.log").read_text()}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_submission(case, graded):
    tests = graded["rt"].tests[ASSIGNMENT]
    result = graded["results"][case.name]
    got = graded["scores"].get((case.name, ASSIGNMENT))
    assert got is not None, f"{case.name}: no grades in the gradebook; log:\n{result.lines}"
    want = expected_scores(case, tests)
    assert {gid: got[gid][0] for gid in tests} == want, (case.what, result.lines, result.log[-2000:])
    assert result.status == case.status, (case.what, result.lines)
    lines = [line for line in graded["log"].splitlines() if f" {ASSIGNMENT} {case.name} " in line]
    assert lines and any(case.log in line for line in lines), (case.log, lines)


def test_honest_students_get_what_plain_nbgrader_gives(graded):
    rt = graded["rt"]
    rt.scores = graded["scores"]
    assert rt.mismatches() == []
    assert all(graded["results"][s].status == "graded" for s in demo.STUDENTS)


def test_honest_neighbours_of_the_framer_have_no_finding(graded):
    assert [graded["results"][s].findings for s in demo.STUDENTS] == [[]] * len(demo.STUDENTS)


def test_no_submission_and_no_instructor_file_was_touched(graded):
    course = graded["rt"].course
    assert {part: _digest(course.root / part) for part in graded["before"]} == graded["before"]


def test_no_process_started_from_a_cell_outlives_the_run(graded):
    assert graded["results"]["orphan"].status == "graded"
    assert graded["survivors"] == []


def test_a_startup_file_dies_with_its_job(graded):
    from IPython.paths import get_ipython_dir

    left = Path(get_ipython_dir()) / "profile_default" / "startup" / STARTUP_FILE
    if left.exists():   # the sandbox failed: do not leave it to kill this machine's later kernels
        os.remove(left)
        pytest.fail(f"{left} was written into the grader's own HOME")


def test_gradebook_is_intact(graded):
    db = graded["rt"].course.root / "gradebook.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT type, name FROM sqlite_master WHERE type IN ('trigger', 'view')").fetchall() == []
        students = {row[0] for row in conn.execute("SELECT id FROM student")}
    assert {c.name for c in CASES} | set(demo.STUDENTS) <= students
    assert gradebook.problems(db) == []   # the schema is exactly nbgrader's: no trigger, view or table added


def _correct(course):
    return (course.root / "submitted" / "solution" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()


def test_a_notebook_nbgrader_cannot_restore_is_rejected_alone(graded, tmp_path):
    """Without intake's repair, nbgrader refuses these notebooks (one of them would stop a class-wide
    run for everyone); restored one by one, only they fail, each with nbgrader's reason."""
    course = graded["rt"].course
    correct = _correct(course)
    nb = nbformat.reads(correct, as_version=4)
    poisoned = {"too-new": set_metadata({"eq6-check": {"schema_version": 99}})(nb, course.root),
                "text-points": set_metadata({"forward-check": {"points": "all of them"}})(nb, course.root)}
    got = parallel._sanitize(course, ASSIGNMENT, {"solution": correct, **poisoned}, tmp_path, workers=2)
    assert got["solution"].folder is not None and (got["solution"].folder / f"{ASSIGNMENT}.ipynb").is_file()
    assert got["too-new"].folder is None and not got["too-new"].grader_fault
    assert "newer version" in got["too-new"].reason, got["too-new"].reason
    assert got["text-points"].folder is None and not got["text-points"].grader_fault
    assert "could not convert string to float: 'all of them'" in got["text-points"].reason, got["text-points"].reason


def test_nbgrader_failing_for_everyone_is_the_graders_fault(graded, tmp_path, monkeypatch):
    """nbgrader that cannot reach its database fails on the instructor's own notebook too: attention."""
    monkeypatch.setattr(parallel, "CONFIG", parallel.CONFIG + 'c.CourseDirectory.db_url = "sqlite:////nonexistent/x.db"\n')
    got = parallel._sanitize(graded["rt"].course, ASSIGNMENT, {"solution": _correct(graded["rt"].course)}, tmp_path)
    assert got["solution"].folder is None and got["solution"].grader_fault
    assert "fails on the instructor's own notebook too" in got["solution"].reason


def test_outputs_are_cut(graded):
    executed = graded["rt"].course.root / parallel.EXECUTED / "huge-output" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert executed.stat().st_size < 2_000_000


def test_a_zero_is_a_manual_score_the_instructor_can_see(graded):
    with Gradebook(f"sqlite:///{graded['rt'].course.root / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "monkeypatch-check")
        assert all(g.manual_score == 0 for g in nb.grades)
        assert any("Scored 0 by the grader" in (c.manual_comment or "") for c in nb.comments)


def test_a_grader_error_is_attention_not_a_zero(graded, monkeypatch, capsys):
    """An exception in our own code for one submission: status attention, no zero written, a log line,
    and ``xai-course grade`` names it and exits non-zero (no nbgrader run: it fails at intake).
    After the tests that read the executed notebooks: a run clears them."""
    from autograder.cli import main

    course = graded["rt"].course
    before = course.scores()[("blank", ASSIGNMENT)]

    def broken(notebook, source):
        raise KeyError("a bug of the grader's")
    monkeypatch.setattr(parallel.intake, "repair_cells", broken)
    assert main(["grade", str(course.root), ASSIGNMENT, "--student", "blank"]) == 1
    out, err = capsys.readouterr()
    assert "attention" in out and "1 submission(s) need your attention" in err and "blank" in err
    assert course.scores()[("blank", ASSIGNMENT)] == before   # nothing written, least of all a zero
    log = (course.root / "logs" / f"autograde-{ASSIGNMENT}.log").read_text().splitlines()
    assert any(f"{ASSIGNMENT} blank attention: grader error at intake: KeyError" in line for line in log)


def test_a_clean_regrade_lifts_the_zero(graded):
    """Last in this file: it regrades one student of the shared course; a later run, which the
    ``startup-file`` case would have killed had it been able to leave its file behind."""
    course = graded["rt"].course
    course.submit("monkeypatch-check", ASSIGNMENT, _correct(course))
    [result] = parallel.autograde_parallel(course, ASSIGNMENT, ["monkeypatch-check"], limits=LIMITS)
    assert result.status == "graded" and "an earlier zero by the grader was lifted" in result.lines
    got = course.scores()[("monkeypatch-check", ASSIGNMENT)]
    assert {gid: s for gid, (s, _) in got.items() if gid in graded["rt"].tests[ASSIGNMENT]} == \
        graded["rt"].tests[ASSIGNMENT]
