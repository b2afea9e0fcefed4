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
