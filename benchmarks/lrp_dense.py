"""LRP on a dense ReLU network: reference.lrp against torch autograd and zennit, in one run.

Network 784-512-256-10 (non-positive biases, as the thesis's -softplus(b)), batch 256, explaining
the logit of the predicted class. Three composites:

- deep_taylor: z^beta on pixels in [0, 1], z+ on the hidden layers (thesis Table 3.1)
- zplus:       z+ everywhere
- w2_zplus:    w^2 on the first layer, z+ on the rest

Implementations compared:

- ``numpy four-line``: the rules of reference.lrp on numpy arrays
- ``torch four-line``: the same functions on torch tensors (reference.propagation.propagate)
- ``autograd trick``: the rule's modified layer and one torch.autograd.grad per layer
  (propagate(..., via_gradient=True))
- ``zennit``: zennit's ZBox / ZPlus / WSquare in a SpecialFirstLayerMapComposite, if zennit imports
  (it needs torchvision; see below)

Relevances are compared in float64 (maximum absolute difference to the numpy reference); times are
medians of ``--repeat`` runs in float32 after a warm-up.

    .venv/bin/python benchmarks/lrp_dense.py
    # zennit needs torchvision, which does not import beside the CPU torch 2.13 of .venv; a separate
    # environment with the torch/torchvision pair that lies on disk works:
    python3 -m venv /tmp/bench && /tmp/bench/bin/pip install torch==2.14.1 torchvision==0.29.1 zennit \
        && /tmp/bench/bin/pip install -e . --no-deps && /tmp/bench/bin/pip install sympy hypothesis tqdm
    /tmp/bench/bin/python benchmarks/lrp_dense.py
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
from reference import propagation as P  # noqa: E402

try:
    import zennit  # noqa: F401
    from zennit.composites import SpecialFirstLayerMapComposite
    from zennit.rules import WSquare, ZBox, ZPlus
    from zennit.types import Linear as AnyLinear

    HAVE_ZENNIT = True
except Exception as err:  # noqa: BLE001 - report why and go on without it
    HAVE_ZENNIT, ZENNIT_ERROR = False, f"{type(err).__name__}: {err}"

SIZES = (784, 512, 256, 10)


def make_model(dtype, seed=0):
    torch.manual_seed(seed)
    layers = []
    for i, (j, k) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        lin = torch.nn.Linear(j, k)
        with torch.no_grad():
            lin.weight.normal_(0, (2 / j) ** 0.5)
            lin.bias.copy_(-torch.nn.functional.softplus(torch.randn(k)) * 0.01)
        layers.append(lin)
        if i < len(SIZES) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers).to(dtype).eval()


COMPOSITES = {
    "deep_taylor": P.deep_taylor(0.0, 1.0),
    "zplus": P.uniform(P.ZPlus()),
    "w2_zplus": P.layered(P.W2(), P.ZPlus()),
}


def numpy_lrp(model, x, R_out, composite):
    """The four-line rules on numpy arrays, layer by layer."""
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    ws = [m.weight.detach().numpy().T for m in linears]
    bs = [m.bias.detach().numpy() for m in linears]
    acts = [x]
    for i, (w, b) in enumerate(zip(ws, bs)):
        z = acts[-1] @ w + b
        acts.append(np.maximum(z, 0) if i < len(ws) - 1 else z)
    R = R_out
    for i in reversed(range(len(ws))):
        R = composite.rule_for(i).dense(acts[i], ws[i], bs[i], R)
    return R


def zennit_lrp(model, x, R_out, name):
    first = {"deep_taylor": ZBox(low=0.0, high=1.0), "zplus": ZPlus(), "w2_zplus": WSquare()}[name]
    composite = SpecialFirstLayerMapComposite(layer_map=[(AnyLinear, ZPlus())], first_map=[(AnyLinear, first)])
    x = x.clone().requires_grad_(True)
    with composite.context(model) as modified:
        out = modified(x)
        (R,) = torch.autograd.grad(out, x, grad_outputs=R_out)
    return R


def explain_target(model, x):
    with torch.no_grad():
        out = model(x)
    return out * torch.nn.functional.one_hot(out.argmax(1), out.shape[1]).to(out.dtype)


def timed(fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    try:
        from threadpoolctl import threadpool_info
        blas = ", ".join(sorted({f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads)"
                                 for i in threadpool_info()}))
    except Exception:  # noqa: BLE001
        blas = "unknown"
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
          f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads), BLAS: {blas}")
    print(f"network {'-'.join(map(str, SIZES))}, batch {args.batch}, median of {args.repeat} runs")
    if not HAVE_ZENNIT:
        print(f"zennit: not available here ({ZENNIT_ERROR})")
    else:
        from importlib.metadata import version
        print(f"zennit {version('zennit')}")

    rng = np.random.default_rng(0)
    x64 = torch.tensor(rng.uniform(0, 1, size=(args.batch, SIZES[0])))
    x32 = x64.float()
    m64, m32 = make_model(torch.float64), make_model(torch.float32)
    R64, R32 = explain_target(m64, x64), explain_target(m32, x32)

    header = f"{'composite':<12} {'implementation':<18} {'max |R - ref|':>14} {'sum R / f(x)':>13} {'ms / batch':>11}"
    print("\n" + header + "\n" + "-" * len(header))
    for name, comp in COMPOSITES.items():
        ref = numpy_lrp(m64, x64.numpy(), R64.numpy(), comp)
        impls = {
            "numpy four-line": (lambda: numpy_lrp(m64, x64.numpy(), R64.numpy(), comp),
                                lambda: numpy_lrp(m32, x32.numpy(), R32.numpy(), comp)),
            "torch four-line": (lambda: P.propagate(m64, x64, comp, R64),
                                lambda: P.propagate(m32, x32, comp, R32)),
            "autograd trick": (lambda: P.propagate(m64, x64, comp, R64, via_gradient=True),
                               lambda: P.propagate(m32, x32, comp, R32, via_gradient=True)),
        }
        if HAVE_ZENNIT:
            impls["zennit"] = (lambda: zennit_lrp(m64, x64, R64, name), lambda: zennit_lrp(m32, x32, R32, name))
        for impl, (exact, fast) in impls.items():
            R = exact()
            R = R.detach().numpy() if isinstance(R, torch.Tensor) else np.asarray(R)
            diff = float(np.abs(R - ref).max())
            ratio = float(R.sum() / R64.sum())
            ms = 1000 * timed(fast, args.repeat)
            print(f"{name:<12} {impl:<18} {diff:>14.2e} {ratio:>13.6f} {ms:>11.2f}")


if __name__ == "__main__":
    main()
