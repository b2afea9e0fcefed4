"""Copying detected: every student's answers compared with the public solution and with each other.

The course's solutions are public, so the likeliest way to a full score without the work is to copy
them, or a classmate. After grading, for one assignment, this module takes each student's *answer
cells* (the cells the instructor's ``source/`` notebook marks ``solution: true``, found in the
submission by their ``grade_id``), and compares them with copydetect (Stanford MOSS's method:
the code is tokenised, every name becomes ``V`` / ``F``, every string ``S``, comments and layout
are dropped, and the documents are compared by winnowed fingerprints of ``NOISE`` characters):

* **code** answers, all of a student's code cells as one Python document, so that renaming
  variables, reformatting or moving code between cells does not hide it;
* **written** answers (markdown cells), as plain text (lower-cased, layout dropped), since the
  model answers are public too.

The release's own code (every code cell of the notebook students get: the ``def`` lines,
docstrings and ``raise NotImplementedError()`` of the templates) is *boilerplate*: its fingerprints
are removed from every document first (copydetect's boilerplate option), so a blank submission or
the template itself shares nothing with anyone.

For a student and another document (the solution, or another student), the similarity is the share
of the student's own fingerprinted tokens that also occur in the other; for two students, the
larger of the two directions (the one who copied a part of the other's work). ``similarity`` is the
larger of the code and the written similarity. A pair is reported when it is at least
``THRESHOLD``; a student with fewer than ``MIN_TOKENS`` fingerprinted tokens of their own is not
judged (a one-line answer has one way of being written). A report goes to the instructor (lines
in ``logs/autograde-<a>.log``, ``reports/copying-<a>.csv``, lines in ``xai-course grade``'s output):
**it never changes a score**; the instructor reads the two notebooks and decides.

Calibration (``benchmarks/copying_threshold.py``, table in ``benchmarks/results/copying_threshold.md``),
on the course's eight assignments, without kernels:

* copies: the solution handed in verbatim scores 1.00 against the solution on every assignment; the
  solution with every local name renamed and the layout redone (``tests/copying_variants.py``) 1.00;
  the partly wrong samples (``samples/*.json``, which are the solution with deliberate mistakes)
  0.88 to 0.98 on code, and 1.00 on the written answers, which they take from the model answers;
* independent: two hand-written honest answers to ``bptt`` (both pass every check) score at most
  0.26 on code and 0.08 on written answers against the solution, the copies and each other; the
  blank release scores 0 against everyone (nothing is left after the boilerplate).

``THRESHOLD = 0.5`` lies in the gap between 0.26 and 0.88. Calibrated on one assignment's honest
answers, written by one person: an instructor with real submissions should read the CSV's values
near the threshold. One question copied into an otherwise original notebook can stay under it (the
per-question column shows each answer's own share, but short answers the mathematics dictates, such
as an unrolled recurrence, reach 0.59 between honest students, so single answers are not judged).
"""
from __future__ import annotations

import csv
import io
import re
import time
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import nbformat
import numpy as np
from copydetect import CodeFingerprint, compare_files
from tqdm.auto import tqdm

from . import intake
from .submissions import strip_solution_markers

THRESHOLD = 0.5      # the share of a student's own answer found in another document (see above)
NOISE = 25           # copydetect's noise threshold: the shortest match counted, in filtered characters
WINDOW = 1           # winnowing window; 1 keeps every fingerprint (guarantee threshold = NOISE)
JOIN = "\n\n"          # between the cells of one document
MIN_TOKENS = 40      # fingerprinted tokens of a student's own below which there is nothing to judge
SOLUTION = "(solution)"   # the public solution, as the "other" of a pair (no student id has brackets)


@dataclass
class Answers:
    """One notebook's answer cells: ``{grade_id: source}`` for code and for written answers."""
    code: dict = field(default_factory=dict)
    written: dict = field(default_factory=dict)


@dataclass
class Pair:
    student: str
    other: str                 # another student, or "solution"
    similarity: float          # the larger of code and written
    code: float
    written: float
    questions: dict            # grade_id -> similarity of that one answer


def answers(nb, solution_ids: dict[str, str]) -> Answers:
    """The cells of ``nb`` whose ``grade_id`` is one of the instructor's answer cells (id -> cell type)."""
    out = Answers()
    for cell in nb.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        kind = solution_ids.get(gid)
        if kind is None or cell.cell_type != kind:
            continue
        (out.code if kind == "code" else out.written)[gid] = strip_solution_markers(cell.source)
    return out


def _text(source: str) -> str:
    return re.sub(r"\s+", " ", source).strip().lower()


class _Fingerprints:
    """copydetect fingerprints of one document kind, with the release's boilerplate removed."""

    def __init__(self, code: bool, boilerplate: list[str]):
        self.code = code
        # as copydetect's own boilerplate_dirs: every k-gram of the boilerplate (window 1), unique
        hashes = [h for src in boilerplate for h in self._fingerprint(src, None, window=1).hashes]
        self.boilerplate = np.unique(np.array(hashes))

    def _fingerprint(self, source: str, boilerplate, window: int = WINDOW) -> CodeFingerprint:
        if self.code:
            return CodeFingerprint("answers.py", NOISE, window, boilerplate, fp=io.StringIO(source))
        return CodeFingerprint("answers.txt", NOISE, window, boilerplate, filter=False,
                               fp=io.StringIO(_text(source)))

    def __call__(self, source: str) -> CodeFingerprint | None:
        """The fingerprints of ``source``, None when too little of it is the student's own."""
        fp = self._fingerprint(source, self.boilerplate)
        return fp if fp.token_coverage >= MIN_TOKENS else None


