"""Set-up commands in the spirit of nbgrader's own ``quickstart``, none of which overwrites anything.

- ``new_course(DIR)``: an nbgrader course with this package's config and instructor notebooks;
- ``add(DIR, names)``: the source notebooks copied into an existing nbgrader course's ``source/``
  (any course, ``nbgrader quickstart``'s included); nothing else in it changes;
- ``start(name, DIR)``: a learner's working copy of the released notebook, outside the course's
  own folders.

Each refuses (``Refused``) to write over an existing folder or file unless ``force`` is given
(``start`` never overwrites: a working copy is a student's work).
"""
from __future__ import annotations

import shutil
from pathlib import Path

from . import material
from .coursedir import CourseDir, Refused

SKIP = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", ".nbgrader.log")


def new_course(root: Path, names: list[str] | None = None, *, force: bool = False,
               timeout: int = 120) -> CourseDir:
    """An nbgrader course at ``root`` holding the source notebooks of ``names`` (default: all)."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise Refused(f"{root} is a file, not a folder for a course")
    if root.is_dir() and any(root.iterdir()) and not force:
        raise Refused(f"{root} exists and is not empty: choose a new folder, or pass --force to write the "
                      f"course's config and notebooks into it (other files are kept)")
    return CourseDir(root, timeout=timeout).create(list(names or material.assignments()))


def source_directory(root: Path) -> Path:
    """The ``source/`` folder of the nbgrader course at ``root``, as its ``nbgrader_config.py`` names it."""
    from traitlets.config.loader import PyFileConfigLoader

    root = Path(root)
    if not (root / "nbgrader_config.py").is_file():
        raise Refused(f"{root} is not an nbgrader course (expected {root / 'nbgrader_config.py'}; "
                      f"make one with xai-course course new or nbgrader quickstart)")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    return root / config.CourseDirectory.get("source_directory", "source")


def add(root: Path, names: list[str], *, force: bool = False) -> list[Path]:
    """Copy the source folder of each of ``names`` into the course at ``root``; the folders written."""
    source = source_directory(root)
    folders = {name: material.folder("source", name) for name in names}   # unknown names fail first
    taken = [source / n for n in folders if (source / n).exists()]
    if taken and not force:
        raise Refused(f"{', '.join(map(str, taken))} already exist(s): pass --force to replace")
    written = []
    for name, src in folders.items():
        dest = source / name
        if dest.exists():
            shutil.rmtree(dest)   # --force
        shutil.copytree(src, dest, ignore=SKIP)
        written.append(dest)
    return written


def start(name: str, dest: Path | None = None) -> Path:
    """A learner's copy of the released ``name`` in ``dest`` (default ``./<name>/``); the notebook's path."""
    src = material.folder("release", name)
    dest = Path(dest) if dest is not None else Path.cwd() / name
    if material.inside(dest):
        raise Refused(f"{dest} is inside the course's own notebooks: work in a folder of your own")
    files = [p for p in sorted(src.rglob("*")) if p.is_file() and not SKIP(str(p.parent), [p.name])
             and ".ipynb_checkpoints" not in p.parts]
    clashes = [dest / p.relative_to(src) for p in files if (dest / p.relative_to(src)).exists()]
    if clashes:
        raise Refused(f"{clashes[0]} already exists: start never overwrites a working copy "
                      f"(continue in it, or pick another folder)")
    for p in files:
        target = dest / p.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, target)   # not copy2: a read-only install must give a writable copy
    return dest / f"{name}.ipynb"
