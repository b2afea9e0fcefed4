"""The copy detector on notebooks built with nbformat in a temp course (no kernels run).

A class of ``bptt`` submissions: copies of the solution (verbatim, renamed and reformatted), two
students sharing code, two honest independent answers, blank releases. Only the copies and the
sharing pair may be reported; a report never touches the gradebook.
"""
from __future__ import annotations

import csv
import re

import nbformat
import pytest
from copying_variants import HONEST_A, HONEST_B, RENAMED

from autograder.course import copying
from autograder.course import submissions as subs
from autograder.course.coursedir import REPO

NAME = "bptt"


@pytest.fixture(scope="module")
def notebooks():
    return (nbformat.read(REPO / "solutions" / NAME / f"{NAME}.ipynb", as_version=4),
            nbformat.read(REPO / "exercises" / NAME / f"{NAME}.ipynb", as_version=4))


def course(tmp_path, notebooks, handed_in: dict) -> object:
    """A course directory with ``source/``, ``release/`` and ``submitted/<student>/`` as nbgrader has them."""
    source, release = notebooks
    root = tmp_path / "course"
    for folder, nb in (("source", source), ("release", release)):
        (root / folder / NAME).mkdir(parents=True)
        nbformat.write(nb, root / folder / NAME / f"{NAME}.ipynb")
    for student, nb in handed_in.items():
        (root / "submitted" / student / NAME).mkdir(parents=True)
        nbformat.write(nb, root / "submitted" / student / NAME / f"{NAME}.ipynb")
    return root


@pytest.fixture(scope="module")
def graded(tmp_path_factory, notebooks):
    source, release = notebooks
    # carol hands in alice's code (her written answers are her own: none)
    sharer = {gid: src for gid, src in HONEST_A.items() if not gid.endswith("-written")}
    reformatted = {gid: "\n".join(("    " + line if line.startswith("  ") else line) + "  # mine"
                                  for line in src.splitlines()) + "\n" for gid, src in RENAMED.items()}
    handed_in = {
        "verbatim": subs.filled_in(release, source),                 # the solution, every answer
        "renamed": subs.filled_in(release, release, reformatted),    # renamed, re-indented, commented
        "alice": subs.filled_in(release, release, HONEST_A),         # honest
        "bob": subs.filled_in(release, release, HONEST_B),           # honest, written differently
        "carol": subs.filled_in(release, release, sharer),           # carol's code answers are alice's
        "blank1": release,
        "blank2": release,
    }
    root = course(tmp_path_factory.mktemp("copying"), notebooks, handed_in)
    pairs, csv_path = copying.report(root, NAME, sorted(handed_in))
    return root, {(p.student, p.other): p for p in pairs}, csv_path


def test_an_exact_copy_of_the_solution_is_reported(graded):
    _, pairs, _ = graded
    assert pairs["verbatim", copying.SOLUTION].code == pytest.approx(1.0)


def test_a_renamed_and_reformatted_copy_is_reported(graded):
    _, pairs, _ = graded
    pair = pairs["renamed", copying.SOLUTION]
    assert pair.code >= copying.THRESHOLD
    assert pair.questions["bptt-answer"] >= copying.THRESHOLD


def test_two_students_sharing_code_are_reported_as_a_pair(graded):
    _, pairs, _ = graded
    assert pairs["alice", "carol"].code >= copying.THRESHOLD


def test_honest_different_answers_and_blanks_are_not_reported(graded):
    _, pairs, _ = graded
    cleared = {"alice", "bob", "blank1", "blank2"}
    wrong = [k for k in pairs if k != ("alice", "carol") and set(k) & cleared]
    assert wrong == [], [copying.describe(pairs[k]) for k in wrong]
    assert ("carol", copying.SOLUTION) not in pairs   # sharing with a classmate is not copying the solution


def test_the_report_is_a_csv_and_log_lines_for_the_instructor(graded):
    root, pairs, csv_path = graded
    assert csv_path == root / "reports" / f"copying-{NAME}.csv"
    with csv_path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {(r["student"], r["other"]) for r in rows} == set(pairs)
    assert all(float(r["similarity"]) >= copying.THRESHOLD for r in rows)
    log = (root / "logs" / f"autograde-{NAME}.log").read_text(encoding="utf-8")
    assert re.search(rf"{NAME} - copying: {len(pairs)} pair\(s\) at or above", log)
    assert "verbatim copying: verbatim ~ (solution)" in log and "scores unchanged" in log
    assert not (root / "gradebook.db").exists()   # a report never opens (nor creates) the gradebook


def test_a_student_with_only_the_template_is_not_reported_against_a_blank(tmp_path, notebooks):
    _, release = notebooks
    # the template, retyped: other whitespace, an extra blank line, the same code
    retyped = {gid: c.source.replace("    ", "\t").replace("\n", "\n\n") for gid, c in
               subs.solution_cells(release).items() if c.cell_type == "code"}
    root = course(tmp_path, notebooks, {"blank": release, "template": subs.filled_in(release, release, retyped)})
    assert copying.detect(root, NAME, ["blank", "template"]) == []


def test_the_threshold_is_checked():
    with pytest.raises(ValueError, match="copy threshold: expected a share in"):
        copying.compare(copying.Answers(), [], {}, threshold=1.5)


def test_grade_names_a_bad_copy_threshold(tmp_path, capsys):
    from autograder.cli import main

    (tmp_path / "submitted").mkdir()
    (tmp_path / "gradebook.db").write_text("")
    assert main(["grade", str(tmp_path), NAME, "--copy-threshold", "2"]) == 2
    assert "--copy-threshold expects a share in (0, 1], got 2" in capsys.readouterr().err


def test_a_course_without_its_release_is_named(tmp_path, notebooks):
    root = course(tmp_path, notebooks, {})
    (root / "release" / NAME / f"{NAME}.ipynb").unlink()
    with pytest.raises(FileNotFoundError, match="expected the release notebook"):
        copying.detect(root, NAME, [])


@pytest.mark.slow
@pytest.mark.roundtrip
def test_grade_reports_the_copies_and_leaves_the_scores(tmp_path, capsys):
    """``xai-course grade`` on the demo class: the solution and the partly wrong sample (the solution
    with mistakes) are reported, the blank release is not, and every score is the round trip's."""
    from autograder.cli import main
    from autograder.course import demo

    rt = demo.prepare(tmp_path / "course", [NAME], progress=False)
    assert main(["grade", str(rt.course.root), NAME]) == 0
    out = capsys.readouterr().out
    assert "copying: 3 pair(s) at or above 0.5 similarity, scores unchanged" in out
    assert "solution ~ (solution)" in out and "partial ~ (solution)" in out and "partial ~ solution" in out
    assert "blank ~" not in out
    rt.scores = rt.course.scores()
    assert rt.mismatches() == []
