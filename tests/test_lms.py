"""xai-course export: Canvas and Moodle gradebook CSVs from a real nbgrader gradebook."""
import csv

import pytest
from nbgrader.api import Gradebook

from autograder import cli

# nbgrader's own ORM warns while add_submission builds a submission's grades
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")


@pytest.fixture
def course(tmp_path):
    """A gradebook with two assignments; ada submitted both (one awaiting hand grading), bob only one."""
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:
        for name, cells in {"taylor": {"t1": ("code", 2), "t2": ("code", 3), "tw": ("markdown", 4)},
                            "bptt": {"b1": ("code", 5)}}.items():
            gb.add_assignment(name)
            gb.add_notebook(name, name)
            for cell, (kind, points) in cells.items():
                gb.add_grade_cell(cell, name, name, max_score=points, cell_type=kind)
        gb.add_student("ada", first_name="Ada", last_name="Lovelace", email="ada@example.org")
        gb.add_student("bob", first_name="Bob", last_name="Marley")
        for student, name, scores in [("ada", "taylor", {"t1": 2, "t2": 1.5, "tw": None}),
                                      ("ada", "bptt", {"b1": 5}), ("bob", "bptt", {"b1": 0})]:
            gb.add_submission(name, student)
            for cell, score in scores.items():
                grade = gb.find_grade(cell, name, name, student)
                grade.auto_score = score
                grade.needs_manual_grade = score is None
        gb.db.commit()
    return tmp_path


def read(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def test_canvas_csv_has_canvas_columns_points_possible_and_scores(course, capsys):
    assert cli.main(["export", str(course), "--format", "canvas"]) == 0
    rows = read(course / "grades-canvas.csv")
    header = rows[0]
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert sorted(header[5:]) == ["bptt", "taylor"]
    col = {n: header.index(n) for n in ("taylor", "bptt")}
    assert rows[1][0] == "Points Possible" and rows[1][col["taylor"]] == "9" and rows[1][col["bptt"]] == "5"
    ada, bob = rows[2], rows[3]
    assert ada[:5] == ["Lovelace, Ada", "", "ada", "ada", ""]
    assert (ada[col["taylor"]], ada[col["bptt"]]) == ("3.5", "5")
    assert (bob[col["taylor"]], bob[col["bptt"]]) == ("", "0"), "not submitted: empty, not zero"
    assert "ada/taylor" in capsys.readouterr().err, "a submission awaiting hand grading is named"


def test_moodle_csv_names_items_as_moodle_does_and_refuses_to_overwrite(course, capsys):
    assert cli.main(["export", str(course), "--format", "moodle"]) == 0
    rows = read(course / "grades-moodle.csv")
    assert rows[0][:4] == ["First name", "Last name", "ID number", "Email address"]
    assert sorted(rows[0][4:]) == ["bptt (Real)", "taylor (Real)"]
    by_id = {r[2]: dict(zip(rows[0], r)) for r in rows[1:]}
    assert by_id["ada"]["Email address"] == "ada@example.org" and by_id["ada"]["taylor (Real)"] == "3.5"
    assert by_id["bob"]["taylor (Real)"] == ""
    before = (course / "grades-moodle.csv").read_bytes()
    assert cli.main(["export", str(course), "--format", "moodle"]) == 2
    assert "exists" in capsys.readouterr().err and (course / "grades-moodle.csv").read_bytes() == before
    assert cli.main(["export", str(course / "nowhere"), "--format", "moodle"]) == 2
