"""Is this gradebook nbgrader's, and nothing more? Checked before a grading run and after it.

nbgrader's gradebook is an SQLite file. SQLite keeps, beside the tables, whatever else a writer put
there: a trigger fires inside nbgrader's own ``UPDATE`` and can rewrite another student's grade while
``PRAGMA integrity_check`` still says ``ok``; a view or an extra table is not nbgrader's either. So the
schema, every row of ``sqlite_master`` (type, name, table, SQL), must equal the one nbgrader's own
``nbgrader.api.Gradebook`` creates in an empty directory, and the file must be a plain file (not a
symbolic link). The file is read through a read-only connection: a
trigger fires on writes only, and nothing is written here.
"""
from __future__ import annotations

import contextlib
import functools
import os
import re
import sqlite3
import stat
import tempfile
from pathlib import Path

from .coursedir import nbgrader_env


class GradebookError(RuntimeError):
    """A gradebook that is not nbgrader's: nothing may be scored into it."""


def _read(path: Path, query: str) -> list[tuple]:
    """The rows of ``query`` through a read-only connection."""
    with contextlib.closing(sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)) as conn:
        return conn.execute(query).fetchall()


def _schema(path: Path) -> dict[tuple[str, str], str]:
    """``{(type, name): sql}`` of every object in ``sqlite_master``, SQL with whitespace collapsed."""
    rows = _read(path, "SELECT type, name, sql FROM sqlite_master")
    return {(kind, name): re.sub(r"\s+", " ", sql or "").strip() for kind, name, sql in rows}


@functools.cache
def nbgrader_schema() -> dict[tuple[str, str], str]:
    """The schema of an empty gradebook made by ``nbgrader.api.Gradebook`` (as ``nbgrader db`` does)."""
    from nbgrader.api import Gradebook

    path_before = os.environ.get("PATH")
    os.environ["PATH"] = nbgrader_env()["PATH"]   # nbgrader runs ``alembic heads`` to stamp the version
    try:
        with tempfile.TemporaryDirectory(prefix="xai-gradebook-") as tmp:
            db = Path(tmp) / "gradebook.db"
            Gradebook(f"sqlite:///{db}").close()
            return _schema(db)
    finally:
        if path_before is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = path_before


def problems(path: Path) -> list[str]:
    """What makes ``path`` not nbgrader's gradebook, one sentence each; empty when it is."""
    path = Path(path)
    try:
        st = path.lstat()
    except FileNotFoundError:
        return [f"{path} does not exist (expected nbgrader's gradebook.db)"]
    if stat.S_ISLNK(st.st_mode):
        return [f"{path} is a symbolic link (to {os.readlink(path)}), not the gradebook file itself"]
    if not stat.S_ISREG(st.st_mode):
        return [f"{path} is not a regular file"]
    found = []
    try:
        schema = _schema(path)
        integrity = [row[0] for row in _read(path, "PRAGMA integrity_check")]
    except sqlite3.DatabaseError as err:
        return found + [f"{path} is not an SQLite database nbgrader can read: {err}"]
    if integrity != ["ok"]:
        found.append(f"PRAGMA integrity_check: {'; '.join(integrity[:5])}")
    want = nbgrader_schema()
    for kind, name in sorted(set(schema) - set(want)):
        found.append(f"{kind} {name!r} is not part of nbgrader's gradebook")
    for kind, name in sorted(set(want) - set(schema)):
        found.append(f"{kind} {name!r} of nbgrader's gradebook is missing")
    for key in sorted(set(want) & set(schema)):
        if want[key] != schema[key]:
            found.append(f"{key[0]} {key[1]!r} differs from nbgrader's: {schema[key][:200]}")
    return found


def require(path: Path, when: str) -> None:
    """Raise ``GradebookError`` naming every problem of ``path`` (``when``: "before grading", ...)."""
    found = problems(path)
    if found:
        raise GradebookError(f"refusing the gradebook {path} {when}: " + "; ".join(found))
