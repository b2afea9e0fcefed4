"""``xai-course``: the course's command line.

    xai-course demo      release, submit, autograde, feedback and export on every assignment
    xai-course release   regenerate exercises/ from solutions/ with nbgrader generate_assignment
    xai-course check NB  run your notebook in a fresh kernel and report each check (self-study)
    xai-course grade COURSE ASSIGNMENT   grade a class: in parallel, each submission in its own
                         process and working copy, one gradebook writer, a log of every decision
    xai-course thesis train|explain|report   the thesis pipeline (RNN cells explained through time)
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


def grade(args) -> int:
    """``xai-course grade``: one line per submission, the log's path; status 1 if any was zeroed or needs
    the instructor's attention, 2 if nothing could be graded (a gradebook that is not nbgrader's)."""
    from .course import parallel, sandbox
    from .course.gradebook import GradebookError

    course = CourseDir(args.course, timeout=args.cell_timeout)
    submitted = course.root / "submitted"
    if not (course.root / "gradebook.db").is_file() or not submitted.is_dir():
        print(f"xai-course grade: expected an nbgrader course with gradebook.db and submitted/ in {course.root}",
              file=sys.stderr)
        return 2
    students = args.student or sorted(p.parent.name for p in submitted.glob(f"*/{args.assignment}") if p.is_dir())
    if not students:
        print(f"xai-course grade: nobody has submitted '{args.assignment}' under {submitted}", file=sys.stderr)
        return 2
    limits = sandbox.Limits(cell_timeout=args.cell_timeout, wall=args.wall, memory=int(args.memory_gb * 2**30))
    try:
        results = parallel.autograde_parallel(course, args.assignment, students, workers=args.workers,
                                              engine=args.engine, address=args.address, limits=limits)
    except GradebookError as err:
        print(f"xai-course grade: {err}", file=sys.stderr)
        return 2
    scores = course.scores()
    for r in results:
        got = scores.get((r.student, args.assignment), {})
        total = sum(s for s, _ in got.values() if s is not None)
        top = sum(m for _, m in got.values())
        print(f"{r.student:<24} {r.status:<9} {total:g}/{top:g}  {r.seconds:5.1f} s  {'; '.join(r.lines[:2])}")
    print(f"log: {course.root / 'logs' / f'autograde-{args.assignment}.log'}")
    attention = [r.student for r in results if r.status == parallel.ATTENTION]
    if attention:
        print(f"{len(attention)} submission(s) need your attention (the grader failed, nothing was scored): "
              f"{', '.join(attention)}", file=sys.stderr)
    return 0 if all(r.status == "graded" for r in results) else 1


def thesis(args) -> int:
    import torch

    from reference.thesis import data, report
    from reference.thesis.train import TrainConfig, load_checkpoint, train

    if args.action == "train":
        config = TrainConfig(cell=args.cell, seq_len=args.seq, dataset=args.dataset, data_dir=args.data_dir,
                             epochs=args.epochs, lr=args.lr, seed=args.seed)
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
                        help="where to build the course (replaced if it exists; default: %(default)s)")
    p_demo.add_argument("--assignment", action="append", choices=assignments(),
                        help="only this assignment (repeatable; default: all)")
    p_rel = sub.add_parser("release", help="regenerate exercises/ from solutions/ (nbgrader generate_assignment)")
    p_rel.add_argument("--assignment", action="append", choices=assignments())
    p_rel.add_argument("--out", type=Path, default=None, help="output folder (default: the repo's exercises/)")
    p_ck = sub.add_parser("check", help="execute a notebook in a fresh kernel and report every check")
    p_ck.add_argument("notebook", type=Path)
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
    p_th = sub.add_parser("thesis", help="the thesis pipeline: train, explain and report on RNN cells")
    th = p_th.add_subparsers(dest="action", required=True)
    p_tr = th.add_parser("train", help="train (or resume) a cell; saves a checkpoint after every epoch")
    p_tr.add_argument("--cell", default="deep", choices=["shallow", "deep", "deepv2", "convdeep"])
    p_tr.add_argument("--seq", type=int, default=7, choices=[1, 4, 7, 14], help="sequence length (Table 4.1)")
    p_tr.add_argument("--dataset", default="mnist5k", choices=["mnist5k", "mnist", "fashion-mnist"],
                      help="mnist5k is embedded; the others read IDX files (see --data-dir)")
    p_tr.add_argument("--data-dir", default=None, help="folder with the IDX files (default: environment or Debian's)")
    p_tr.add_argument("--epochs", type=int, default=10)
    p_tr.add_argument("--lr", type=float, default=1e-3)
    p_tr.add_argument("--seed", type=int, default=0)
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
        from .course.selfcheck import check_notebook, report

        try:
            outcomes = check_notebook(args.notebook, timeout=args.timeout)
        except (FileNotFoundError, ValueError, TimeoutError) as err:
            print(f"xai-course check: {err}", file=sys.stderr)
            return 2
        print(report(outcomes))
        return 0 if all(o.status == "passed" for o in outcomes) else 1

    if args.command == "grade":
        return grade(args)
    if args.command == "demo":
        return demo.main(args.course_dir, args.assignment)
    if args.command == "release":
        for path in release(args.assignment, args.out):
            print(f"released {path}")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
