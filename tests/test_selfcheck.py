"""xai-course check: the self-study report on a notebook, without nbgrader."""
import pytest
from conftest import REPO

from autograder import cli
from autograder.course import submissions as subs
from autograder.course.labels import labels
from autograder.course.selfcheck import check_notebook, report

NAME = "prototypes"


def test_partly_wrong_notebook_gets_reasons_and_exit_1(tmp_path, capsys):
    release = subs.read(REPO / "exercises" / NAME / f"{NAME}.ipynb")
    source = subs.read(REPO / "solutions" / NAME / f"{NAME}.ipynb")
    sample = subs.sample(NAME)
    path = tmp_path / f"{NAME}.ipynb"
    path.write_text(subs.dumps(subs.filled_in(release, source, sample["answers"])))
    before = path.read_bytes()
    outcomes = {o.grade_id: o for o in check_notebook(path)}
    assert {g for g, o in outcomes.items() if o.status == "failed"} == set(sample["failing_tests"])
    assert all(o.reason for o in outcomes.values() if o.status == "failed")
    assert "factor 2" in outcomes["l2-check"].reason
    assert path.read_bytes() == before, "checking must not modify the student's notebook"
    assert cli.main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    label = str(labels(source)["l2-check"])      # the question's number and title, not the grade id
    assert label.startswith("Q") and f"✗ {label}" in out and "total" in out


def test_blank_release_is_not_attempted(tmp_path):
    path = tmp_path / f"{NAME}.ipynb"
    path.write_bytes((REPO / "exercises" / NAME / f"{NAME}.ipynb").read_bytes())
    outcomes = check_notebook(path)
    assert {o.status for o in outcomes} == {"not attempted"}
    assert "0 passed" in report(outcomes)


@pytest.mark.parametrize("content, fragment", [("{", "not a readable"), ('{"cells": [], "metadata": {}, '
                                               '"nbformat": 4, "nbformat_minor": 5}', "no autograded")])
def test_bad_notebooks_exit_2_with_a_message(tmp_path, capsys, content, fragment):
    path = tmp_path / "x.ipynb"
    path.write_text(content)
    assert cli.main(["check", str(path)]) == 2
    assert fragment in capsys.readouterr().err
    assert cli.main(["check", str(tmp_path / "missing.ipynb")]) == 2
