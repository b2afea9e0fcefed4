"""Setuptools hook: the course's notebooks travel in the wheel (everything else is in pyproject.toml).

Git keeps one copy of the notebooks, in ``solutions/`` (instructor sources and their data files) and
``exercises/`` (the student release). Building the package copies them into
``autograder/course/notebooks/source/`` and ``.../release/``, where ``autograder.course.material``
finds them after a plain ``pip install``. An editable install reads the checkout instead.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
NOTEBOOKS = {"source": "solutions", "release": "exercises"}
SKIP = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", ".nbgrader.log", "*.pyc")


class build_py_with_notebooks(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):   # pip install -e: the checkout's folders are read
            return
        target = Path(self.build_lib) / "autograder" / "course" / "notebooks"
        for kind, folder in NOTEBOOKS.items():
            if not (HERE / folder).is_dir():
                raise SystemExit(f"building the package needs {HERE / folder} (the course's notebooks)")
            if (target / kind).exists():
                shutil.rmtree(target / kind)   # our own build output, rebuilt each time
            shutil.copytree(HERE / folder, target / kind, ignore=SKIP)


setup(cmdclass={"build_py": build_py_with_notebooks})
