"""The hand-written numpy BPTT of ``reference.rnn`` against torch autograd on the same RNN.

The size is an MNIST-row classifier's: hidden 128, T = 50 steps, batch 64, D = 28 inputs, C = 10
classes, tanh, sequence loss (eq 4) with a target at every step. Both sides use float64, and torch
gets the weights in the thesis orientation (z_t = x_t W_xh + h_{t-1} W_hh). The benchmark reports:

- the time per gradient (forward + backward), as the median of several repeats after warm-up runs:
  numpy BPTT, a torch loop with autograd, and torch.nn.RNN (torch's fused RNN kernel) with autograd;
- the largest absolute difference of the loss and of each gradient from the numpy BPTT.

    .venv/bin/python benchmarks/bptt_vs_autograd.py [--repeats 15] [--warmup 3] [--activation tanh] [--threads 1]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reference import rnn as ref  # noqa: E402

B, T, D, H, C = 64, 50, 28, 128, 10


def machine() -> str:
    lines = [f"machine: {platform.platform()}, {platform.machine()}, {platform.processor() or 'cpu'}",
             f"cores: {os.cpu_count()} (torch threads {torch.get_num_threads()}), python {platform.python_version()}",
             f"numpy {np.__version__}, torch {torch.__version__}"]
    if hasattr(os, "getloadavg"):
        lines.append("load average (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg())
                     + "  (other processes on the machine make the timings noisy)")
    try:
        from threadpoolctl import threadpool_info

        blas = [f"{i.get('internal_api')} {i.get('version')} ({i.get('num_threads')} threads, "
                f"{Path(i.get('filepath', '')).name})" for i in threadpool_info()]
        lines.append("BLAS/OpenMP: " + ("; ".join(blas) or "none found"))
    except ImportError:
        lines.append("BLAS: threadpoolctl not installed")
    return "\n".join(lines)


def problem(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, T, D))
    labels = rng.integers(0, C, size=(B, T))
    W_xh = rng.normal(0, 1 / np.sqrt(D), (D, H))
    W_hh = rng.normal(0, 1 / np.sqrt(H), (H, H))
    W_hy = rng.normal(0, 1 / np.sqrt(H), (H, C))
    return x, labels, W_xh, W_hh, W_hy


def numpy_bptt(x, labels, W_xh, W_hh, W_hy, activation):
    return ref.bptt(x, labels, W_xh, W_hh, W_hy, activation)


def torch_loop(x, labels, W_xh, W_hh, W_hy, activation):
    act = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu}[activation]
    X, Y = torch.from_numpy(x), torch.from_numpy(labels)
    Wx, Wh, Wy = (torch.tensor(W, requires_grad=True) for W in (W_xh, W_hh, W_hy))
    h, hs = torch.zeros(B, H, dtype=torch.float64), []
    for t in range(T):
        h = act(X[:, t] @ Wx + h @ Wh)
        hs.append(h)
    logits = torch.stack(hs, 1) @ Wy
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, C), Y.reshape(-1), reduction="sum")
    grads = torch.autograd.grad(loss, (Wx, Wh, Wy))
    return (loss.item(),) + tuple(g.numpy() for g in grads)


def torch_nn_rnn(x, labels, W_xh, W_hh, W_hy, activation):
    """torch.nn.RNN holds W_ih (H, D) and W_hh (H, H), the transposes of the thesis orientation."""
    if activation not in ("tanh", "relu"):
        return None
    rnn = torch.nn.RNN(D, H, nonlinearity=activation, bias=False, batch_first=True).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(W_xh.T))
        rnn.weight_hh_l0.copy_(torch.from_numpy(W_hh.T))
    Wy = torch.tensor(W_hy, requires_grad=True)
    out, _ = rnn(torch.from_numpy(x))
    loss = torch.nn.functional.cross_entropy((out @ Wy).reshape(-1, C), torch.from_numpy(labels).reshape(-1),
                                             reduction="sum")
    loss.backward()
    return (loss.item(), rnn.weight_ih_l0.grad.numpy().T, rnn.weight_hh_l0.grad.numpy().T, Wy.grad.numpy())


def timed(fns, args, repeats, warmup):
    """Median, min and max seconds per call of each function, the repeats interleaved round-robin (so that
    a burst of load from other processes hits every implementation alike), after ``warmup`` calls each."""
    results = {}
    for name, fn in fns:
        for _ in range(warmup):
            results[name] = fn(*args)
    times = {name: [] for name, _ in fns}
    for _ in range(repeats):
        for name, fn in fns:
            t = time.perf_counter()
            fn(*args)
            times[name].append(time.perf_counter() - t)
    return results, {n: (statistics.median(v), min(v), max(v)) for n, v in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--activation", default="tanh", choices=ref.ACTIVATION_NAMES)
    parser.add_argument("--threads", type=int, default=None,
                        help="limit BLAS (threadpoolctl) and torch to this many threads (default: as installed)")
    args = parser.parse_args(argv)

    limits = None
    if args.threads:
        torch.set_num_threads(args.threads)
        try:
            from threadpoolctl import threadpool_limits

            limits = threadpool_limits(args.threads)
        except ImportError:
            print("threadpoolctl not installed: only torch's threads are limited")
    print(machine())
    print(f"\nRNN: B = {B}, T = {T}, D = {D}, H = {H}, C = {C}, {args.activation}, float64, sequence loss; "
          f"median of {args.repeats} interleaved repeats after {args.warmup} warm-up runs each\n")
    data = problem() + (args.activation,)
    rows = [("numpy BPTT (reference.rnn)", numpy_bptt), ("torch loop + autograd", torch_loop),
            ("torch.nn.RNN + autograd", torch_nn_rnn)]
    skipped = [name for name, fn in rows if fn(*data) is None]
    results, times = timed([(n, f) for n, f in rows if n not in skipped], data, args.repeats, args.warmup)
    print(f"{'implementation':<28}{'median ms':>10}{'min ms':>9}{'max ms':>9}")
    for name, _ in rows:
        if name in skipped:
            print(f"{name:<28}{'n/a (no ' + args.activation + ')':>28}")
            continue
        med, lo, hi = times[name]
        print(f"{name:<28}{1e3 * med:>10.2f}{1e3 * lo:>9.2f}{1e3 * hi:>9.2f}")
    base = results[rows[0][0]]
    print(f"\nlargest absolute difference from the numpy BPTT (|loss| = {base[0]:.6g}; "
          f"largest |gradient| entries: " + ", ".join(f"{n} {np.abs(g).max():.3g}" for n, g in
                                                      zip(("dW_xh", "dW_hh", "dW_hy"), base[1:])) + ")")
    print(f"{'implementation':<28}{'loss':>10}{'dW_xh':>10}{'dW_hh':>10}{'dW_hy':>10}")
    for name, result in list(results.items())[1:]:
        diffs = [abs(result[0] - base[0])] + [float(np.abs(np.asarray(a) - b).max())
                                              for a, b in zip(result[1:], base[1:])]
        print(f"{name:<28}" + "".join(f"{d:>10.1e}" for d in diffs))
    if limits is not None:
        limits.restore_original_limits()


if __name__ == "__main__":
    main()
