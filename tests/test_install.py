"""The course travels in the package: a wheel, installed (not editable) into a fresh virtual
environment, runs from a folder outside the checkout.

The wheel is built from a copy of the checkout (``pip wheel --no-deps``); the fresh environment sees
the test environment's dependencies through a ``.pth`` line (not its site folder: the editable
install of this checkout stays invisible), so only the wheel decides what ``autograder`` is.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest
from conftest import REPO

from autograder.course import submissions as subs

pytestmark = [pytest.mark.xdist_group("install")]
IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__", ".hypothesis",
                                "tests", "benchmarks", "docs", ".ipynb_checkpoints", "notebooks")


class Installed:
    def __init__(self, venv: Path, work: Path):
        self.venv, self.work = venv, work
        self.python = venv / "bin" / "python"
        self.site = Path(subprocess.run([str(self.python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        capture_output=True, text=True, check=True).stdout.strip())
        self.env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        self.env["PATH"] = f"{venv / 'bin'}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"

    def run(self, *args: str, cwd: Path | None = None, check: bool = True, timeout: int = 600,
            env: dict[str, str] | None = None):
        proc = subprocess.run(list(args), check=False, cwd=cwd or self.work, env=self.env | (env or {}),
                              capture_output=True,
                              text=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{args} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def xai(self, *args: str, **kw):
        return self.run(str(self.venv / "bin" / "xai-course"), *args, **kw)

    def notebooks(self) -> Path:
        return self.site / "autograder" / "course" / "notebooks"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=IGNORE)
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp / "dist")], check=True, capture_output=True, cwd=tmp)
    (wheel,) = (tmp / "dist").glob("xai_rnn_course-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp / "venv")], check=True)
    inst = Installed(tmp / "venv", tmp / "work")
    inst.work.mkdir()
    # the test environment's packages (torch, nbgrader, ...) without its editable install of this checkout
    (inst.site / "test-env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    inst.run(str(inst.python), "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed", str(wheel))
    return inst


def test_the_wheel_is_what_runs_and_carries_the_notebooks(installed):
    where = installed.run(str(installed.python), "-c", "import autograder, reference; "
                          "print(autograder.__file__); print(reference.__file__)").stdout.split()
    assert all(Path(w).is_relative_to(installed.site) for w in where), where
    for name in ("taylor", "lrp_max"):
        for kind, folder in (("source", "solutions"), ("release", "exercises")):
            shipped = installed.notebooks() / kind / name / f"{name}.ipynb"
            assert shipped.read_bytes() == (REPO / folder / name / f"{name}.ipynb").read_bytes()
    assert (installed.site / "autograder" / "course" / "templates" / "xai_mathjax.html.j2").is_file()
    for template in ("xai_feedback", "xai_formgrade"):
        folder = installed.site / "autograder" / "course" / "templates" / template
        assert (folder / "index.html.j2").is_file() and (folder / "conf.json").is_file(), template
    timings = installed.site / "autograder" / "course" / "timings.json"
    assert timings.read_bytes() == (REPO / "autograder" / "course" / "timings.json").read_bytes()


def test_the_course_map_runs_from_the_installed_package(installed):
    from autograder.course import coursemap

    assert installed.xai("map").stdout.rstrip("\n") == coursemap.table()


FORMGRADE_PAGE = """
import sys
sys.path.insert(0, sys.argv[1])      # the tests folder: the formgrader's config as test_formgrade reads it
from nbconvert.exporters import HTMLExporter
from test_formgrade import course_config, page_resources
import autograder.course.formgrade
print(autograder.course.formgrade.__file__)
html, _ = HTMLExporter(config=course_config(sys.argv[2])).from_filename(sys.argv[3], resources=page_resources(sys.argv[4], sys.argv[4]))
print(html)
"""


def test_the_formgrader_shows_rubrics_from_the_installed_package(installed, tmp_path):
    from autograder.course.formgrade import manual_cells

    name = "taylor"
    installed.xai("course", "new", str(tmp_path / "course"), "--assignment", name)
    release = installed.notebooks() / "release" / name / f"{name}.ipynb"
    # nbconvert's own templates (classic, base) are data files of the test environment, which the fresh
    # environment sees only through its .pth line: point Jupyter's data path at them
    data = {"JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter")}
    out = installed.run(str(installed.python), "-c", FORMGRADE_PAGE, str(REPO / "tests"), str(tmp_path / "course"),
                        str(release), name, env=data).stdout
    where, html = out.split("\n", 1)
    assert Path(where).is_relative_to(installed.site)
    written = manual_cells(nbformat.read(release, as_version=4))
    assert written and html.count('class="panel panel-info xai-rubric"') == len(written)
    assert "No rubric" not in html


HELP_ALL = """
import contextlib, io, re
from autograder import cli
def usage(*argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        cli.main([*argv, "--help"])
    return out.getvalue()
commands = re.search(r"\\{([a-z,]+)\\}", usage()).group(1).split(",")
nested = {"course": ["new", "add"], "thesis": ["train", "explain", "report"]}
for command in commands:
    for argv in [[command]] + [[command, action] for action in nested.get(command, [])]:
        text = usage(*argv)
        assert text.startswith("usage: xai-course " + " ".join(argv)), (argv, text)
        print(" ".join(argv))
"""


def test_every_help_works_anywhere(installed):
    top = installed.xai("--help").stdout
    assert {"demo", "release", "check", "grade", "course", "start"} <= set(re.search(r"\{([a-z,]+)\}", top).group(1).split(","))
    shown = installed.run(str(installed.python), "-c", HELP_ALL).stdout.splitlines()
    assert {"course new", "course add", "start", "grade", "thesis report"} <= set(shown)


def test_course_new_add_and_start_from_the_installed_package(installed, tmp_path):
    installed.xai("course", "new", str(tmp_path / "course"), "--assignment", "taylor")
    installed.xai("course", "add", str(tmp_path / "course"), "lrp_max")
    assert sorted(p.name for p in (tmp_path / "course" / "source").iterdir()) == ["lrp_max", "taylor"]
    installed.xai("start", "taylor", cwd=tmp_path)
    assert (tmp_path / "taylor" / "taylor.ipynb").read_bytes() == \
        (installed.notebooks() / "release" / "taylor" / "taylor.ipynb").read_bytes()
    refused = installed.xai("release", check=False)
    assert refused.returncode == 2 and "--out" in refused.stderr


@pytest.mark.slow
def test_release_and_autograde_one_assignment_from_the_installed_package(installed, tmp_path):
    """``course new``, nbgrader's release, a correct submission, ``xai-course grade``: full marks."""
    name = "lrp_max"
    course = tmp_path / "course"
    installed.xai("course", "new", str(course), "--assignment", name)
    nbgrader = [str(installed.python), "-m", "nbgrader"]
    installed.run(*nbgrader, "generate_assignment", name, cwd=course)
    installed.run(*nbgrader, "db", "student", "add", "ada", cwd=course)
    release = subs.read(course / "release" / name / f"{name}.ipynb")
    source = subs.read(course / "source" / name / f"{name}.ipynb")
    folder = course / "submitted" / "ada" / name
    folder.mkdir(parents=True)
    (folder / f"{name}.ipynb").write_text(subs.dumps(subs.filled_in(release, source)))
    out = installed.xai("grade", str(course), name).stdout
    full = sum(subs.test_cells(source).values())
    assert re.search(rf"ada\s+graded\s+{full:g}/{full:g}", out), out
    graded = nbformat.read(course / "autograded" / "ada" / name / f"{name}.ipynb", as_version=4)
    assert graded.cells, "nbgrader wrote the autograded notebook"
