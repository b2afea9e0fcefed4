"""LRP through time for LSTM / GRU classifiers: the batched torch explanation against the per-sample
numpy loop, in one run.

The per-sample implementation is the way users explain LSTMs today (Arras et al.'s ``LRP_for_LSTM``:
numpy, one sequence at a time, a loop over time steps, each linear map as its matrix of messages);
here it is ``tests/lrp_lstm_numpy.py``, the test suite's independent cross-check, which this script
imports by adding ``tests/`` to ``sys.path`` (it is test code, not part of the ``reference`` package).
Both compute the same rules (epsilon 1e-3 with absorbing biases, signal-take-all, z^beta at the
pixels); the script prints their largest difference to show it.

Models: untrained full-size classifiers (state 128, features sized like Deep; for SEQ 28, one pixel
column per step, which Table 4.1 does not have, the SEQ 14 width); batch 256 of random images.
Times: the fastest of a few runs (numpy: ``--numpy-repeat``, torch: ``--repeat`` after a warm-up),
CPU and wall seconds, torch in float32 (what one would run) and float64 (numpy's precision); one
thread each by default (``--threads``), since the machine is shared.

    .venv/bin/python benchmarks/lrp_gated.py            # writes benchmarks/results/lrp_gated.md
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))   # the per-sample numpy implementation lives with the tests

import lrp_lstm_numpy as per_sample  # noqa: E402 (after the path set-up above)
import numpy as np  # noqa: E402
import torch  # noqa: E402

from reference.thesis.explain_gated import explain_gated  # noqa: E402
from reference.thesis.gated import FEATURES, GatedClassifier  # noqa: E402


def model_for(cell: str, seq: int, dtype) -> GatedClassifier:
    torch.manual_seed(0)
    return GatedClassifier(cell, seq, FEATURES[cell][min(seq, 14)]).to(dtype).eval()


def as_chunks(images: torch.Tensor, seq: int) -> torch.Tensor:
    """(B, 28, 28) -> (B, seq, 28, 28 / seq), column chunks (to_sequence, which stops at Table 4.1's 14)."""
    w = 28 // seq
    return images.reshape(images.shape[0], 28, seq, w).permute(0, 2, 1, 3)


def best_time(fn, repeat: int) -> tuple[float, float]:
    """(wall, CPU) seconds of the fastest of ``repeat`` runs after a warm-up: the minimum is the run least
    disturbed by other jobs, and CPU time (one thread) does not count the time spent waiting for a core."""
    fn()
    runs = []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        runs.append((time.perf_counter() - wall, time.process_time() - cpu))
    return min(runs)


def measure(cell: str, seq: int, images: torch.Tensor, args):
    """Times (wall, CPU) of numpy, torch float64 and float32 for one cell and SEQ; the largest heatmap
    difference numpy - torch (float64) and float32's largest relative conservation gap."""
    m64, m32 = model_for(cell, seq, torch.float64), model_for(cell, seq, torch.float32)
    x64 = as_chunks(images.double(), seq)
    params = per_sample.parameters(m64)

    def numpy_all():
        return [per_sample.explain_one(params, im) for im in images.double().numpy()]

    t_numpy = best_time(numpy_all, args.numpy_repeat)
    t64 = best_time(lambda: explain_gated(m64, x64), args.repeat)
    t32 = best_time(lambda: explain_gated(m32, x64.float()), args.repeat)
    diff = float(np.abs(explain_gated(m64, x64).heatmap.numpy() - np.stack([r["heatmap"] for r in numpy_all()])).max())
    e32 = explain_gated(m32, x64.float())
    gap = float(((e32.f - e32.heatmap.sum((1, 2)) - e32.absorbed).abs() / e32.f.abs()).max())
    return cell, seq, t_numpy, t64, t32, diff, gap


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--seq", type=int, nargs="+", default=[7, 28])
    parser.add_argument("--repeat", type=int, default=5, help="torch runs (the fastest counts)")
    parser.add_argument("--numpy-repeat", type=int, default=2, help="numpy runs (the fastest counts)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "lrp_gated.md")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    images = torch.rand(args.batch, 28, 28, generator=torch.Generator().manual_seed(0))

    rows = []
    for cell in ("lstm", "gru"):
        for seq in args.seq:
            rows.append(measure(cell, seq, images, args))
            cell, seq, tn, t64, t32, diff, _ = rows[-1]
            print(f"{cell}-{seq}: CPU s numpy {tn[1]:.2f}, torch float64 {t64[1]:.3f} ({tn[1] / t64[1]:.0f}x), "
                  f"float32 {t32[1]:.3f} ({tn[1] / t32[1]:.0f}x); max |difference| {diff:.1e}")

    machine = (f"{platform.machine()}, {os.cpu_count()} cores (shared with other jobs), python "
               f"{platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, "
               f"{args.threads} thread(s)")
    lines = [f"# benchmarks/lrp_gated.py, {datetime.date.today()}", "",
             ("LRP through time for untrained LSTM / GRU classifiers of the thesis task (state 128, features sized "
             f"like Deep), batch {args.batch} of random images: the per-sample numpy loop in the style of Arras et "
             "al.'s LRP_for_LSTM (`tests/lrp_lstm_numpy.py`) against the batched torch explanation "
             "(`reference.thesis.explain_gated`), in one run, one thread each. Seconds for the whole batch, the "
             f"fastest of {args.numpy_repeat} (numpy) and {args.repeat} (torch, after a warm-up) runs, as CPU time "
             "(the machine is shared: wall time waits for a core) and wall time. Same rules on both sides: "
             "`max |diff|` is their largest heatmap difference (float64); `f32 gap` is float32's largest "
             "relative conservation gap |f - sum R_pixels - absorbed| / |f|."), "",
             "```", f"machine: {machine}", "",
             (f"{'cell':<5} {'SEQ':>4} {'numpy CPU s':>12} {'torch64':>8} {'ratio':>6} {'torch32':>8} {'ratio':>6} "
              f"{'numpy wall s':>13} {'torch32':>8} {'ratio':>6} {'max |diff|':>11} {'f32 gap':>8}")]
    for cell, seq, tn, t64, t32, diff, gap in rows:
        lines.append(f"{cell:<5} {seq:>4} {tn[1]:>12.2f} {t64[1]:>8.3f} {tn[1] / t64[1]:>5.0f}x {t32[1]:>8.3f} "
                     f"{tn[1] / t32[1]:>5.0f}x {tn[0]:>13.2f} {t32[0]:>8.3f} {tn[0] / t32[0]:>5.0f}x {diff:>11.1e} "
                     f"{gap:>8.1e}")
    lines += ["```", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