def _share(a: CodeFingerprint | None, b: CodeFingerprint | None) -> tuple[float, float]:
    """(share of a's tokens found in b, share of b's found in a); 0 when either has nothing to judge."""
    if a is None or b is None:
        return 0.0, 0.0
    _, (sa, sb), _ = compare_files(a, b)
    return float(sa), float(sb)


def compare(solution: Answers, release: list[str], students: dict[str, Answers],
            threshold: float = THRESHOLD, progress: bool = False) -> list[Pair]:
    """Every (student, solution) and (student, student) pair whose similarity is at least ``threshold``.

    ``release`` holds the code cells of the notebook students were given (the boilerplate).
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"copy threshold: expected a share in (0, 1], got {threshold}")
    kinds = {"code": _Fingerprints(True, release), "written": _Fingerprints(False, [])}
    docs = {SOLUTION: solution, **students}
    # each document once: the whole of a kind (all its cells), and every answer on its own
    whole, single = {}, {}
    for name, a in tqdm(docs.items(), desc="copying: fingerprints", disable=not progress):
        for kind, fingerprint in kinds.items():
            whole[name, kind] = fingerprint(JOIN.join(getattr(a, kind).values()))
            single.update({(name, gid): fingerprint(src) for gid, src in getattr(a, kind).items()})

    def pair(s: str, other: str, both_ways: bool) -> Pair:
        def share(a, b) -> float:
            forward, backward = _share(a, b)
            return max(forward, backward) if both_ways else forward

        sims = {kind: share(whole[s, kind], whole[other, kind]) for kind in kinds}
        questions = {}
        for gid in sorted({gid for name, gid in single if name == s}):
            sim = share(single[s, gid], single.get((other, gid)))
            if sim:
                questions[gid] = round(sim, 2)
        return Pair(s, other, max(sims.values()), sims["code"], sims["written"], questions)

    pairs = [pair(s, SOLUTION, False) for s in students]
    pairs += [pair(a, b, True) for a, b in combinations(sorted(students), 2)]
    return sorted((p for p in pairs if p.similarity >= threshold), key=lambda p: (-p.similarity, p.student))


def solution_ids(source_nb) -> dict[str, str]:
    """``{grade_id: cell type}`` of the instructor's answer cells."""
    return {c.metadata.nbgrader.grade_id: c.cell_type for c in source_nb.cells
            if c.get("metadata", {}).get("nbgrader", {}).get("solution")}


def boilerplate(release_nb, ids: dict[str, str]) -> list[str]:
    """What the release gives every student: each code cell, and its answer cells joined as a student's
    document is (so that k-grams across the joins count as given too)."""
    return [c.source for c in release_nb.cells if c.cell_type == "code"] + \
        [JOIN.join(answers(release_nb, ids).code.values())]


def detect(root: Path, assignment: str, students: list[str], threshold: float = THRESHOLD,
           progress: bool = False) -> list[Pair]:
    """Compare the submissions of ``students`` in the nbgrader course at ``root`` (see the module docstring).

    A submission that intake rejects (no readable notebook) is left out: there is nothing to compare.
    """
    root = Path(root)
    notebooks = {}
    for folder in ("source", "release"):
        path = root / folder / assignment / f"{assignment}.ipynb"
        if not path.is_file():
            raise FileNotFoundError(f"expected the {folder} notebook {path} (nbgrader's course layout)")
        notebooks[folder] = nbformat.read(path, as_version=4)
    source_nb, release_nb = notebooks["source"], notebooks["release"]
    ids = solution_ids(source_nb)
    handed_in = {}
    for student in students:
        got = intake.read_submission(root / "submitted" / student / assignment, assignment)
        if got.ok:
            handed_in[student] = answers(nbformat.reads(got.notebook, as_version=4), ids)
    return compare(answers(source_nb, ids), boilerplate(release_nb, ids), handed_in, threshold, progress)


def describe(p: Pair) -> str:
    """One line for the instructor, e.g. ``alice ~ solution: 0.97 similar (code 0.97, written 0.00)``."""
    return (f"{p.student} ~ {p.other}: {p.similarity:.2f} similar (code {p.code:.2f}, written {p.written:.2f}); "
            "a possible copy for the instructor to read, scores unchanged")


def report(root: Path, assignment: str, students: list[str], threshold: float = THRESHOLD,
           progress: bool = False) -> tuple[list[Pair], Path]:
    """``detect``, then ``reports/copying-<a>.csv`` and one line per pair in ``logs/autograde-<a>.log``."""
    root = Path(root)
    pairs = detect(root, assignment, students, threshold, progress)
    out = root / "reports" / f"copying-{assignment}.csv"
    out.parent.mkdir(exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "other", "similarity", "code", "written", "questions"])
        for p in pairs:
            writer.writerow([p.student, p.other, f"{p.similarity:.3f}", f"{p.code:.3f}", f"{p.written:.3f}",
                             " ".join(f"{gid}:{s:.2f}" for gid, s in p.questions.items())])
    log = root / "logs" / f"autograde-{assignment}.log"
    log.parent.mkdir(exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    with log.open("a", encoding="utf-8") as f:
        f.write(f"{stamp} {assignment} - copying: {len(pairs)} pair(s) at or above {threshold:.2f} in {out}\n")
        for p in pairs:
            f.write(f"{stamp} {assignment} {p.student} copying: {describe(p)}\n")
    return pairs, out
