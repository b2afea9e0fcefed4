"""No command deletes or overwrites what it did not create without --force.

demo (a folder it did not build), release (a notebook that holds a student's work), course new (a
non-empty folder), course add (an assignment already in the course), start (a working copy), and a
foreign course made by ``nbgrader quickstart`` that adopts one assignment with nothing else changed.
"""
import hashlib
import subprocess
import sys

import nbformat
import pytest

from autograder import cli
from autograder.course import demo, material, scaffold
from autograder.course.coursedir import Refused, nbgrader_env
from autograder.course.release import work_in

NAME = "taylor"


def tree_hash(root, skip=()) -> dict:
    """``{relative path: sha256}`` of every file under ``root`` outside the folders in ``skip``."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()
            and not any(p.relative_to(root).parts[:len(s)] == tuple(s) for s in skip)}


def released():
    return nbformat.read(material.notebook("release", NAME), as_version=4)


def _answer_cell(nb):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code")


# --- what counts as a student's work ---------------------------------------------------------
def test_every_committed_release_holds_no_work():
    for name in material.assignments():
        nb = nbformat.read(material.notebook("release", name), as_version=4)
        assert work_in(nb, nb) == [], name


def test_an_answer_an_output_and_a_scratch_cell_count_as_work():
    fresh = released()
    typed = released()
    _answer_cell(typed).source = "R_sens = 1"
    assert any("was edited" in w for w in work_in(typed, fresh))
    ran = released()
    ran.cells[1].execution_count = 3
    assert any("were run" in w for w in work_in(ran, fresh))
    scratch = released()
    free = next(c for c in scratch.cells if "nbgrader" not in c.metadata)
    free.source = "print('my own experiment')"
    assert any("holds text" in w for w in work_in(scratch, fresh))


def test_release_refuses_to_overwrite_work_unless_forced(tmp_path, capsys):
    path = tmp_path / NAME / f"{NAME}.ipynb"
    path.parent.mkdir()
    nb = released()
    _answer_cell(nb).source = "R_sens = 'my answer'"
    nbformat.write(nb, path)
    before = path.read_bytes()
    assert cli.main(["release", "--assignment", NAME, "--out", str(tmp_path)]) == 2
    assert "student's work" in capsys.readouterr().err and path.read_bytes() == before
    assert cli.main(["release", "--assignment", NAME, "--out", str(tmp_path), "--force"]) == 0
    assert path.read_bytes() == material.notebook("release", NAME).read_bytes()


# --- demo ------------------------------------------------------------------------------------
def test_demo_refuses_a_folder_it_did_not_build(tmp_path, capsys):
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.tex").write_text("precious")
    assert cli.main(["demo", "--course-dir", str(mine), "--assignment", NAME]) == 2
    assert "not built by xai-course demo" in capsys.readouterr().err
    assert (mine / "chapter1.tex").read_text() == "precious"


def test_demo_replaces_only_its_own_course_or_with_force(tmp_path):
    root = tmp_path / "course"
    root.mkdir()
    (root / "notes.txt").write_text("mine")
    with pytest.raises(Refused):
        demo.claim(root)
    assert (root / "notes.txt").read_text() == "mine"
    demo.claim(root, force=True)
    assert sorted(p.name for p in root.iterdir()) == [demo.MARKER]
    (root / "stale").write_text("left by an earlier demo run")
    demo.claim(root)          # its own course: replaced without --force
    assert sorted(p.name for p in root.iterdir()) == [demo.MARKER]


# --- course new / add, start -----------------------------------------------------------------
def test_course_new_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    assert cli.main(["course", "new", str(tmp_path), "--assignment", NAME]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
    assert cli.main(["course", "new", str(tmp_path), "--assignment", NAME, "--force"]) == 0
    assert (tmp_path / "keep.txt").read_text() == "x"
    assert (tmp_path / "source" / NAME / f"{NAME}.ipynb").is_file()
    assert "CourseDirectory.root" in (tmp_path / "nbgrader_config.py").read_text()


def test_course_add_refuses_to_overwrite_and_needs_a_course(tmp_path, capsys):
    assert cli.main(["course", "add", str(tmp_path), NAME]) == 2
    assert "not an nbgrader course" in capsys.readouterr().err
    scaffold.new_course(tmp_path / "c", [NAME])
    nb = tmp_path / "c" / "source" / NAME / f"{NAME}.ipynb"
    nb.write_text("edited by the instructor")
    assert cli.main(["course", "add", str(tmp_path / "c"), NAME]) == 2
    assert nb.read_text() == "edited by the instructor"
    assert cli.main(["course", "add", str(tmp_path / "c"), NAME, "--force"]) == 0
    assert nb.read_bytes() == material.notebook("source", NAME).read_bytes()
    with pytest.raises(SystemExit):   # argparse: an unknown assignment is a usage error
        cli.main(["course", "add", str(tmp_path / "c"), "no_such_assignment"])
    assert "expected one of" in capsys.readouterr().err


def test_start_never_overwrites_and_stays_out_of_the_course(tmp_path, capsys):
    assert cli.main(["start", NAME, str(tmp_path / "me")]) == 0
    copy = tmp_path / "me" / f"{NAME}.ipynb"
    assert copy.read_bytes() == material.notebook("release", NAME).read_bytes()
    copy.write_text("my work")
    assert cli.main(["start", NAME, str(tmp_path / "me")]) == 2
    assert "never overwrites" in capsys.readouterr().err and copy.read_text() == "my work"
    assert cli.main(["start", NAME, str(material.root("release") / NAME)]) == 2
    assert "inside the course" in capsys.readouterr().err


def foreign_by_hand(root):
    """An nbgrader course as an instructor writes one: a config naming its own source folder, one assignment."""
    root.mkdir()
    (root / "nbgrader_config.py").write_text('c = get_config()\nc.CourseDirectory.source_directory = "src"\n')
    (root / "src" / "week1").mkdir(parents=True)
    (root / "src" / "week1" / "week1.ipynb").write_text("{}")
    (root / "gradebook.db").write_bytes(b"not touched")
    return root, "src"


def foreign_by_quickstart(root):
    subprocess.run([sys.executable, "-m", "nbgrader", "quickstart", root.name], cwd=root.parent, check=True,
                   capture_output=True, env=nbgrader_env())
    assert (root / "source" / "ps1").is_dir(), "quickstart made its example assignment"
    return root, "source"


@pytest.mark.parametrize("make", [foreign_by_hand, pytest.param(foreign_by_quickstart, marks=pytest.mark.slow)])
def test_a_foreign_course_adopts_one_assignment_and_nothing_else_changes(tmp_path, make):
    """``nbgrader quickstart`` spends ~20 s of CPU in generate_config: slow; a hand-made course is not."""
    course, source = make(tmp_path / "foreign")
    before = tree_hash(course)
    assert cli.main(["course", "add", str(course), NAME]) == 0
    assert tree_hash(course, skip=[(source, NAME)]) == before
    assert tree_hash(course / source / NAME) == tree_hash(material.folder("source", NAME))
