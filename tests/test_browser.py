"""End to end in a real browser (headless Chromium driven by Playwright).

- The student's view: JupyterLab with the released ``prototypes`` notebook. Run the imports, type an
  answer into the answer cell, run it and its check, and read the feedback on the page: ``✓`` for the
  right answer, the check's own message (and no traceback) for a typical wrong one.
- The instructor's view: a course built and autograded with the project's machinery (one assignment,
  three students), and nbgrader's formgrader showing the same scores as the gradebook; on a
  submission's page, each written answer with its rubric beside it and the math typeset by MathJax
  from the Jupyter server, with every request outside 127.0.0.1 blocked (and the test failing on one).

Screenshots and server logs go to ``$XAI_ARTIFACTS/browser`` (default ``build/artifacts/browser``).
"""
from __future__ import annotations

import re
import shutil
import time
from urllib.parse import urlparse

import nbformat
import pytest

from browser_support import (CHROMIUM, CHROMIUM_ARGS, PROMPT_NUMBER, REPO, JupyterServer, artifacts,
                             diagnose)
from conftest import CLASS_RUN
from test_formgrade import words

if CHROMIUM is None:
    pytest.skip("browser tests need Chromium on PATH (tools/install_system_packages.sh installs Debian's)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="browser tests need playwright (pip install -e '.[test]')")
expect = sync_api.expect

pytestmark = pytest.mark.browser
BROWSER = pytest.mark.xdist_group("browser")   # the tests that do not read the class run share a worker

ASSIGNMENT = "prototypes"
ANSWER_ID, CHECK_ID = "l2-answer", "l2-check"
RIGHT = "x_star_l2 = w / (2 * lam)"
WRONG = "x_star_l2 = w / lam"          # the classic lost factor 2

UI = 30_000             # ms: the page reacting to a click
KERNEL = 150_000        # ms: the first cell, kernel start and `import torch, sympy, matplotlib` included
KERNEL_IDLE = re.compile(r"\|\s*Idle$")     # the status bar's kernel item: "Python 3 (ipykernel) | Idle"
# JupyterLab renders an error (and stderr) output with this MIME type
ERROR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
CHECK = 60_000          # ms: a check (SymPy equivalence on random instances)
TYPESET = 120_000       # ms: MathJax typesetting a notebook's hundred formulas (18 s with the machine busy)


# --- the browser -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def _new_page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(UI)
    return context, page


def shot(page, name: str) -> None:
    page.screenshot(path=str(artifacts() / f"{name}.png"))


# --- the student's view ------------------------------------------------------------------------
@pytest.fixture
def student_lab(tmp_path):
    root = tmp_path / "student"
    root.mkdir()
    shutil.copy(REPO / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", root)
    with JupyterServer("lab", root, artifacts() / "jupyterlab-student.log", tmp_path / "state") as server:
        yield server


def _cell_index(grade_id: str) -> int:
    nb = nbformat.read(str(REPO / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), as_version=4)
    (index,) = [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    return index


def _run(page, cell, timeout: int) -> None:
    """Select ``cell`` (command mode), press Shift+Enter and wait for its new execution count."""
    cell.locator(".jp-InputPrompt").click()
    _shift_enter_and_wait(page, cell, timeout)


def _shift_enter_and_wait(page, cell, timeout: int) -> None:
    prompt = cell.locator(".jp-InputPrompt")
    before = prompt.inner_text()
    page.keyboard.press("Shift+Enter")
    expect(prompt).not_to_have_text(before, timeout=timeout)        # [*]: or already the new number
    expect(prompt).to_have_text(PROMPT_NUMBER, timeout=timeout)


def _type_answer(page, cell, answer: str) -> None:
    """Replace the last line of the answer cell (the placeholder ``raise NotImplementedError()`` or a
    previous answer) by ``answer``, typed key by key into CodeMirror."""
    editor = cell.locator(".cm-content")
    editor.click()
    expect(cell).to_have_class(re.compile(r"\bjp-mod-active\b"))
    page.keyboard.press("Control+End")
    page.keyboard.press("Shift+Home")
    page.keyboard.type(answer, delay=15)
    expect(editor).to_contain_text(answer)
    lines = editor.inner_text().rstrip("\n").splitlines()
    assert lines[-1] == answer and "raise NotImplementedError()" not in lines, lines


def _expected_feedback():
    """What the check says, computed here with the project's own check."""
    from autograder.feedback import CheckFailed
    from autograder.questions import prototypes as check

    symbols = {"w": check.w, "lam": check.lam}
    passed = check.l2_prototype(eval(RIGHT.split("=", 1)[1], symbols))  # noqa: S307 - our own constant
    with pytest.raises(CheckFailed) as failed:
        check.l2_prototype(eval(WRONG.split("=", 1)[1], symbols))  # noqa: S307
    return str(passed), failed.value


@BROWSER
def test_student_types_an_answer_and_reads_the_feedback(student_lab, browser):
    start = time.perf_counter()
    passed_text, failure = _expected_feedback()
    assert passed_text.startswith("✓") and failure.reason
    answer_i, check_i = _cell_index(ANSWER_ID), _cell_index(CHECK_ID)

    context, page = _new_page(browser)
    try:
        with diagnose("student", page, student_lab):
            page.goto(student_lab.url(f"lab/tree/{ASSIGNMENT}.ipynb"))
            cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")
            answer, check_cell = cells.nth(answer_i), cells.nth(check_i)
            expect(answer).to_contain_text("YOUR CODE HERE", timeout=KERNEL)
            expect(check_cell).to_contain_text("check.l2_prototype(x_star_l2)")
            # a cell run before the kernel is connected is silently skipped: wait for "| Idle"
            kernel_status = page.locator("#jp-main-statusbar").get_by_role("button", name=KERNEL_IDLE)
            expect(kernel_status).to_be_visible(timeout=KERNEL)

            # every code cell above the answer: the imports and the symbols w, lam, ...
            for i in range(answer_i):
                if "jp-CodeCell" in (cells.nth(i).get_attribute("class") or ""):
                    _run(page, cells.nth(i), KERNEL)
                    expect(cells.nth(i).locator(ERROR)).to_have_count(0)
            answer.scroll_into_view_if_needed()
            shot(page, "student-01-notebook-open")

            # the right answer: typed, run (Shift+Enter moves on to the check), then the check
            _type_answer(page, answer, RIGHT)
            _shift_enter_and_wait(page, answer, CHECK)
            expect(check_cell).to_have_class(re.compile(r"\bjp-mod-active\b"))
            _shift_enter_and_wait(page, check_cell, CHECK)
            output = check_cell.locator(".jp-OutputArea")
            expect(output).to_contain_text(passed_text, timeout=CHECK)
            expect(output.locator(ERROR)).to_have_count(0)
            check_cell.scroll_into_view_if_needed()
            shot(page, "student-02-right-answer-passes")

            # a typical wrong answer: the check's own message, and only the message
            _type_answer(page, answer, WRONG)
            _shift_enter_and_wait(page, answer, CHECK)
            _shift_enter_and_wait(page, check_cell, CHECK)
            error = output.locator(ERROR)
            expect(error).to_have_count(1, timeout=CHECK)
            expect(error).to_contain_text(f"✗ {failure.question}")
            expect(error).to_contain_text(failure.reason)
            expect(output).not_to_contain_text(passed_text)
            shown = output.inner_text()
            for noise in ("Traceback", "CheckFailed", "AssertionError", "File \"", "autograder", "site-packages",
                          "-----"):
                assert noise not in shown, f"traceback noise {noise!r} in the feedback:\n{shown}"
            assert len(shown.strip().splitlines()) <= 1 + len(failure.reason.splitlines()), shown
            check_cell.scroll_into_view_if_needed()
            shot(page, "student-03-wrong-answer-fails")
    finally:
        context.close()
    print(f"student's view: {time.perf_counter() - start:.1f} s")


# --- the instructor's view ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def graded_course(graded_class):
    """The class run (``conftest.graded_class``: every assignment, three submissions each, graded);
    the instructor's tests look at ASSIGNMENT and only read the gradebook."""
    return graded_class[0]


@pytest.fixture(scope="module")
def formgrader(graded_course, tmp_path_factory):
    root = graded_course.course.root
    # cwd = the course root: the formgrader reads nbgrader_config.py (which puts the exchange inside
    # the course) from the working directory
    with JupyterServer("server", root, artifacts() / "jupyter-formgrader.log", tmp_path_factory.mktemp("state"),
                       cwd=root) as server:
        yield server


def _fraction(text: str) -> tuple[float, float]:
    m = re.fullmatch(r"\s*(-?[\d.]+)\s*/\s*([\d.]+)\s*", text)
    assert m, f"not a score: {text!r}"
    return float(m.group(1)), float(m.group(2))


def _gradebook(root):
    """Per student, from nbgrader's gradebook: the assignment's and the notebook's scores."""
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for student in gb.students:
            sub = gb.find_submission(ASSIGNMENT, student.id)
            nb = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student.id)
            out[student.id] = dict(score=sub.score, max_score=sub.max_score, manual=sub.needs_manual_grade,
                                   code=nb.code_score, max_code=nb.max_code_score, failed=nb.failed_tests)
    return out


@pytest.mark.xdist_group(CLASS_RUN)
def test_formgrader_shows_the_gradebook_scores(graded_course, formgrader, browser):
    from autograder.course import demo

    start = time.perf_counter()
    root = graded_course.course.root
    book = _gradebook(root)
    assert set(book) == set(demo.STUDENTS)
    for student, entry in book.items():    # the gradebook agrees with the project's own reading of it
        autograded = [s for s, _ in graded_course.scores[(student, ASSIGNMENT)].values() if s is not None]
        assert entry["code"] == pytest.approx(sum(autograded))
        assert entry["code"] == pytest.approx(sum(graded_course.expected[(student, ASSIGNMENT)].values()))
    max_code = sum(graded_course.tests[ASSIGNMENT].values())
    assert book["solution"]["code"] == book["solution"]["max_code"] == max_code > 0
    assert book["blank"]["code"] == 0
    assert 0 < book["partial"]["code"] < max_code
    assert (book["solution"]["failed"], book["partial"]["failed"], book["blank"]["failed"]) == (False, True, True)

    context, page = _new_page(browser)
    try:
        with diagnose("instructor", page, formgrader):
            page.goto(formgrader.url("formgrader"))          # redirects to Manage Assignments
            expect(page).to_have_url(re.compile(r"/formgrader/manage_assignments"))
            row = page.locator("#main-table tr", has_text=ASSIGNMENT)
            expect(row.locator(".num-submissions")).to_have_text("3")
            shot(page, "instructor-01-manage-assignments")

            # Manage Submissions: status and total score per student
            row.locator(".num-submissions a").click()
            expect(page).to_have_url(re.compile(rf"/formgrader/manage_submissions/{ASSIGNMENT}"))
            rows = page.locator("#main-table tr")
            expect(rows).to_have_count(len(demo.STUDENTS))
            expect(rows.locator(".score")).to_have_text([re.compile(r"\d")] * len(demo.STUDENTS))
            shown = {}
            for i in range(rows.count()):
                r = rows.nth(i)
                shown[r.locator(".student-id").inner_text().strip()] = (
                    r.locator(".status").inner_text().strip(), _fraction(r.locator(".score").inner_text()))
            assert set(shown) == set(demo.STUDENTS)
            for student, (status, (score, max_score)) in shown.items():
                want = book[student]
                assert status == ("needs manual grading" if want["manual"] else "graded"), (student, status)
                assert score == pytest.approx(want["score"], abs=0.005), (student, score, want)
                assert max_score == pytest.approx(want["max_score"], abs=0.005), (student, max_score, want)
            shot(page, "instructor-02-manage-submissions")

            # Manual Grading (the gradebook) -> assignment -> notebook: the autograded (code) score per student
            page.get_by_role("link", name="Manual Grading", exact=True).click()
            page.locator("#main-table").get_by_role("link", name=ASSIGNMENT, exact=True).click()
            expect(page).to_have_url(re.compile(rf"/formgrader/gradebook/{ASSIGNMENT}/?$"))
            page.locator("#main-table").get_by_role("link", name=ASSIGNMENT, exact=True).click()
            expect(page).to_have_url(re.compile(rf"/formgrader/gradebook/{ASSIGNMENT}/{ASSIGNMENT}/?$"))
            rows = page.locator("#main-table tr")
            expect(rows).to_have_count(len(demo.STUDENTS))
            page.locator("#toggle_names").click()
            expect(page.locator("#toggle_names")).to_have_text("Hide All Names")
            names = {f"{last}, {first}": s for s, (first, last) in demo.STUDENTS.items()}
            code = {}
            for i in range(rows.count()):
                r = rows.nth(i)
                name = r.locator(".name a.name-shown")
                expect(name).to_be_visible()
                student = names[name.inner_text().strip()]
                code[student] = (_fraction(r.locator(".score").inner_text()),
                                 _fraction(r.locator(".code-score").inner_text()))
                # "Tests Failed?" is ticked exactly where the gradebook has a failed test
                expect(r.locator(".tests-failed .glyphicon-ok")).to_have_count(1 if book[student]["failed"] else 0)
            assert set(code) == set(demo.STUDENTS)
            for student, ((score, max_score), (code_score, max_code_score)) in code.items():
                want = book[student]
                assert code_score == pytest.approx(want["code"], abs=0.005), (student, code_score, want)
                assert max_code_score == pytest.approx(want["max_code"], abs=0.005), (student, max_code_score)
                assert score == pytest.approx(want["score"], abs=0.005), (student, score, want)
                assert max_score == pytest.approx(want["max_score"], abs=0.005), (student, max_score)
            assert code["solution"][1][0] == code["solution"][1][1] == max_code
            assert code["blank"][1][0] == 0
            assert 0 < code["partial"][1][0] < max_code
            shot(page, "instructor-03-gradebook")
    finally:
        context.close()
    print(f"instructor's view (browser part): {time.perf_counter() - start:.1f} s")


def _offline_page(browser, base_url: str):
    """A page whose requests may only go to ``base_url``'s host (``file://``: local files): anything
    else is aborted and recorded. Returns the context, the page, the blocked and the served URLs."""
    context, page = _new_page(browser)
    allowed, blocked, served = urlparse(base_url)[:2], [], []

    def route(r):
        if urlparse(r.request.url)[:2] == allowed:
            served.append(r.request.url)
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    return context, page, blocked, served


def _typeset(page) -> None:
    """Wait until MathJax has typeset the page: a callback queued behind the page's own Typeset has run."""
    page.wait_for_function("() => window.MathJax && window.MathJax.Hub", timeout=UI)
    page.evaluate("() => { MathJax.Hub.Queue(() => { window.xaiTypeset = true; }); }")
    page.wait_for_function("() => window.xaiTypeset === true", timeout=TYPESET)
    expect(page.locator("#notebook span.MathJax").first).to_be_visible()
    expect(page.locator(".MathJax_Error, .merror")).to_have_count(0)


@pytest.mark.xdist_group(CLASS_RUN)
def test_formgrader_shows_each_rubric_beside_the_answer_with_the_math_typeset(graded_course, formgrader, browser):
    from nbgrader.api import Gradebook

    from autograder.course.formgrade import manual_cells, split_answer

    root = graded_course.course.root
    source = nbformat.read(str(root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), as_version=4)
    rubrics = {gid: split_answer(c.source)[1] for gid, c in manual_cells(source).items()}
    assert len(rubrics) >= 2 and all(rubrics.values())
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:     # the blank submission: no model answer in it
        submission = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "blank").id

    context, page, blocked, served = _offline_page(browser, formgrader.base_url)
    try:
        with diagnose("instructor-rubric", page, formgrader):
            page.goto(formgrader.url(f"formgrader/submissions/{submission}/"))
            _typeset(page)
            for gid, rubric in rubrics.items():
                panel = page.locator(f"#{gid}-rubric")
                answer = page.locator(".xai-graded", has=panel).locator(".xai-answer .nbgrader_cell")
                expect(answer).to_have_count(1)
                expect(answer.locator(f"input#{gid}")).to_be_visible()       # the score box of this answer
                expect(answer).to_contain_text("YOUR ANSWER HERE")
                expect(panel).to_contain_text(words(rubric))
                expect(panel.locator("span.MathJax").first).to_be_visible()   # the rubric's math typeset
                assert "$" not in panel.locator(".panel-body > p").all_inner_texts()[0], "raw TeX in the rubric"
                a, r = answer.bounding_box(), panel.bounding_box()
                # beside: to the right of the answer, starting level with it
                assert r["x"] >= a["x"] + a["width"] - 1 and abs(r["y"] - a["y"]) < a["height"], (gid, a, r)
            page.locator(f"#{next(iter(rubrics))}-rubric").scroll_into_view_if_needed()
            shot(page, "instructor-04-rubric-beside-the-answer")
    finally:
        context.close()
    assert blocked == [], f"requests outside the formgrader: {blocked}"
    assert any("/static/jupyter_server_mathjax/" in url for url in served), "MathJax did not come from the server"



@BROWSER
def test_feedback_typesets_the_math_without_the_internet(browser, tmp_path):
    """The feedback HTML a student opens from disk: MathJax from the installed package, nothing fetched
    from elsewhere."""
    from test_feedback_html import autograded, render

    from autograder.course.feedback_html import local_mathjax

    path = tmp_path / "feedback.html"
    path.write_text(render(autograded()), encoding="utf-8")
    context, page, blocked, served = _offline_page(browser, path.as_uri())
    try:
        with diagnose("feedback-math", page):
            page.goto(path.as_uri())
            _typeset(page)
            shot(page, "feedback-math")
    finally:
        context.close()
    assert blocked == [], f"requests outside the local files: {blocked}"
    assert local_mathjax() in served, served
