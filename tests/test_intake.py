"""Reading and repairing a submission before it runs; cutting and marking what came back."""
from __future__ import annotations

import copy
import os

import nbformat
import pytest

from autograder.course import intake, sandbox
from autograder.course.coursedir import repo_path

NAME = "bptt"


@pytest.fixture(scope="module")
def source_nb():
    return nbformat.read(repo_path("solutions", NAME, f"{NAME}.ipynb"), as_version=4)


@pytest.fixture(scope="module")
def release_text():
    return repo_path("exercises", NAME, f"{NAME}.ipynb").read_text(encoding="utf-8")


def _hand_in(tmp_path, files: dict):
    for name, content in files.items():
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return intake.read_submission(tmp_path, NAME)


def test_a_proper_notebook_is_taken_as_is(tmp_path, release_text):
    got = _hand_in(tmp_path, {f"{NAME}.ipynb": release_text})
    assert got.ok and got.notes == [] and got.rejected is None
    assert nbformat.reads(got.notebook, as_version=4).cells


def test_a_single_renamed_notebook_is_graded_with_a_note(tmp_path, release_text):
    got = _hand_in(tmp_path, {"bptt-final (2).ipynb": release_text})
    assert got.ok and "handed in as 'bptt-final (2).ipynb'" in got.notes[0]


def test_two_candidate_notebooks_are_rejected_by_name(tmp_path, release_text):
    got = _hand_in(tmp_path, {"a.ipynb": release_text, "b.ipynb": release_text})
    assert not got.ok and "a.ipynb, b.ipynb" in got.rejected


@pytest.mark.parametrize("content, reason", [
    ('{"cells": [', "not valid JSON: Expecting value at line 1, column 12"),
    ("[1, 2]", "JSON but not a notebook"),
    ('{"cells": [{"cell_type": "rocket"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
     "not a valid notebook"),
])
def test_broken_files_are_rejected_with_the_reason(tmp_path, content, reason):
    got = _hand_in(tmp_path, {f"{NAME}.ipynb": content})
    assert not got.ok and reason in got.rejected


def test_latin1_is_read_and_noted(tmp_path, release_text):
    text = release_text.replace("YOUR CODE HERE", "YOUR CODE HERE (Lösung)", 1)
    got = _hand_in(tmp_path, {f"{NAME}.ipynb": text.encode("latin-1", "replace")})
    assert got.ok and "not UTF-8" in got.notes[0] and "Lösung" in got.notebook


def test_oversized_and_missing(tmp_path, release_text):
    (tmp_path / f"{NAME}.ipynb").write_text(release_text)
    assert "MB" in intake.read_submission(tmp_path, NAME, max_bytes=1000).rejected
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no notebook 'bptt.ipynb'" in intake.read_submission(empty, NAME).rejected


def _ids(text):
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nbformat.reads(text, as_version=4).cells]


def test_deleted_test_cell_is_restored_in_place(release_text, source_nb):
    nb = nbformat.reads(release_text, as_version=4)
    before = _ids(release_text)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "eq6-check"]
    text, notes = intake.repair_cells(nbformat.writes(nb), source_nb)
    assert _ids(text) == before
    assert notes == ["test cell 'eq6-check' was deleted; restored from the instructor's notebook"]


def test_unknown_grade_id_becomes_an_ordinary_cell(release_text, source_nb):
    nb = nbformat.reads(release_text, as_version=4)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "eq6-answer")
    answer.metadata.nbgrader.grade_id = "mine"
    text, notes = intake.repair_cells(nbformat.writes(nb), source_nb)
    assert "mine" not in _ids(text) and "unknown grade id 'mine'" in notes[0]


def test_untouched_submission_needs_no_repair(release_text, source_nb):
    text, notes = intake.repair_cells(release_text, source_nb)
    assert notes == [] and _ids(text) == _ids(release_text)


def test_unexecuted_test_cells_fail_and_executed_ones_keep_their_outputs(source_nb):
    nb = nbformat.reads(nbformat.writes(source_nb), as_version=4)
    tests = [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")]
    tests[0].execution_count = 1
    tests[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="✓")]
    n = sandbox.mark_unexecuted(nb, "the kernel died")
    assert n == len(tests) - 1
    assert tests[0].outputs[0].text == "✓"
    assert all(c.outputs[0].ename == "NotExecuted" for c in tests[1:])
    nbformat.validate(nb)


