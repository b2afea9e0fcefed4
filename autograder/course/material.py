"""Where the course's notebooks are: inside the installed package, or in the checkout.

Two kinds, one folder per assignment holding ``<assignment>.ipynb`` and its data files:

- ``source``: the instructor's notebooks (solutions, hidden tests, rubrics): ``solutions/`` in git;
- ``release``: what students get (``nbgrader generate_assignment``'s output): ``exercises/`` in git.

Git keeps one copy (``solutions/``, ``exercises/``). Building the wheel copies both into
``autograder/course/notebooks/{source,release}/`` (``setup.py``'s ``build_py``), so a plain
``pip install`` carries the course; an editable install or a checkout reads the folders in git.
"""
from __future__ import annotations

from pathlib import Path

PACKAGED = Path(__file__).resolve().with_name("notebooks")   # only in a built wheel
CHECKOUT = Path(__file__).resolve().parents[2]
IN_GIT = {"source": "solutions", "release": "exercises"}      # kind -> folder of the checkout


def packaged() -> bool:
    """True when running from an installed wheel (the notebooks are package data)."""
    return (PACKAGED / "source").is_dir()


def root(kind: str) -> Path:
    """The folder holding every assignment of ``kind`` (``"source"`` or ``"release"``)."""
    if kind not in IN_GIT:
        raise ValueError(f"kind: expected 'source' or 'release', got {kind!r}")
    path = PACKAGED / kind if packaged() else CHECKOUT / IN_GIT[kind]
    if not path.is_dir():
        raise FileNotFoundError(f"the course's {kind} notebooks are missing: expected {path} "
                                f"(install the package with pip, or run from a checkout)")
    return path


def assignments() -> list[str]:
    """The course's assignments, each a source folder holding ``<name>.ipynb``."""
    return sorted(p.name for p in root("source").iterdir() if (p / f"{p.name}.ipynb").is_file())


def folder(kind: str, name: str) -> Path:
    """The folder of assignment ``name`` (``kind`` ``"source"`` or ``"release"``), with a clear error."""
    path = root(kind) / name
    if not (path / f"{name}.ipynb").is_file():
        raise FileNotFoundError(f"no assignment {name!r} in the course: expected one of {', '.join(assignments())}")
    return path


def notebook(kind: str, name: str) -> Path:
    return folder(kind, name) / f"{name}.ipynb"


def inside(path: Path) -> bool:
    """True when ``path`` lies in one of the course's own notebook folders (never a working copy)."""
    path = Path(path).resolve()
    roots = [PACKAGED] + [CHECKOUT / f for f in IN_GIT.values()]
    return any(path == r or r in path.parents for r in roots)
