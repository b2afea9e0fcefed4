"""The main job: a full nbgrader round trip on the course's own assignments.

release -> three submissions per assignment (the solution, a partly wrong one, the blank release)
-> autograde into a real gradebook -> feedback -> grade export -> a table of scores per student and
question, checked against what each submission deserves.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from . import submissions as subs
from .coursedir import CourseDir, Refused, assignments
from .labels import labels
from .table import Points, fraction, render

MARKER = ".xai-demo-course"   # written into every course the demo builds: only those it replaces
STUDENTS = {"solution": ("Sol", "Ution"), "partial": ("Part", "Ly-Wrong"), "blank": ("Blank", "Release")}


@dataclass
class RoundTrip:
    course: CourseDir
    names: list[str]
    tests: dict = field(default_factory=dict)       # assignment -> {grade_id: points}
    labels: dict = field(default_factory=dict)      # assignment -> {grade_id: labels.Label}
    expected: dict = field(default_factory=dict)    # (student, assignment) -> {grade_id: points}
    timings: dict = field(default_factory=dict)     # (student, assignment) -> seconds
    scores: dict = field(default_factory=dict)      # from the gradebook
    feedback: list = field(default_factory=list)
    grades_csv: Path | None = None

    def mismatches(self) -> list[str]:
        """Every (student, assignment, question) whose autograded score is not the expected one."""
        out = []
        for key, want in self.expected.items():
            got = self.scores.get(key)
            if got is None:
                out.append(f"{key}: no autograded submission in the gradebook")
                continue
            for gid, points in want.items():
                score = got.get(gid, (None, None))[0]
                if score is None or abs(score - points) > 1e-9:
                    out.append(f"{key[0]}/{key[1]}/{gid}: expected {points}, got {score}")
        return out


def claim(course_root: Path, *, force: bool = False) -> Path:
    """An empty ``course_root`` for the demo, marked as its own (``MARKER``).

    An existing ``course_root`` is replaced only if an earlier demo built it (it holds ``MARKER``),
    if it is empty, or with ``force``; otherwise ``Refused``.
    """
    course_root = Path(course_root)
    if course_root.exists():
        ours = (course_root / MARKER).is_file() or (course_root.is_dir() and not any(course_root.iterdir()))
        if not (ours or force):
            raise Refused(f"{course_root} exists and was not built by xai-course demo: choose another "
                          f"--course-dir, or pass --force to replace it")
        shutil.rmtree(course_root) if course_root.is_dir() else course_root.unlink()
    course_root.mkdir(parents=True)
    (course_root / MARKER).write_text("built by xai-course demo; the next demo run replaces this folder\n")
    return course_root


def prepare(course_root: Path, names: list[str] | None = None, *, progress: bool = True,
            force: bool = False) -> RoundTrip:
    """A fresh course at ``course_root`` (see ``claim``) with every assignment released and three
    submissions each."""
    names = names or assignments()
    course = CourseDir(claim(course_root, force=force)).create(names)
    rt = RoundTrip(course, names)
    for student, (first, last) in STUDENTS.items():
        course.add_student(student, first, last)

    for name in tqdm(names, desc="release", disable=not progress):
        release_nb = subs.read(course.release(name))
        source_nb = subs.read(course.root / "source" / name / f"{name}.ipynb")
        tests = subs.test_cells(source_nb)
        rt.tests[name] = tests
        rt.labels[name] = labels(source_nb)
        sample = subs.sample(name)
        made = {
            "solution": subs.filled_in(release_nb, source_nb),
            "partial": subs.filled_in(release_nb, source_nb, sample["answers"]),
            "blank": release_nb,
        }
        for student, nb in made.items():
            course.submit(student, name, subs.dumps(nb))
        rt.expected[("solution", name)] = dict(tests)
        rt.expected[("blank", name)] = {gid: 0.0 for gid in tests}
        rt.expected[("partial", name)] = {gid: (0.0 if gid in sample["failing_tests"] else pts)
                                          for gid, pts in tests.items()}

    return rt


def run(course_root: Path, names: list[str] | None = None, *, progress: bool = True,
        force: bool = False) -> RoundTrip:
    """Build a fresh course at ``course_root`` and grade the three sample submissions of each assignment."""
    rt = prepare(course_root, names, progress=progress, force=force)
    course, names = rt.course, rt.names
    jobs = [(s, n) for n in names for s in STUDENTS]
    for student, name in tqdm(jobs, desc="autograde", disable=not progress):
        rt.timings[(student, name)] = course.autograde(name, student)
    for name in names:
        course.generate_feedback(name)
    rt.feedback = sorted(course.root.glob("feedback/*/*/*.html"))
    rt.grades_csv = course.export()
    rt.scores = course.scores()
    return rt


def table(rt: RoundTrip) -> str:
    """Scores per student and question, one block per assignment; totals as ``xai-course grade`` shows them."""
    blocks = []
    for name in rt.names:
        tests = rt.tests[name]
        got = {s: rt.scores.get((s, name), {}) for s in STUDENTS}
        labels = rt.labels.get(name, {})
        rows = [[str(labels.get(gid, gid)), gid] + [fraction(got[s].get(gid, (None, pts))[0], pts) for s in STUDENTS]
                for gid, pts in tests.items()]
        points = {s: Points.of(got[s], tests) for s in STUDENTS}
        rows.append(["autograded total", ""] + [fraction(p.auto, p.auto_max) for p in points.values()])
        if any(p.manual_max for p in points.values()):
            rows.append(["graded by hand", ""] + [fraction(p.manual, p.manual_max) for p in points.values()])
        right = set(range(2, 2 + len(STUDENTS)))
        blocks.append(f"\n{name}\n" + render(["question", "grade id", *STUDENTS], rows, right=right, indent="  "))
    return "\n".join(blocks)


def main(course_root: Path, names: list[str] | None = None, force: bool = False) -> int:
    start = time.perf_counter()
    rt = run(course_root, names, force=force)
    elapsed = time.perf_counter() - start
    print(table(rt))
    print("\nautograde wall time per submission (nbgrader autograde --student, kernel start included):")
    for (student, name), secs in rt.timings.items():
        print(f"  {name:<12} {student:<9} {secs:6.1f} s")
    print(f"\ngradebook:  {rt.course.root / 'gradebook.db'}")
    print(f"grades:     {rt.grades_csv}")
    print(f"feedback:   {len(rt.feedback)} HTML files under {rt.course.root / 'feedback'}")
    print(f"total:      {elapsed:.1f} s")
    bad = rt.mismatches()
    if bad:
        print("\nUNEXPECTED SCORES:\n  " + "\n  ".join(bad))
        return 1
    print("\nAll scores as expected: the solution full marks, the blank release zero, "
          "the partly wrong submission loses exactly its wrong answers.")
    return 0
