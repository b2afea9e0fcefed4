"""Every assignment: the jupytext source, the solution, the release, the checks and nbgrader agree.

- the committed source notebook is what jupytext builds from tools/notebooks/<a>.py;
- the prose's points come from the graded cells' metadata (written once);
- every ``check.<name>`` the source calls exists; every grade id a sample names exists;
- exercises/<a>/ is exactly what `nbgrader generate_assignment` makes of solutions/<a>/;
- the solution runs top to bottom with every check passing; the blank release runs without crashing,
  every graded check failing with a readable CheckFailed; the partly wrong sample fails exactly its
  wrong answers (all three read from the class run, ``conftest.graded_class``: executed once, in the
  sandboxed grading pipeline, for these tests and the round trip's).
"""
import ast
import importlib
import re

import jupytext
import nbformat
import pytest

from autograder.cli import release
from autograder.course import build
from autograder.course import submissions as subs
from autograder.course.coursedir import assignments
from conftest import CLASS_RUN, REPO, errors, executed_notebook

ASSIGNMENTS = assignments()


def test_there_are_assignments():
    assert {"prototypes"} <= set(ASSIGNMENTS)
    assert build.sources() == ASSIGNMENTS, "each assignment has one source in tools/notebooks/ and one solution"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solution_is_built_from_its_jupytext_source(name):
    built = nbformat.writes(build.build(name)) + "\n"
    assert built == (REPO / "solutions" / name / f"{name}.ipynb").read_text(encoding="utf-8"), \
        f"solutions/{name} is out of date: run xai-course build --assignment {name}"


# --- points: written once, in the graded cell's metadata ----------------------------------------

LITERAL_POINTS = re.compile(r"\b\d+(?:\.\d+)? points?\b")
RUBRIC_POINTS = re.compile(r"\b(\d+(?:\.\d+)?) points?:")


def _source(name):
    return jupytext.read(build.source_path(name), fmt="py:percent")


def _paragraphs(cell):
    return [p for p in re.split(r"\n\s*\n", cell.source) if p.strip()]


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_prose_points_come_from_the_graded_cells(name):
    """No number of points typed in the prose (a rubric's split of a written answer aside)."""
    source = _source(name)
    for cell in source.cells:
        if cell.cell_type != "markdown":
            continue
        for para in _paragraphs(cell):
            if not para.startswith("**Rubric"):
                assert not LITERAL_POINTS.search(para), \
                    f"{name}: points typed in the prose ({LITERAL_POINTS.search(para).group(0)!r}); " \
                    f"write {{points:<grade id>}} so that they come from the graded cell: {para[:120]!r}"
    assert any(build.PLACEHOLDER.search(c.source) for c in source.cells if c.cell_type == "markdown")
    built = build.build(name)
    assert not any(build.PLACEHOLDER.search(c.source) for c in built.cells)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_rubrics_share_out_their_question_points(name):
    for cell in build.build(name).cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown" and meta.get("grade"):
            rubric = [p for p in _paragraphs(cell) if p.startswith("**Rubric")]
            shares = [float(x) for p in rubric for x in RUBRIC_POINTS.findall(p)]
            assert shares, f"{meta['grade_id']}: a written answer has a rubric with its points"
            assert sum(shares) == meta["points"], \
                f"{meta['grade_id']}: the rubric gives {sum(shares):g} points, the cell is worth {meta['points']:g}"


def test_points_placeholders_are_filled_from_the_metadata():
    points = {"q1-check": 2, "q2-check": 1, "q3-written": 3}
    text = "**Q1 ({points:q1-check})** **Q2 ({points:q2-check})** all: {points:q1-check..q3-written}, " \
           "{n_points:q1-check+q3-written}; $\\frac{a}{b}$ and {\"A\", \"B\"} stay"
    assert build.fill_points(text, points, "t") == \
        "**Q1 (2 points)** **Q2 (1 point)** all: 6 points, 5; $\\frac{a}{b}$ and {\"A\", \"B\"} stay"
    with pytest.raises(build.SourceError, match="q4-check"):
        build.fill_points("**Q4 ({points:q4-check})**", points, "t")
    with pytest.raises(build.SourceError, match="before"):
        build.fill_points("{points:q3-written..q1-check}", points, "t")


def test_build_refuses_a_placeholder_without_its_graded_cell(tmp_path):
    text = build.source_path("taylor").read_text(encoding="utf-8").replace("{points:sens-check}", "{points:sens}")
    (tmp_path / "taylor.py").write_text(text, encoding="utf-8")
    with pytest.raises(build.SourceError, match="sens"):
        build.build("taylor", tmp_path / "taylor.py")


def test_build_refuses_duplicate_grade_ids_and_unknown_metadata(tmp_path):
    text = build.source_path("taylor").read_text(encoding="utf-8")
    for bad, match in ((text.replace('"grade_id": "taylor0-check"', '"grade_id": "sens-check"'), "used twice"),
                       (text.replace('tags=["scratch"]', 'tags=["scratch", "skip"]', 1), "expected only")):
        (tmp_path / "taylor.py").write_text(bad, encoding="utf-8")
        with pytest.raises(build.SourceError, match=match):
            build.build("taylor", tmp_path / "taylor.py")


# --- multiple choice: statements written once, in the check's Choices ----------------------------

