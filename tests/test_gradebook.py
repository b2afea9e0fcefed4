"""A gradebook that is not exactly nbgrader's is refused before anything is scored into it."""
from __future__ import annotations

import shutil
import sqlite3

import pytest
from nbgrader.api import Gradebook

from autograder.course import gradebook, parallel
from autograder.course.coursedir import CONFIG, CourseDir

ADDED = {
    "trigger": "CREATE TRIGGER steal AFTER UPDATE ON grade BEGIN UPDATE grade SET manual_score = 0; END",
    "view": "CREATE VIEW everyone AS SELECT * FROM student",
    "table": "CREATE TABLE notes (x TEXT)",
    "index": "CREATE INDEX by_name ON student (last_name)",
}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    path = tmp_path_factory.mktemp("made") / "gradebook.db"
    with Gradebook(f"sqlite:///{path}") as gb:   # as nbgrader makes it (it runs alembic), with a student
        gb.add_student("ada")
    return path


@pytest.fixture
def db(made, tmp_path):
    shutil.copy(made, tmp_path / "gradebook.db")
    return tmp_path / "gradebook.db"


def _execute(db, sql):
    with sqlite3.connect(db) as conn:
        conn.execute(sql)
    conn.close()


def test_nbgraders_own_gradebook_passes(db):
    assert gradebook.problems(db) == []
    assert ("table", "grade") in gradebook.nbgrader_schema()
    assert not [key for key in gradebook.nbgrader_schema() if key[0] in ("trigger", "view")]


@pytest.mark.parametrize("kind", sorted(ADDED))
def test_an_added_object_is_refused_by_name(db, kind):
    _execute(db, ADDED[kind])
    name = ADDED[kind].split()[2]
    assert gradebook.problems(db) == [f"{kind} {name!r} is not part of nbgrader's gradebook"]
    with pytest.raises(gradebook.GradebookError, match=f"{kind} '{name}' is not part of nbgrader's"):
        gradebook.require(db, "before grading")


def test_a_dropped_or_altered_table_is_refused(db):
    _execute(db, "DROP TABLE comment")
    _execute(db, "ALTER TABLE student ADD COLUMN secret TEXT")
    found = gradebook.problems(db)
    assert any("table 'comment' of nbgrader's gradebook is missing" in p for p in found)
    assert any("table 'student' differs from nbgrader's" in p for p in found)


def test_a_symlink_or_a_non_database_is_refused(db, tmp_path):
    link = tmp_path / "linked.db"
    link.symlink_to(db)
    assert "is a symbolic link" in gradebook.problems(link)[0]
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"all A" * 100)
    assert "not an SQLite database" in gradebook.problems(junk)[0]
    assert "does not exist" in gradebook.problems(tmp_path / "gone.db")[0]


def test_grading_refuses_a_tampered_gradebook_before_anything_runs(db, tmp_path, capsys):
    """Refused with the trigger named, exit status 2, and nothing scored: no nbgrader run needed."""
    from autograder.cli import main

    root = db.parent
    (root / "nbgrader_config.py").write_text(CONFIG.format(root=str(root), timeout=10))
    (root / "submitted" / "ada" / "bptt").mkdir(parents=True)
    _execute(db, ADDED["trigger"])
    with pytest.raises(gradebook.GradebookError, match="trigger 'steal'"):
        parallel.autograde_parallel(CourseDir(root), "bptt", ["ada"])
    assert main(["grade", str(root), "bptt"]) == 2
    assert "refusing the gradebook" in capsys.readouterr().err
    assert not (root / "autograded").exists() and not (root / parallel.EXECUTED).exists()