def test_outputs_are_cut_per_cell():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print")])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{i}\n") for i in range(50_000)]
    nb.cells[0].outputs.append(nbformat.v4.new_output("error", ename="E", evalue="", traceback=["x" * 10] * 500))
    sandbox._cut_outputs(nb, 1000)
    stream, error = nb.cells[0].outputs
    assert stream.text.startswith("0\n1\n2\n") and stream.text.endswith("output cut at 1000 characters ...")
    assert len(error.traceback) == 100
    nbformat.validate(nb)


# --- the folder, before anything of it is read ------------------------------------------------------

def _class(tmp_path, release_text, student="ada"):
    """``submitted/<student>/bptt/`` holding the release, as nbgrader's collect places it."""
    folder = tmp_path / "submitted" / student / NAME
    folder.mkdir(parents=True)
    (folder / f"{NAME}.ipynb").write_text(release_text)
    (folder / "timestamp.txt").write_text("2026-11-23 12:00:00.000000 UTC")
    return tmp_path / "submitted", folder


def test_a_plain_submission_folder_passes(tmp_path, release_text):
    submitted, folder = _class(tmp_path, release_text)
    (folder / "data").mkdir()
    (folder / "data" / "notes.txt").write_text("mine")
    assert intake.validate(submitted, "ada", NAME) is None


@pytest.mark.parametrize("name, reason", [
    ("../solution", "path separator or '..'"),
    ("a\\b", "path separator"),
    ("..", "'..'"),
    ("ada\x1b[2J", "control character"),
    ("ada\u202e", "control character"),     # right-to-left override: the log would lie
    (" ada", "white space"),
    ("", "empty"),
    ("a*", "glob character"),
])
def test_student_ids_nbgrader_cannot_take_are_rejected(name, reason):
    assert reason in intake.name_problem(name, "student id")


def test_an_odd_notebook_name_is_rejected_before_it_is_read(tmp_path, release_text):
    submitted, folder = _class(tmp_path, release_text)
    (folder / "bptt\x07.ipynb").write_text(release_text)
    assert "control character" in intake.validate(submitted, "ada", NAME)


def test_a_symlink_as_the_notebook_is_rejected(tmp_path, release_text):
    submitted, folder = _class(tmp_path, release_text)
    secret = tmp_path / "source.ipynb"
    secret.write_text(release_text)
    (folder / f"{NAME}.ipynb").unlink()
    (folder / f"{NAME}.ipynb").symlink_to(secret)
    got = intake.validate(submitted, "ada", NAME)
    assert f"{NAME}.ipynb is a symbolic link (to {secret})" in got


def test_a_symlink_deeper_inside_is_rejected(tmp_path, release_text):
    submitted, folder = _class(tmp_path, release_text)
    (folder / "data").mkdir()
    (folder / "data" / "gb").symlink_to(tmp_path / "gradebook.db")
    assert "data/gb is a symbolic link" in intake.validate(submitted, "ada", NAME)


@pytest.mark.parametrize("level", ["student", "assignment"])
def test_a_symlinked_folder_is_rejected(tmp_path, release_text, level):
    submitted, folder = _class(tmp_path, release_text, student="bob")
    if level == "student":
        (submitted / "ada").symlink_to(submitted / "bob")
        name = "ada"
    else:
        (submitted / "ada").mkdir()
        (submitted / "ada" / NAME).symlink_to(folder)
        name = NAME
    assert f"{name} is a symbolic link" in intake.validate(submitted, "ada", NAME)
    assert intake.validate(submitted, "bob", NAME) is None


def test_a_hard_link_to_a_file_outside_is_rejected(tmp_path, release_text):
    submitted, folder = _class(tmp_path, release_text)
    secret = tmp_path / "source.ipynb"
    secret.write_text(release_text)
    (folder / f"{NAME}.ipynb").unlink()
    os.link(secret, folder / f"{NAME}.ipynb")
    assert f"{NAME}.ipynb is a hard link to a file outside the submission (2 links)" in \
        intake.validate(submitted, "ada", NAME)


