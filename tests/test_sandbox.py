"""The sandbox's own limits and isolation, on tiny notebooks (the hostile suite runs them on a real
assignment)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from hostile_submissions import processes_with
from nbformat.v4 import new_code_cell, new_notebook

from autograder.course import sandbox

pytestmark = [pytest.mark.xdist_group("sandbox"),
              pytest.mark.skipif(bool(sandbox.sandbox_problem()), reason=f"{sandbox.sandbox_problem()}")]
REPO = Path(__file__).resolve().parents[1]


def run(*sources, os_sandbox=True, **limits):
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    return sandbox.execute(nbformat.writes(nb), trusted_sources=[], protected=[],
                           limits=sandbox.Limits(**limits), os_sandbox=os_sandbox)


def outputs(ex):
    return [json.loads(c.outputs[0].text) for c in nbformat.reads(ex.notebook, as_version=4).cells]


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


@pytest.mark.parametrize("os_sandbox", [True, False], ids=["bwrap", "no-os-sandbox"])
def test_the_kernel_works_in_an_empty_folder_without_the_course_in_its_environment(os_sandbox):
    ex = run("import os, json\nprint(json.dumps([os.listdir('.'), sorted(os.environ)]))", os_sandbox=os_sandbox)
    [(listing, env)] = outputs(ex)
    assert listing == ["submission.ipynb"]
    assert "XAI_GUARD" not in env and not any("NBGRADER" in k or "PYTEST" in k for k in env)


def test_the_kernel_sees_only_the_python_environment_and_its_own_tmpfs():
    probe = f"""import json, os, socket, tempfile
print(json.dumps({{"home": os.path.expanduser('~'), "tmp": tempfile.gettempdir(), "root": sorted(os.listdir('/')),
    "repo": sorted(os.listdir({str(REPO)!r})), "host_home": os.listdir({str(Path.home())!r}) if os.path.isdir({str(Path.home())!r}) else [],
    "interfaces": [n for _, n in socket.if_nameindex()],
    "caps": [l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')][0], "pids": sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),
    "writable": [p for p in ('/', '/usr', os.path.dirname(os.__file__), {str(REPO / 'autograder')!r}, '/job/work',
                             '/job/home', '/tmp') if os.access(p, os.W_OK)]}}))"""
    [seen] = outputs(run(probe))
    assert seen["home"] == "/job/home" and seen["tmp"] == "/job/tmp"
    # of the repository only the two packages (and the environment, if it lives there): no tests/, solutions/
    assert set(seen["repo"]) <= {"autograder", "reference", Path(sys.prefix).name}
    # of the grader's home only what holds the Python environment (pyenv's interpreter, say)
    assert all(any(p.startswith(str(Path.home() / e)) for p in sandbox.readonly_paths()) for e in seen["host_home"])
    assert seen["interfaces"] == ["lo"]
    assert int(seen["caps"], 16) == 0   # no capabilities, even where the grader runs as root
    assert max(seen["pids"]) < 20   # its own PID namespace: bwrap, the executor, the kernel
    assert seen["writable"] == ["/job/work", "/job/home", "/tmp"]


def test_a_process_started_from_a_cell_ends_with_the_job():
    marker = "611.9183"
    ex = run(f"get_ipython().system_raw('setsid sleep {marker} > /dev/null 2>&1 &')",
             f"import os, time\ntime.sleep(1)\nprint(sum({marker!r}.encode() in open(f'/proc/{{p}}/cmdline', 'rb').read()\n"
             f"          for p in os.listdir('/proc') if p.isdigit()))")
    assert nbformat.reads(ex.notebook, as_version=4).cells[1].outputs[0].text == "1\n"   # it ran ...
    deadline = time.monotonic() + 10   # the PID namespace is torn down asynchronously after the job
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_with(marker) == []                                                  # ... and is gone


def test_the_tmpfs_has_a_size_limit():
    ex = run("try:\n    open('big', 'wb').write(b'x' * (80 << 20))\nexcept OSError as e:\n    print(e.strerror)",
             disk=32 << 20)
    assert nbformat.reads(ex.notebook, as_version=4).cells[0].outputs[0].text.strip() == "No space left on device"


def test_a_missing_bubblewrap_is_named(monkeypatch):
    monkeypatch.setenv(sandbox.BWRAP, "/nonexistent/bwrap")
    assert "was not found at /nonexistent/bwrap" in sandbox.sandbox_problem()
    with pytest.raises(sandbox.SandboxUnavailable, match="Debian package 'bubblewrap'"):
        run("print(1)")


def test_a_python_environment_reached_through_a_symlink_runs(tmp_path):
    """A venv that is a link to another (``ln -s ../main/.venv .venv`` in a second checkout): the
    kernel is started by the link's name, which must exist inside the sandbox too."""
    link = tmp_path / "linked-venv"
    link.symlink_to(sys.prefix)
    script = ("import nbformat, sys\nfrom nbformat.v4 import new_code_cell, new_notebook\n"
              "from autograder.course import sandbox\n"
              "nb = new_notebook(cells=[new_code_cell('import sys; print(sys.prefix)')])\n"
              "ex = sandbox.execute(nbformat.writes(nb), trusted_sources=[], protected=[])\n"
              "print(ex.problems, nbformat.reads(ex.notebook, as_version=4).cells[0].outputs[0].text.strip())")
    run_ = subprocess.run([str(link / "bin" / "python"), "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, check=False)
    assert run_.returncode == 0, run_.stderr[-2000:]
    assert run_.stdout.split() == ["[]", str(link)]
