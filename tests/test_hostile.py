"""The grading pipeline against hostile and broken submissions (tests/hostile_submissions.py).

One course, one run of ``parallel.autograde_parallel`` over the honest demo students (solution,
partial, blank) and every hostile case; then, per case: the score it must get, the status, a log
line an instructor can read; and for the class: the honest students' scores are exactly those of a
plain sequential ``nbgrader autograde`` with not one finding of the guard, the gradebook is intact,
nobody's files were touched, no process a cell started outlives the run, and no startup file stays
behind for later runs.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from autograder.course import demo, parallel, sandbox

from hostile_submissions import (ASSIGNMENT, CASES, ORPHAN_MARKER, STARTUP_FILE, expected_scores, hand_in,
                                 processes_with)

pytestmark = [pytest.mark.roundtrip, pytest.mark.xdist_group("hostile"),
              pytest.mark.skipif(bool(sandbox.sandbox_problem()), reason=f"{sandbox.sandbox_problem()}")]
LIMITS = sandbox.Limits(cell_timeout=20, wall=150)


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


def test_outputs_are_cut(graded):
    executed = graded["rt"].course.root / parallel.EXECUTED / "huge-output" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert executed.stat().st_size < 2_000_000


def test_a_zero_is_a_manual_score_the_instructor_can_see(graded):
    with Gradebook(f"sqlite:///{graded['rt'].course.root / 'gradebook.db'}") as gb:
        nb = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "monkeypatch-check")
        assert all(g.manual_score == 0 for g in nb.grades)
        assert any("Scored 0 by the grader" in (c.manual_comment or "") for c in nb.comments)


def test_a_clean_regrade_lifts_the_zero(graded):
    """Last in this file: it regrades one student of the shared course; a later run, which the
    ``startup-file`` case would have killed had it been able to leave its file behind."""
    course = graded["rt"].course
    correct = (course.root / "submitted" / "solution" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    course.submit("monkeypatch-check", ASSIGNMENT, correct)
    [result] = parallel.autograde_parallel(course, ASSIGNMENT, ["monkeypatch-check"], limits=LIMITS)
    assert result.status == "graded" and "an earlier zero by the grader was lifted" in result.lines
    got = course.scores()[("monkeypatch-check", ASSIGNMENT)]
    assert {gid: s for gid, (s, _) in got.items() if gid in graded["rt"].tests[ASSIGNMENT]} == \
        graded["rt"].tests[ASSIGNMENT]
