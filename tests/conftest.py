import os
import sys
from pathlib import Path

import nbformat
import pytest
import torch

torch.set_num_threads(1)   # two xdist workers on two cores

REPO = Path(__file__).resolve().parents[1]
# nbgrader and jupyter look for their helpers (alembic, kernels) on PATH: this interpreter's first.
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")


def execute(path_or_nb, *, allow_errors=False, timeout=300):
    """Execute a notebook in a real python3 kernel; returns the executed notebook."""
    import nbclient

    nb = nbformat.read(str(path_or_nb), as_version=4) if isinstance(path_or_nb, (str, Path)) else path_or_nb
    nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                            resources={"metadata": {"path": str(REPO)}}).execute()
    return nb


def errors(cell):
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


@pytest.fixture
def executed():
    return execute


# --- the class run: every assignment graded once, read by several test modules ---------------------
# Tests that read it carry ``pytest.mark.xdist_group(CLASS_RUN)`` so that one xdist worker runs them
# all and the session fixture is built once (each worker would build its own).
CLASS_RUN = "class-run"


def pytest_collection_modifyitems(config, items):
    """A test that reads the class run must be in its group alone: xdist joins a test's groups into
    one name, and a test in ``browser`` and ``class-run`` would build the class run a second time."""
    for item in items:
        if "graded_class" in item.fixturenames:
            groups = {m.args[0] for m in item.iter_markers("xdist_group")}
            if groups != {CLASS_RUN}:
                raise pytest.UsageError(f"{item.nodeid} reads the class run: its xdist groups must be "
                                        f"[{CLASS_RUN!r}], not {sorted(groups)}")


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory):
    """Every assignment's three sample submissions (the solution, the partly wrong sample, the blank
    release) graded once through ``xai-course grade``'s pipeline (in bubblewrap where it runs), then
    nbgrader's feedback and export: ``(round trip, {(student, assignment): JobResult})``.

    The executed notebooks stay under ``executed/<student>/<assignment>/`` (``executed_notebook``)."""
    from autograder.course import demo, parallel, sandbox
    from autograder.course.coursedir import assignments

    rt = demo.prepare(tmp_path_factory.mktemp("class") / "course", assignments(), progress=False)
    os_sandbox = not sandbox.sandbox_problem()
    results = {}
    for name in rt.names:
        for r in parallel.autograde_parallel(rt.course, name, list(demo.STUDENTS), workers=2,
                                             os_sandbox=os_sandbox):
            results[(r.student, name)] = r
        rt.course.generate_feedback(name)
    rt.feedback = sorted(rt.course.root.glob("feedback/*/*/*.html"))
    rt.grades_csv = rt.course.export()
    rt.scores = rt.course.scores()
    return rt, results


def executed_notebook(rt, student: str, name: str):
    from autograder.course import parallel

    return nbformat.read(rt.course.root / parallel.EXECUTED / student / name / f"{name}.ipynb", as_version=4)
