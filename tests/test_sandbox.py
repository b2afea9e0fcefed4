"""The sandbox's own limits, on tiny notebooks (the hostile suite runs them on a real assignment)."""
from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.course import sandbox

pytestmark = pytest.mark.xdist_group("sandbox")


def run(*sources, **limits):
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    return sandbox.execute(nbformat.writes(nb), trusted_sources=[], protected=[],
                           limits=sandbox.Limits(**limits))


def test_the_wall_clock_kills_a_notebook_that_never_ends():
    ex = run("import time\ntime.sleep(600)", cell_timeout=900, wall=20)
    assert ex.notebook is None
    assert "did not finish within the wall clock of 20 s; killed" in ex.problems[0]
    assert ex.seconds < 60


def test_memory_beyond_the_limit_is_an_error_in_that_cell_only():
    ex = run("hog = bytearray(8 << 30)", "print('still here')", memory=4 << 30)
    first, second = nbformat.reads(ex.notebook, as_version=4).cells
    assert first.outputs[0].ename == "MemoryError"
    assert second.outputs[0].text == "still here\n"


def test_the_kernel_works_in_an_empty_folder_without_the_course_in_its_environment():
    ex = run("import os, json\nprint(json.dumps([os.listdir('.'), sorted(os.environ)]))")
    listing, env = __import__("json").loads(nbformat.reads(ex.notebook, as_version=4).cells[0].outputs[0].text)
    assert listing == ["submission.ipynb"]
    assert "XAI_GUARD" not in env and not any("NBGRADER" in k or "PYTEST" in k for k in env)
