"""What grade, demo and check print: aligned columns, one denominator, questions by number and
title, blank written answers named, an overview across notebooks, no kernel chatter."""
from __future__ import annotations

import re
import shutil
from types import SimpleNamespace

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder import cli
from autograder.course import demo, material, parallel
from autograder.course import submissions as subs
from autograder.course.labels import labels
from autograder.course.table import Points, grade_table, render

NAME = "taylor"


def column_spans(header: str, rule: str) -> list[tuple[int, int]]:
    """The (start, end) of each column, read off the dashes under the header."""
    return [m.span() for m in re.finditer(r"-+", rule)]


def assert_aligned(text: str) -> list[list[str]]:
    """Every row's entries lie inside the header's columns; returns the rows' cells."""
    lines = [line for line in text.splitlines() if line.strip()]
    i = next(k for k, line in enumerate(lines) if set(line.strip()) <= {"-", " "})
    spans = column_spans(lines[i - 1], lines[i])
    rows = []
    for line in [lines[i - 1], *lines[i + 1:]]:
        cells = [line[a:b].strip() for a, b in spans[:-1]] + [line[spans[-1][0]:].strip()]
        for (a, b), cell in zip(spans[:-1], cells):
            assert line[a:b].strip() == cell and (len(line) <= b or line[b] == " "), f"misaligned: {line!r}"
        rows.append(cells)
    return rows


def test_render_pads_every_column_to_its_widest_entry():
    text = render(["name", "points"], [["a", "1/2"], ["a much longer name", "10/20"]], right={1})
    rows = assert_aligned(text)
    assert rows[1:] == [["a", "1/2"], ["a much longer name", "10/20"]]
    widths = {len(line) for line in text.splitlines()}
    assert len(widths) == 1, "right-aligned last column: every line as long"


@pytest.fixture
def gradebook(tmp_path):
    """A course folder with the source notebook, and gradebook-shaped scores for three students."""
    shutil.copytree(material.folder("source", NAME), tmp_path / "source" / NAME)
    source = subs.read(tmp_path / "source" / NAME / f"{NAME}.ipynb")
    tests = subs.test_cells(source)
    written = {c.metadata.nbgrader.grade_id: float(c.metadata.nbgrader.points) for c in source.cells
               if c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade")}
    first = next(iter(tests))
    scores = {
        ("solution", NAME): {**{g: (p, p) for g, p in tests.items()}, **{g: (None, p) for g, p in written.items()}},
        ("partial", NAME): {**{g: (0.0 if g == first else p, p) for g, p in tests.items()},
                            **{g: (1.0, p) for g, p in written.items()}},
        ("blank", NAME): {**{g: (0.0, p) for g, p in tests.items()}, **{g: (None, p) for g, p in written.items()}},
    }
    course = SimpleNamespace(root=tmp_path, scores=lambda: scores)
    return course, tests, written, scores


def test_grade_and_demo_tables_align_and_share_one_denominator(gradebook):
    course, tests, written, scores = gradebook
    results = [parallel.JobResult(s, seconds=s_, lines=[note]) for s, s_, note in
               [("solution", 12.25, ""), ("partial", 3.5, "renamed notebook read as taylor.ipynb"), ("blank", 101.0, "")]]
    rows = assert_aligned(grade_table(course, NAME, results))
    auto, manual = sum(tests.values()), sum(written.values())
    assert rows[0][:4] == ["student", "status", "autograded", "manual"]
    assert [r[2] for r in rows[1:]] == [f"{auto:g}/{auto:g}", f"{auto - tests[next(iter(tests))]:g}/{auto:g}", f"0/{auto:g}"]
    assert [r[3] for r in rows[1:]] == [f"-/{manual:g}", f"{len(written):g}/{manual:g}", f"-/{manual:g}"]

    rt = demo.RoundTrip(course, [NAME], tests={NAME: tests}, scores=scores,
                        labels={NAME: labels(subs.read(course.root / "source" / NAME / f"{NAME}.ipynb"))})
    table = demo.table(rt)
    drows = assert_aligned(table)
    totals = {r[0]: r[2:] for r in drows}
    assert totals["autograded total"] == [r[2] for r in rows[1:]], "demo and grade print the same totals"
    assert totals["graded by hand"] == [r[3] for r in rows[1:]]
    assert "Q1 Compute the sensitivity" in table


def test_points_keep_hand_graded_answers_apart():
    p = Points.of({"a": (2.0, 2), "b": (None, 3), "w": (None, 4)}, {"a": 2, "b": 3})
    assert (p.auto, p.auto_max, p.manual, p.manual_max) == (2.0, 5, None, 4)


# --- check -------------------------------------------------------------------------------------
def meta(gid, **kw):
    return {"nbgrader": {"grade_id": gid, "schema_version": 3, "locked": False, "solution": False,
                         "grade": False, "task": False, **kw}}


def tiny(answer: str) -> nbformat.NotebookNode:
    """A two-question notebook in the course's format; its first cell writes to the kernel's own stderr."""
    return new_notebook(cells=[
        new_code_cell("import os; os.write(2, b'KERNEL NOISE on fd 2\\n')"),
        new_markdown_cell("## 1. Arithmetic\n\n**Q1 (1 point).** Set `x` to one plus one."),
        new_code_cell(answer, metadata=meta("x-answer", solution=True)),
        new_code_cell("assert x == 2, 'x should be 2'", metadata=meta("x-check", grade=True, locked=True, points=1)),
        new_markdown_cell("**Q2 (2 points, graded by hand).** Why?"),
        new_markdown_cell("YOUR ANSWER HERE", metadata=meta("why", grade=True, solution=True, points=2)),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


def test_check_a_folder_names_questions_blank_answers_and_keeps_kernel_noise_out(tmp_path, capfd):
    nbformat.write(tiny("x = 1 + 1"), tmp_path / "right.ipynb")
    nbformat.write(tiny("x = 11"), tmp_path / "wrong.ipynb")
    assert cli.main(["check", str(tmp_path)]) == 1
    out, err = capfd.readouterr()
    assert "KERNEL NOISE" not in out + err
    assert "✓ Q1 Set `x` to one plus one" in out and "✗ Q1 Set `x` to one plus one" in out
    assert "x should be 2" in out and "x-check" not in out
    assert "still blank: Q2 Why?" in out
    overview = out.split("progress\n", 1)[1]
    rows = assert_aligned(overview)
    assert rows[1:] == [["right.ipynb", "1/1", "1/1", "0/1"], ["wrong.ipynb", "0/1", "0/1", "0/1"]]


def test_progress_is_reported_once_per_job(monkeypatch):
    monkeypatch.setattr(parallel, "_execute", fake_execute)
    seen = []
    out = parallel._run([SimpleNamespace(student=s) for s in "abc"], "processes", 2, None, seen.append)
    assert sorted(seen) == ["a", "b", "c"] and out == {"a": "A", "b": "B", "c": "C"}


def fake_execute(job):
    return job.student, job.student.upper()
