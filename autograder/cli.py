"""``xai-course``: the course's command line.

    xai-course demo      release, submit, autograde, feedback and export on every assignment
    xai-course build     build solutions/ from the jupytext sources in tools/notebooks/
    xai-course release   regenerate exercises/ from solutions/ with nbgrader generate_assignment
    xai-course course new DIR | course add DIR ASSIGNMENT...   an nbgrader course with this course's
                         notebooks, or one of them added to any nbgrader course
    xai-course start ASSIGNMENT [DIR]   your own working copy of an assignment (students, self-study)
    xai-course export COURSE --format canvas|moodle   the gradebook for an LMS import
    xai-course map       order, prerequisites, learning goals and a measured time per assignment
    xai-course check NB  run your notebook in a fresh kernel and report each check (self-study)
    xai-course grade COURSE ASSIGNMENT   grade a class: in parallel, each submission in its own
                         bubblewrap sandbox, one gradebook writer, a log of every decision
    xai-course thesis train|explain|report   the thesis pipeline (RNN cells explained through time)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm.auto import tqdm

from .course import demo, material, scaffold
from .course.coursedir import CourseDir, Refused
from .course.release import release


def assignment(name: str) -> str:
    """argparse type: one of the course's assignments (read when parsing, not when building --help)."""
    names = material.assignments()
    if name not in names:
        raise argparse.ArgumentTypeError(f"no assignment {name!r}: expected one of {', '.join(names)}")
    return name


def grade(args) -> int:
    """``xai-course grade``: one line per submission, the log's path; status 1 if any was zeroed or needs
    the instructor's attention, 2 if nothing could be graded (a gradebook that is not nbgrader's)."""
    from .course import copying, parallel, sandbox, table
    from .course.gradebook import GradebookError

    course = CourseDir(args.course, timeout=args.cell_timeout)
    submitted = course.root / "submitted"
    if not (course.root / "gradebook.db").is_file() or not submitted.is_dir():
        print(f"xai-course grade: expected an nbgrader course with gradebook.db and submitted/ in {course.root}",
              file=sys.stderr)
        return 2
    threshold = copying.THRESHOLD if args.copy_threshold is None else args.copy_threshold
    if not 0 < threshold <= 1:
        print(f"xai-course grade: --copy-threshold expects a share in (0, 1], got {threshold}", file=sys.stderr)
        return 2
    students = args.student or sorted(p.parent.name for p in submitted.glob(f"*/{args.assignment}") if p.is_dir())
    if not students:
        print(f"xai-course grade: nobody has submitted '{args.assignment}' under {submitted}", file=sys.stderr)
        return 2
    isolated = not args.no_os_sandbox
    if isolated and (problem := sandbox.sandbox_problem()):
        print(f"xai-course grade: cannot isolate the submissions: {problem}.\n"
              f"Install bubblewrap, or pass --no-os-sandbox to grade WITHOUT isolation (every submission "
              f"could then read and change the course, the gradebook and the other submissions).", file=sys.stderr)
        return 2
    if not isolated:
        print(f"WARNING: {parallel.NOT_ISOLATED}", flush=True)
    limits = sandbox.Limits(cell_timeout=args.cell_timeout, wall=args.wall, memory=int(args.memory_gb * 2**30))
    try:
        with tqdm(total=len(students), desc=f"grade {args.assignment}", unit="submission") as bar:
            results = parallel.autograde_parallel(course, args.assignment, students, workers=args.workers,
                                                  engine=args.engine, address=args.address, limits=limits,
                                                  os_sandbox=isolated, progress=lambda student: bar.update())
    except GradebookError as err:
        print(f"xai-course grade: {err}", file=sys.stderr)
        return 2
    print(table.grade_table(course, args.assignment, results))
    # copying is reported to the instructor, never scored: the exit status does not depend on it
    try:
        pairs, csv_path = copying.report(course.root, args.assignment, students, threshold, progress=True)
        print(f"copying: {len(pairs)} pair(s) at or above {threshold:g} similarity, scores unchanged: {csv_path}")
        print("\n".join(f"  {copying.describe(p)}" for p in pairs) or "  none")
    except FileNotFoundError as err:
        print(f"copying: not checked: {err}")
    print(f"log: {course.root / 'logs' / f'autograde-{args.assignment}.log'}")
    attention = [r.student for r in results if r.status == parallel.ATTENTION]
    if attention:
        print(f"{len(attention)} submission(s) need your attention (the grader failed, nothing was scored): "
              f"{', '.join(attention)}", file=sys.stderr)
    if not isolated:
        print(f"WARNING: {parallel.NOT_ISOLATED}")
    return 0 if all(r.status == "graded" for r in results) else 1