def test_hard_links_within_the_submission_are_its_own(tmp_path, release_text):
    submitted, folder = _class(tmp_path, release_text)
    os.link(folder / f"{NAME}.ipynb", folder / "copy.txt")
    assert intake.validate(submitted, "ada", NAME) is None


def test_a_pipe_is_rejected_not_read(tmp_path, release_text):
    submitted, folder = _class(tmp_path, release_text)
    os.mkfifo(folder / "answers.txt")
    assert "answers.txt is not a regular file" in intake.validate(submitted, "ada", NAME)


# --- nbgrader metadata made to agree with the instructor's notebook ---------------------------------

def _cell(nb, gid):
    [cell] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid]
    return cell


def _normalised(nb, source_nb):
    """Repair, then nbgrader's own validator (what its CheckCellMetadata runs) must accept the result."""
    from nbgrader.nbgraderformat import MetadataValidator

    text, notes = intake.repair_cells(nbformat.writes(nb), source_nb)
    out = nbformat.reads(text, as_version=4)
    MetadataValidator().validate_nb(out)
    return out, notes


def test_the_release_already_agrees(release_text, source_nb):
    nb = nbformat.reads(release_text, as_version=4)
    assert intake.normalise_metadata(nb, source_nb) == []


def test_a_duplicated_grade_id_stays_on_the_cell_in_the_instructors_place(release_text, source_nb):
    from nbgrader.nbgraderformat import MetadataValidator, ValidationError

    nb = nbformat.reads(release_text, as_version=4)
    original = _cell(nb, "eq6-check")
    at = nb.cells.index(original)
    fake = nbformat.from_dict(copy.deepcopy(original))
    fake.source = "print('all good')"
    fake.pop("id", None)
    nb.cells.insert(len(nb.cells), fake)   # a copy far from the instructor's place
    with pytest.raises(ValidationError, match="Duplicate grade id"):
        MetadataValidator().validate_nb(nb)
    out, notes = _normalised(nb, source_nb)
    assert f"grade id 'eq6-check' is on 2 cells; kept on cell #{at}" in notes[0]
    assert _cell(out, "eq6-check").source == original.source
    assert "nbgrader" not in out.cells[-1].metadata and out.cells[-1].source == "print('all good')"


def test_a_retyped_test_cell_is_made_code_again(release_text, source_nb):
    nb = nbformat.reads(release_text, as_version=4)
    cell = _cell(nb, "eq6-check")
    cell.cell_type = "markdown"
    del cell["outputs"], cell["execution_count"]
    out, notes = _normalised(nb, source_nb)
    assert _cell(out, "eq6-check").cell_type == "code"
    assert "cell 'eq6-check' was turned into a markdown cell; made code again" in notes


@pytest.mark.parametrize("key, value", [
    ("locked", False), ("grade", False), ("solution", True),        # flags a student changed
    ("points", "100"), ("grade", {"yes": True}), ("points", -1),     # types nbgrader's schema refuses
    ("schema_version", 99),                                          # stops nbgrader's whole run
])
def test_flags_and_malformed_values_are_set_back(release_text, source_nb, key, value):
    nb = nbformat.reads(release_text, as_version=4)
    _cell(nb, "eq6-check").metadata.nbgrader[key] = value
    out, notes = _normalised(nb, source_nb)
    assert _cell(out, "eq6-check").metadata.nbgrader == _cell(source_nb, "eq6-check").metadata.nbgrader
    assert len(notes) == 1 and f"{key} {value!r}" in notes[0] and "set back" in notes[0]


def test_metadata_that_is_not_a_dict_leaves_an_ordinary_cell(release_text, source_nb):
    nb = nbformat.reads(release_text, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": "grade me"}))
    nb.cells.insert(0, nbformat.v4.new_code_cell("y = 1", metadata={"nbgrader": {"grade_id": ["eq6-check"]}}))
    out, notes = _normalised(nb, source_nb)
    assert "nbgrader" not in out.cells[0].metadata and "nbgrader" not in out.cells[1].metadata
    assert "nbgrader metadata is a str" in notes[1] and "unknown grade id ['eq6-check']" in notes[0]