TYPED_OPTION = re.compile(r"^\s*(?:- \*\*[A-Za-z]\.?\*\*|- \([A-Za-z]\) )", re.M)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_multiple_choice_statements_are_rendered_from_the_checks(name):
    """Each question's options appear in the notebook exactly as its Choices say, from a placeholder."""
    tables = build.multiple_choice(importlib.import_module(f"autograder.questions.{name}"))
    source = build.source_path(name).read_text(encoding="utf-8")
    solution = nbformat.read(REPO / "solutions" / name / f"{name}.ipynb", as_version=4)
    released = nbformat.read(REPO / "exercises" / name / f"{name}.ipynb", as_version=4)
    for check, table in tables.items():
        if not table.shown:
            continue
        assert source.count(f"{{choices:{check}}}") == 1, f"{name}: write {{choices:{check}}} once in the prose"
        for nb, where in ((solution, "solutions"), (released, "exercises")):
            text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
            same = sum(t.shown and t.markdown() == table.markdown() for t in tables.values())   # taylor asks twice
            assert text.count(table.markdown()) == same, \
                f"{where}/{name}: the options of check.{check} differ from its Choices: rebuild the notebook"
    for cell in _source(name).cells:
        if cell.cell_type == "markdown":
            assert not TYPED_OPTION.search(cell.source), \
                f"{name}: options typed in the prose ({TYPED_OPTION.search(cell.source).group(0)!r}); " \
                f"put them in the check's Choices and write {{choices:<check>}}"


def test_a_changed_statement_changes_the_notebook(monkeypatch):
    from autograder.questions import taylor
    changed = taylor.Choices({**taylor.pattern_choice.choices, "A": ("sensitivity analysis, squared", False, "why")})
    monkeypatch.setattr(taylor.pattern_choice, "choices", changed)
    text = "\n".join(c.source for c in build.build("taylor").cells if c.cell_type == "markdown")
    assert "- **A.** sensitivity analysis, squared" in text
    assert "- **A.** sensitivity analysis, squared" not in (REPO / "solutions" / "taylor" / "taylor.ipynb").read_text()


def test_build_refuses_a_choices_placeholder_without_its_question(tmp_path):
    source = build.source_path("taylor").read_text(encoding="utf-8")
    for bad in ("{choices:conservation}", "{choices:sensitivity}"):   # no such check; a check without options
        (tmp_path / "taylor.py").write_text(source.replace("{choices:conservation_choice}", bad), encoding="utf-8")
        with pytest.raises(build.SourceError, match=bad.strip("{}").split(":")[1]):
            build.build("taylor", tmp_path / "taylor.py")


def test_choices_render_letters_and_numbers():
    from autograder.choices import Choices
    assert Choices({"A": ("one", True, ""), "B": ("two", False, "")}).markdown() == "- **A.** one\n- **B.** two"
    assert Choices({1: ("one", True, ""), 2: ("two", False, "")}).markdown() == "1. one\n2. two"
    with pytest.raises(ValueError, match="exactly one true"):
        Choices({"A": ("one", True, ""), "B": ("two", True, "")}, one=True)


# --- the names the notebook shares with the checks and the samples ------------------------------

def check_calls(text: str) -> tuple[str, set[str]]:
    """The questions module a source imports ``as check`` and the ``check.<name>`` it uses (checks, symbols)."""
    tree = ast.parse(text)
    modules = [f"{node.module}.{alias.name}" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
               for alias in node.names if alias.asname == "check"]
    assert len(modules) == 1, f"expected one `from autograder.questions import <a> as check`, got {modules}"
    names = {node.attr for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "check"}
    return modules[0], names


def missing_checks(text: str) -> list[str]:
    module, names = check_calls(text)
    questions = importlib.import_module(module)
    return sorted(n for n in names if not hasattr(questions, n))


def test_a_call_to_a_check_that_does_not_exist_is_found():
    text = "from autograder.questions import taylor as check\ncheck.sensitivity(1)\ncheck.sensitivty(2)\n"
    assert missing_checks(text) == ["sensitivty"]


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_notebook_calls_only_checks_that_exist(name):
    text = build.source_path(name).read_text(encoding="utf-8")
    module, names = check_calls(text)
    assert module == f"autograder.questions.{name}"
    assert names, f"{name} calls no check"
    assert missing_checks(text) == [], f"tools/notebooks/{name}.py calls checks that {module} does not define"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_sample_names_only_cells_of_the_notebook(name):
    sample = subs.sample(name)
    cells = [c.metadata.get("nbgrader", {}) for c in build.build(name).cells]
    answers = {m["grade_id"] for m in cells if m.get("solution")}
    graded = {m["grade_id"] for m in cells if m.get("grade")}
    assert set(sample["answers"]) <= answers, \
        f"samples/{name}.json answers cells the notebook has not: {sorted(set(sample['answers']) - answers)}"
    assert set(sample["failing_tests"]) <= graded, \
        f"samples/{name}.json names tests the notebook has not: {sorted(set(sample['failing_tests']) - graded)}"


# --- the release ---------------------------------------------------------------------------------

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


# --- the notebooks as the class run executed them (conftest.graded_class) ---------------------------

@pytest.mark.xdist_group(CLASS_RUN)
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_solution_runs_with_every_check_passing(name, graded_class):
    nb = executed_notebook(graded_class[0], "solution", name)
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade") and c.cell_type == "code"]
    assert graded, "the notebook has autograded checks"
    for cell in graded:
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        assert "✓" in text, f"check {cell.metadata.nbgrader.grade_id} printed no success line"


@pytest.mark.xdist_group(CLASS_RUN)
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_blank_release_fails_every_check_readably(name, graded_class):
    nb = executed_notebook(graded_class[0], "blank", name)
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


@pytest.mark.xdist_group(CLASS_RUN)
@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_partly_wrong_sample_fails_exactly_its_wrong_answers(name, graded_class):
    sample = subs.sample(name)
    assert sample["failing_tests"], "each assignment has a partly wrong sample submission"
    nb = executed_notebook(graded_class[0], "partial", name)
    failed = {c.metadata.nbgrader.grade_id for c in nb.cells
              if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade") and errors(c)}
    assert failed == set(sample["failing_tests"])