def check(args) -> int:
    """``xai-course check``: a report per notebook, an overview for several; status 1 unless all passed."""
    from .course import selfcheck

    try:
        paths = selfcheck.notebooks(args.notebook)
    except FileNotFoundError as err:
        print(f"xai-course check: {err}", file=sys.stderr)
        return 2
    done, status = [], 0
    for path in tqdm(paths, desc="check", unit="notebook", disable=len(paths) < 2):
        try:
            checked = selfcheck.check(path, timeout=args.timeout)
        except (FileNotFoundError, ValueError, TimeoutError) as err:
            print(f"xai-course check: {err}", file=sys.stderr)
            status = 2
            continue
        done.append(checked)
        print(("\n" if len(paths) > 1 else "") + (f"== {path}\n" if len(paths) > 1 else "")
              + selfcheck.report(checked.outcomes, checked.written))
        if status == 0 and not all(o.status == "passed" for o in checked.outcomes):
            status = 1
    if len(done) > 1:
        print("\nprogress\n" + selfcheck.overview(done))
    return status


def thesis(args) -> int:
    import torch

    from reference.thesis import data, report
    from reference.thesis.train import TrainConfig, load_checkpoint, train

    if args.action == "train":
        try:
            config = TrainConfig(cell=args.cell, seq_len=args.seq, dataset=args.dataset, data_dir=args.data_dir,
                                 epochs=args.epochs, lr=args.lr, seed=args.seed, max_train=args.max_train,
                                 milestones=tuple(args.lr_step), gamma=args.gamma)
        except ValueError as err:
            print(f"xai-course thesis train: {err} (--lr-step, --gamma)", file=sys.stderr)
            return 2
        ckpt = args.checkpoint or Path("build/thesis") / f"{args.cell}-{args.seq}-{args.dataset}.pt"
        _, result = train(config, ckpt)
        verdict = "meets" if result.meets_table_4_4 else "does not meet"
        print(f"test accuracy {result.accuracy:.4f} ({verdict} Table 4.4's criterion for {args.dataset}); "
              f"{result.seconds:.0f} s of training; checkpoint {ckpt}")
        return 0
    loaded = {}
    for path in args.checkpoint:
        model, info = load_checkpoint(path)
        loaded[f"{info.config.cell}-{info.config.seq_len}"] = (model, info)
    datasets = {info.config.dataset for _, info in loaded.values()}
    if len(datasets) != 1:
        raise SystemExit(f"the checkpoints were trained on different datasets ({sorted(datasets)}); compare like with like")
    test = data.load(datasets.pop(), args.data_dir)["test"]
    X, y = torch.as_tensor(test.images), torch.as_tensor(test.labels)
    if args.action == "explain":
        path = report.heatmap_grid({k: m for k, (m, _) in loaded.items()}, X[:args.n], args.out)
        print(f"wrote {path}")
        return 0
    measures = [report.measure(k, m, X, y, info.accuracy, klass=args.klass) for k, (m, info) in loaded.items()]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    report.heatmap_grid({k: m for k, (m, _) in loaded.items()}, X[y == args.klass][:10], args.out_dir / "heatmaps.png")
    report.distribution_plot(measures, args.out_dir / "distribution.png", f"class {args.klass}")
    print(f"{'model':<12} {'accuracy':>9} {'EMD (steps)':>12} {'flip area':>10} {'last-step share':>16}")
    for m in measures:
        print(f"{m.name:<12} {m.accuracy:>9.4f} {m.distance:>12.3f} {m.flipping_area:>10.3f} {m.last_step_share:>16.3f}")
    print(f"figures in {args.out_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xai-course", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="full nbgrader round trip on three sample submissions per assignment")
    p_demo.add_argument("--course-dir", type=Path, default=Path("build/demo-course"),
                        help="where to build the course (default: %(default)s); a folder an earlier demo "
                             "built is replaced, any other is refused unless --force")
    p_demo.add_argument("--assignment", action="append", type=assignment,
                        help="only this assignment (repeatable; default: all)")
    p_demo.add_argument("--force", action="store_true", help="replace --course-dir even if the demo did not build it")
    p_bu = sub.add_parser("build", help="build solutions/ from the jupytext sources in tools/notebooks/")
    p_bu.add_argument("--assignment", action="append", help="only this assignment (repeatable; default: all)")
    p_rel = sub.add_parser("release", help="regenerate exercises/ from solutions/ (nbgrader generate_assignment)")
    p_rel.add_argument("--assignment", action="append", type=assignment)
    p_rel.add_argument("--out", type=Path, default=None,
                       help="output folder (default: the checkout's exercises/; needed when installed)")
    p_rel.add_argument("--force", action="store_true",
                       help="overwrite released notebooks even if they hold a student's work")
    p_co = sub.add_parser("course", help="make an nbgrader course, or add this course's assignments to one")
    co = p_co.add_subparsers(dest="action", required=True)
    p_new = co.add_parser("new", help="a new nbgrader course with this package's config and notebooks")
    p_new.add_argument("dir", type=Path)
    p_new.add_argument("--assignment", action="append", type=assignment, help="only this one (repeatable)")
    p_new.add_argument("--force", action="store_true", help="write into a non-empty DIR (other files kept)")
    p_add = co.add_parser("add", help="copy source notebooks into an existing nbgrader course's source/")
    p_add.add_argument("dir", type=Path, help="an nbgrader course (holds nbgrader_config.py)")
    p_add.add_argument("assignments", nargs="+", type=assignment, metavar="ASSIGNMENT")
    p_add.add_argument("--force", action="store_true", help="replace source/ASSIGNMENT if it exists")
    p_st = sub.add_parser("start", help="copy an assignment's student notebook into a folder of your own")
    p_st.add_argument("name", type=assignment, metavar="ASSIGNMENT")
    p_st.add_argument("dir", type=Path, nargs="?", default=None, help="default: ./ASSIGNMENT/")
    p_lms = sub.add_parser("export", help="the gradebook as a Canvas or Moodle CSV (beside nbgrader's grades.csv)")
    p_lms.add_argument("course", type=Path, help="the nbgrader course directory (holds gradebook.db)")
    p_lms.add_argument("--format", choices=["canvas", "moodle"], required=True)
    p_lms.add_argument("--out", type=Path, default=None, help="default: COURSE/grades-FORMAT.csv")
    p_lms.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    sub.add_parser("map", help="the course map: order, prerequisites, goals and a measured time per assignment")
    p_ck = sub.add_parser("check", help="execute notebooks in a fresh kernel and report every question")
    p_ck.add_argument("notebook", type=Path, nargs="+", help="notebooks, or folders of them")
    p_ck.add_argument("--timeout", type=int, default=300, help="seconds per cell (default: %(default)s)")
    p_gr = sub.add_parser("grade", help="grade every submission of an assignment safely and in parallel")
    p_gr.add_argument("course", type=Path, help="the nbgrader course directory (holds nbgrader_config.py)")
    p_gr.add_argument("assignment")
    p_gr.add_argument("--student", action="append", help="only this student (repeatable; default: all submitted)")
    p_gr.add_argument("--workers", type=int, default=2)
    p_gr.add_argument("--engine", choices=["processes", "dask"], default="processes")
    p_gr.add_argument("--address", default=None, help="a running dask scheduler (with --engine dask)")
    p_gr.add_argument("--cell-timeout", type=int, default=120, help="seconds per cell (default: %(default)s)")
    p_gr.add_argument("--wall", type=int, default=900, help="seconds per notebook (default: %(default)s)")
    p_gr.add_argument("--memory-gb", type=float, default=6.0, help="memory per submission (default: %(default)s)")
    p_gr.add_argument("--copy-threshold", type=float, default=None,
                      help="report pairs of submissions (or a submission and the solution) at least this "
                           "similar, in (0, 1] (default: copying.THRESHOLD, calibrated in autograder/course/copying.py)")
    p_gr.add_argument("--no-os-sandbox", action="store_true",
                      help="grade even where bubblewrap cannot run: NOT isolated (the log and the table say so)")
    p_th = sub.add_parser("thesis", help="the thesis pipeline: train, explain and report on RNN cells")
    th = p_th.add_subparsers(dest="action", required=True)
    p_tr = th.add_parser("train", help="train (or resume) a cell; saves a checkpoint after every epoch")
    p_tr.add_argument("--cell", default="deep", choices=["shallow", "deep", "deepv2", "convdeep", "lstm", "gru"])
    p_tr.add_argument("--seq", type=int, default=7, choices=[1, 4, 7, 14], help="sequence length (Table 4.1)")
    p_tr.add_argument("--dataset", default="mnist5k", choices=["mnist5k", "mnist", "fashion-mnist"],
                      help="mnist5k is embedded; the others read IDX files (see --data-dir)")
    p_tr.add_argument("--data-dir", default=None, help="folder with the IDX files (default: environment or Debian's)")
    p_tr.add_argument("--epochs", type=int, default=10)
    p_tr.add_argument("--lr", type=float, default=1e-3)
    p_tr.add_argument("--lr-step", type=int, nargs="+", default=[], metavar="EPOCH",
                      help="multiply the learning rate by --gamma after each of these epochs (e.g. --epochs 23 "
                           "--lr-step 20: the last 3 epochs at lr / 10); extends a checkpoint trained before it")
    p_tr.add_argument("--gamma", type=float, default=0.1, help="factor of each --lr-step (default %(default)s)")
    p_tr.add_argument("--seed", type=int, default=0)
    p_tr.add_argument("--max-train", type=int, default=None, help="train on the first N images only (quick runs)")
    p_tr.add_argument("--checkpoint", type=Path, default=None,
                      help="default: build/thesis/<cell>-<seq>-<dataset>.pt")
    p_ex = th.add_parser("explain", help="heatmaps of test images for one or more checkpoints")
    p_ex.add_argument("--checkpoint", type=Path, action="append", required=True)
    p_ex.add_argument("--n", type=int, default=10, help="how many test images")
    p_ex.add_argument("--data-dir", default=None)
    p_ex.add_argument("--out", type=Path, default=Path("build/thesis/heatmaps.png"))
    p_rp = th.add_parser("report", help="relevance per time step vs pixel intensity, pixel flipping, numbers")
    p_rp.add_argument("--checkpoint", type=Path, action="append", required=True)
    p_rp.add_argument("--klass", type=int, default=1, help="class whose population is compared (Fig 4.9)")
    p_rp.add_argument("--data-dir", default=None)
    p_rp.add_argument("--out-dir", type=Path, default=Path("build/thesis/report"))
    args = parser.parse_args(argv)

    if args.command == "thesis":
        return thesis(args)
    if args.command == "check":
        return check(args)
    if args.command == "map":
        from .course import coursemap

        print(coursemap.table())
        return 0
    if args.command == "grade":
        return grade(args)
    try:
        return _files(args)
    except Refused as err:
        print(f"xai-course {args.command}: {err}", file=sys.stderr)
        return 2


