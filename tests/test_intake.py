"""Reading and repairing a submission before it runs; cutting and marking what came back."""
from __future__ import annotations

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
