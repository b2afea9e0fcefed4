"""Every assignment: the builder, the solution, the release and nbgrader agree.

- the committed source notebook is what its builder in tools/notebooks/ writes;
- exercises/<a>/ is exactly what `nbgrader generate_assignment` makes of solutions/<a>/;
- the solution runs top to bottom with every check passing;
- the release runs without crashing, and every graded check fails with a readable CheckFailed.
"""
import importlib.util
import json

import nbformat
import pytest

from autograder.cli import release
from autograder.course import submissions as subs
from autograder.course.coursedir import assignments
from conftest import REPO, errors, execute

ASSIGNMENTS = assignments()


def test_there_are_assignments():
    assert {"prototypes"} <= set(ASSIGNMENTS)


def _cells(path):
    nb = nbformat.read(str(path), as_version=4)
    return [(c.cell_type, c.source, json.dumps(c.metadata, sort_keys=True)) for c in nb.cells]


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_source_notebook_matches_its_builder(name, tmp_path):
    spec = importlib.util.spec_from_file_location(f"build_{name}", REPO / "tools" / "notebooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cells, default = module.build()
    assert default == f"solutions/{name}/{name}.ipynb"
    from nbbuild import write  # put on sys.path by the builder

    out = write(tmp_path / f"{name}.ipynb", cells)
    assert _cells(out) == _cells(REPO / default), \
        f"solutions/{name} is out of date: run python tools/notebooks/{name}.py"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_exercises_are_the_nbgrader_release(name, tmp_path):
    (fresh,) = release([name], tmp_path)
    committed = REPO / "exercises" / name
    assert sorted(p.name for p in fresh.iterdir()) == sorted(p.name for p in committed.iterdir())
    for path in fresh.iterdir():
        assert path.read_bytes() == (committed / path.name).read_bytes(), \
            f"exercises/{name}/{path.name} is out of date: run xai-course release"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_release_hides_solutions_and_hidden_tests(name):
    source = (REPO / "solutions" / name / f"{name}.ipynb").read_text()
    released = (REPO / "exercises" / name / f"{name}.ipynb").read_text()
    assert "BEGIN HIDDEN TESTS" in source, "each assignment keeps some of its tests hidden"
    for marker in ("BEGIN HIDDEN TESTS", "BEGIN SOLUTION", "END SOLUTION", "Model answer", "Rubric"):
        assert marker not in released


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solution_runs_with_every_check_passing(name):
    nb = execute(REPO / "solutions" / name / f"{name}.ipynb")
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    assert graded, "the notebook has autograded checks"
    for cell in graded:
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        assert "✓" in text, f"check {cell.metadata.nbgrader.grade_id} printed no success line"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_blank_release_fails_every_check_readably(name):
    nb = execute(REPO / "exercises" / name / f"{name}.ipynb", allow_errors=True)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        errs = errors(cell)
        if cell.cell_type != "code":
            continue
        if meta.get("grade"):
            assert errs, f"{meta['grade_id']}: a blank answer must fail its check"
            assert errs[0].ename == "CheckFailed", \
                f"{meta['grade_id']}: expected a readable CheckFailed, got {errs[0].ename}: {errs[0].evalue}"
            assert len(errs[0].traceback) <= 6, "the failure renders as a short message, not a traceback wall"
        elif meta.get("solution"):
            assert all(e.ename == "NotImplementedError" for e in errs)
        else:  # a read-only cell may only stop because it uses a function the student has not written
            assert all(e.ename == "NotImplementedError" for e in errs), \
                f"read-only cell {meta.get('grade_id')} crashed: {errs and errs[0].ename}: {errs and errs[0].evalue}"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_partly_wrong_sample_fails_exactly_its_wrong_answers(name):
    sample = subs.sample(name)
    assert sample["failing_tests"], "each assignment has a partly wrong sample submission"
    release_nb = subs.read(REPO / "exercises" / name / f"{name}.ipynb")
    source_nb = subs.read(REPO / "solutions" / name / f"{name}.ipynb")
    nb = execute(subs.filled_in(release_nb, source_nb, sample["answers"]), allow_errors=True)
    failed = {c.metadata.nbgrader.grade_id for c in nb.cells
              if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade") and errors(c)}
    assert failed == set(sample["failing_tests"])