def _files(args) -> int:
    """The commands that write folders: each refuses (``Refused``) to destroy what it did not create."""
    if args.command == "demo":
        return demo.main(args.course_dir, args.assignment, force=args.force)
    if args.command == "build":
        from .course import build

        try:
            for name in args.assignment or build.sources():
                print(f"built {build.write(name)}")
        except (FileNotFoundError, build.SourceError) as err:
            print(f"xai-course build: {err}", file=sys.stderr)
            return 2
        return 0
    if args.command == "release":
        for path in release(args.assignment, args.out, force=args.force):
            print(f"released {path}")
        return 0
    if args.command == "course" and args.action == "new":
        course = scaffold.new_course(args.dir, args.assignment, force=args.force)
        print(f"nbgrader course in {course.root}; next: cd {args.dir} && nbgrader generate_assignment ASSIGNMENT")
        return 0
    if args.command == "course":
        for path in scaffold.add(args.dir, args.assignments, force=args.force):
            print(f"added {path}")
        print("students and the grader need this package (xai-rnn-course) installed: the notebooks import its checks")
        return 0
    if args.command == "export":
        from .course import lms

        path, warnings = lms.export(args.course, args.format, args.out, force=args.force)
        for w in warnings:
            print(f"note: {w}", file=sys.stderr)
        print(f"wrote {path}")
        return 0
    if args.command == "start":
        path = scaffold.start(args.name, args.dir)
        print(f"your copy: {path}\nopen it with `jupyter lab {path}`; check it with `xai-course check {path}`")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
