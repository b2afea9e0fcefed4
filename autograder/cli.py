"""``xai-course``: the course's command line.

    xai-course demo      release, submit, autograde, feedback and export on every assignment
    xai-course release   regenerate exercises/ from solutions/ with nbgrader generate_assignment
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from .course import demo
from .course.coursedir import REPO, CourseDir, assignments


def release(names: list[str] | None = None, out: Path | None = None) -> list[Path]:
    """Generate the student release of each assignment into ``out`` (default: the repo's exercises/)."""
    out = Path(out) if out else REPO / "exercises"
    names = names or assignments()
    written = []
    with tempfile.TemporaryDirectory(prefix="xai-release-") as tmp:
        course = CourseDir(Path(tmp) / "course").create(names)
        for name in names:
            course.release(name)
            dest = out / name
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(course.root / "release" / name, dest)
            written.append(dest)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xai-course", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="full nbgrader round trip on three sample submissions per assignment")
    p_demo.add_argument("--course-dir", type=Path, default=Path("build/demo-course"),
                        help="where to build the course (replaced if it exists; default: %(default)s)")
    p_demo.add_argument("--assignment", action="append", choices=assignments(),
                        help="only this assignment (repeatable; default: all)")
    p_rel = sub.add_parser("release", help="regenerate exercises/ from solutions/ (nbgrader generate_assignment)")
    p_rel.add_argument("--assignment", action="append", choices=assignments())
    p_rel.add_argument("--out", type=Path, default=None, help="output folder (default: the repo's exercises/)")
    args = parser.parse_args(argv)

    if args.command == "demo":
        return demo.main(args.course_dir, args.assignment)
    if args.command == "release":
        for path in release(args.assignment, args.out):
            print(f"released {path}")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
