"""Checks for the ``attribution`` assignment (NUS tutorial 9 Q2-Q3, MIT 6.874 recitation 3, SUTD week 10).

Code answers run on small test networks (float64, seeded) and are compared with :mod:`reference.attribution`
and :mod:`reference.conv`, which the course's tests check against captum and torch. The properties that
*define* the methods are checked with Hypothesis: completeness of integrated gradients,
summation-to-delta of DeepLIFT, Grad-CAM = relu(CAM) / hw on a global-average-pooling network,
exact recovery of a polynomial by LIME's weighted least squares. A failure names the property, the
smallest example and, where a typical mistake explains the numbers, the mistake.

Signatures the checks expect (the notebook states them):

- ``conv2d(x, w, b, stride, padding)``: numpy, x (C, H, W), w (K, C, kh, kw), b (K,) -> (K, H_out, W_out);
- ``quadrature_nodes(method, m) -> (alphas, weights)``, each of shape (m,);
- ``integrated_gradients(f, x, baseline, alphas, weights)``: f maps (N, d) -> (N,); x, baseline (d,);
  alphas, weights (m,) tensors -> (d,);
- ``deeplift_rescale(model, x, baseline, target)``: a Sequential of Linear and ReLU; x, baseline (d,) -> (d,);
- ``cam(model, x, target)`` and ``grad_cam(features, head, x, target)``: x (C, H, W) -> (h, w);
- ``lime_surrogate(f, x0, Z, kernel_width, degree)``: numpy, f maps (N, 2) -> (N,); -> coefficients (P,).
"""
from __future__ import annotations

import numpy as np
import sympy
import torch
from hypothesis import strategies as st

from reference import attribution as ref
from reference import conv as ref_conv
from reference.black_boxes import Polynomial
from reference.torch_functions import Score

from .. import symbolic
from ..choices import Choices
from ..feedback import CheckFailed, passed
from ..properties import Violation, arrays, as_array, check_properties, decimals
from ..question import Diagnosis, array, call, hints_of, multiple_choice, number, question, unwrap

DTYPE = torch.float64


# --- shared helpers ------------------------------------------------------------------------------

def _result(fn, args, what, shape):
    """Call a student's function on a property example; its errors become readable violations."""
    arr = as_array(call(fn, *args, name=what), what)
    if arr.shape != tuple(shape):
        raise Violation(f"{what} returned shape {arr.shape}; expected {tuple(shape)}")
    if not np.all(np.isfinite(arr)):
        raise Violation(f"{what} contains NaN or infinity (a division by zero?)", got=arr)
    return arr


def _properties(question, props, strategy, fixed=(), *, max_examples=30):
    """:func:`check_properties`, but first on a few fixed, readable examples: a typical mistake fails
    there at once (no shrinking to wait for), with the same message format."""
    for example in fixed:
        for name, prop in props.items():
            try:
                prop(**example)
            except NotImplementedError:
                raise CheckFailed(question, "the function is not implemented yet (it raises NotImplementedError)") from None
            except Exception:  # noqa: BLE001 - report it exactly as check_properties would
                check_properties(question, {name: prop}, st.just(example), max_examples=1)
    return check_properties(question, props, strategy, max_examples=max_examples)


# =================================================================================================
# 1. Convolution arithmetic (MIT recitation)
# =================================================================================================

def _conv_case():
    def build(dims):
        C, K, kh, kw, H, W, s, p = dims
        return st.fixed_dictionaries({"x": arrays((C, H, W), -3, 3, 1.0), "w": arrays((K, C, kh, kw), -2, 2, 1.0),
                                      "b": arrays((K,), -2, 2, 1.0), "stride": st.just(s), "padding": st.just(p)})

    dims = st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 3), st.integers(1, 3),
                     st.integers(3, 6), st.integers(3, 6), st.integers(1, 2), st.integers(0, 1))
    return dims.flatmap(build)


#: What a student's conv2d(x, w, b, stride, padding) is compared with.
CONV_MISTAKES = [
    ("you flipped the kernel (the textbook convolution); the recitation's S(i, j) = sum_m sum_n I(i + m, j + n) "
     "W(m, n), like torch's conv2d, does not flip it",
     lambda x, w, b, s, p: ref_conv.conv2d(x, w[..., ::-1, ::-1], b, s, p)),
    ("the bias is missing: add b[k] to every output of channel k", lambda x, w, b, s, p: ref_conv.conv2d(x, w, None, s, p)),
    ("the bias is added once per input channel; add b[k] once, after summing over the channels",
     lambda x, w, b, s, p: ref_conv.conv2d(x, w, b * x.shape[0], s, p)),
]
#: Readable examples, checked first; the last two are also the probes on which the mistakes all differ
#: (asymmetric kernels, several channels, non-zero biases, values up to 40).
CONV_FIXED = [
    dict(x=np.array([[[1.0, 2, 0, 1], [0, 1, 3, 0], [2, 0, 1, 1]]]), w=np.array([[[[1.0, 2], [0, -1]]]]),
         b=np.array([1.0]), stride=1, padding=0),
    dict(x=np.arange(32.0).reshape(2, 4, 4) % 5 - 2, w=np.arange(36.0).reshape(2, 2, 3, 3) % 3 - 1,
         b=np.array([1.0, -1.0]), stride=2, padding=1),
    dict(x=(np.arange(3 * 6 * 7.0).reshape(3, 6, 7) % 11 - 5) * 4, w=np.arange(2 * 3 * 3 * 2.0).reshape(2, 3, 3, 2) % 7 - 3,
         b=np.array([25.0, -0.5]), stride=1, padding=1),
]


@question("convolution", answers="conv2d",
          hint="slide the kernel over the padded input with the given stride; each output is the sum over channels and kernel positions of input times kernel, plus the bias")
def conv2d(ask, fn, *, max_examples: int = 40):
    """``fn(x, w, b, stride, padding)`` against ``torch.nn.functional.conv2d`` (via reference.conv)."""
    q = ask.title
    ask.function(fn, "conv2d")
    diagnosis = Diagnosis(fn, CONV_MISTAKES, [tuple(case.values()) for case in CONV_FIXED[1:]])

    def agrees_with_torch(x, w, b, stride, padding):
        want = ref_conv.conv2d(x, w, b, stride, padding)
        got = as_array(call(fn, x, w, b, stride, padding, name="conv2d"), "conv2d(x, w, b, stride, padding)")
        if got.shape != want.shape:
            H, W = x.shape[1:]
            kh, kw = w.shape[2:]
            raise Violation(f"wrong output shape {got.shape}; expected (K, H_out, W_out) = {want.shape} with "
                            f"H_out = floor((H + 2 padding - kh) / stride) + 1 = floor(({H} + {2 * padding} - {kh}) / "
                            f"{stride}) + 1 (and the same for W = {W}, kw = {kw})")
        if np.allclose(got, want, atol=1e-8):
            return
        raise Violation(diagnosis.hint() or "does not match torch.nn.functional.conv2d", expected=want, got=got)

    return _properties(q, {"agreement with torch's conv2d": agrees_with_torch}, _conv_case(), CONV_FIXED,
                       max_examples=max_examples)


@question("the recitation's convolutions", answers="feature_5x5",
          hint="redo the slides' arithmetic with your conv2d: which input does each example pad, and where is output (0, 0)?")
def worked_examples(ask, feature_5x5, rgb_channel_sums, rgb_output):
    """The slide's 5x5 example (3x3 feature), the RGB example's channel sums at output (0, 0) (the slide
    prints those at (0, 1)), and the top-left 2 x 2 block of its output (the slide prints the first row)."""
    q = ask.title
    ex = ref_conv.WORKED_5X5
    got = array(feature_5x5, "feature_5x5")
    want = ref_conv.worked_output(ex)
    if got.shape != want.shape:
        hint = " Pad only if the slide pads: this one slides the 3x3 kernel inside the 5x5 image (no padding)." \
            if got.shape == (5, 5) else ""
        raise CheckFailed(q, f"`feature_5x5`: expected the 3 x 3 convolved feature, got shape {got.shape}.{hint}")
    if not np.allclose(got, want):
        if np.allclose(got, want.T):
            raise CheckFailed(q, "`feature_5x5` is transposed: row i of the output is the kernel's i-th row position")
        raise CheckFailed(q, f"`feature_5x5`: expected {want.astype(int).tolist()}, got {np.round(got, 3).tolist()}")

    rgb = ref_conv.WORKED_RGB
    sums = array(rgb_channel_sums, "rgb_channel_sums")
    want_sums = np.array(ref_conv.WORKED_RGB_CHANNEL_SUMS[(0, 0)])
    if sums.shape != (3,):
        raise CheckFailed(q, f"`rgb_channel_sums`: expected three numbers (red, green, blue), got shape {sums.shape}")
    if not np.allclose(sums, want_sums):
        if np.allclose(sums, ref_conv.WORKED_RGB_CHANNEL_SUMS[(0, 1)]):
            raise CheckFailed(q, "`rgb_channel_sums`: those are the slide's sums at output (0, 1); the question asks "
                                 "for output (0, 0), one column to the left")
        if np.allclose(sums, np.einsum("cmn,cmn->c", rgb.image[:, :3, :3], rgb.kernel)):
            raise CheckFailed(q, "`rgb_channel_sums`: the slide's image has a border of zeros (padding 1): output "
                                 "(0, 0) sees the padded rows 0-2 and columns 0-2, i.e. the zero row and column")
        raise CheckFailed(q, f"`rgb_channel_sums`: expected the three sums at output (0, 0), got {sums.tolist()}")

    out = array(rgb_output, "rgb_output")
    want_out = ref_conv.worked_output(rgb)[:2, :2]
    if out.shape != (2, 2):
        raise CheckFailed(q, f"`rgb_output`: expected the top-left 2 x 2 block of the output, got shape {out.shape}")
    if not np.allclose(out, want_out):
        nopad = ref_conv.conv2d(rgb.image, rgb.kernel[None], np.array([rgb.bias]))[0, :2, :2]
        if np.allclose(out, want_out - rgb.bias):
            raise CheckFailed(q, "`rgb_output`: add the bias (1) to the sum over the three channels")
        if np.allclose(out, nopad):
            raise CheckFailed(q, "`rgb_output`: pad the image with one pixel of zeros first (the slide's border)")
        if np.allclose(out, want_out.T):
            raise CheckFailed(q, "`rgb_output` is transposed: rows are the output's i, columns its j")
        raise CheckFailed(q, f"`rgb_output`: the slide prints output (0, 0) = -25 and (0, 1) = 466; your block is "
                             f"{np.round(out, 3).tolist()}")
    return passed(q, "the 3x3 feature, the channel sums at (0, 0) and the outputs -25, 466 as on the slides")


# --- the output size formula ------------------------------------------------------------------

SIZE_SYMBOLS = sympy.symbols("n k s p d", positive=True)
n_, k_, s_, p_, d_ = SIZE_SYMBOLS
SIZE_DOMAIN = symbolic.Domain(kinds={name: "positive" for name in "nkspd"})
_SIZE_EXPECTED = ref_conv.output_size_expr(n_, k_, s_, p_, d_)
_SM = symbolic.Mistake
SIZE_MISTAKES = [
    _SM((n_ + 2 * p_ - k_) / s_ + 1, "that is the formula without dilation (d = 1): a dilated kernel's taps are d "
                                     "pixels apart, so it spans d (k - 1) + 1 pixels"),
    _SM((n_ + 2 * p_ - d_ * k_) / s_ + 1, "the effective kernel size is d (k - 1) + 1 (k taps, k - 1 gaps of d), not d k"),
    _SM((n_ + p_ - d_ * (k_ - 1) - 1) / s_ + 1, "padding is added on both sides: n + 2p"),
    _SM((n_ + 2 * p_ - d_ * (k_ - 1) - 1) / s_, "count the first position of the window too: + 1"),
    _SM((n_ + 2 * p_ - d_ * (k_ - 1)) / s_ + 1, "off by one: the window covers d (k - 1) + 1 pixels, so the last "
                                                 "start position is n + 2p - d (k - 1) - 1"),
    _SM((n_ - d_ * (k_ - 1) - 1) / s_ + 1, "the padding is missing: pad p pixels on each side"),
    _SM((n_ + 2 * p_ - d_ * (k_ - 1) - 1) * s_ + 1, "divide by the stride: the window jumps s pixels at a time"),
    _SM((n_ + 2 * p_ - d_ * (k_ - 1) - 1) / s_ - 1, "the first window position adds 1, it does not subtract 1"),
]


def _drop_floor(expr):
    return expr.replace(sympy.floor, lambda arg: arg)


@question("output size formula", answers="out_size",
          hint="count the start positions of a window that spans d (k - 1) + 1 pixels in a padded row of n + 2p pixels, moving s at a time")
def output_size_formula(ask, answer):
    """The output size ``(n + 2p - d(k - 1) - 1)/s + 1`` in the symbols ``n, k, s, p, d`` (a ``floor`` of
    the fraction is accepted: it is exact when s divides)."""
    q = ask.title
    expr = unwrap(answer, "out_size", scalar=True, namespace={str(x): x for x in SIZE_SYMBOLS})
    if isinstance(expr, sympy.Basic) and expr.has(sympy.ceiling):
        raise CheckFailed(q, "write the formula with floor (or without rounding, assuming s divides "
                             "n + 2p - d(k - 1) - 1); ceil gives a different size when s does not divide")
    if isinstance(expr, sympy.Basic):  # match the symbols by name, whatever assumptions the student declared
        expr = expr.xreplace({x: sympy.Symbol(x.name, positive=True) for x in expr.free_symbols
                              if isinstance(x, sympy.Symbol) and x.name in "nkspd"})
    note = ""
    if isinstance(expr, sympy.Basic) and expr.has(sympy.floor):
        expr, note = _drop_floor(expr), "floor dropped: exact when s divides n + 2p - d(k - 1) - 1"
    verdict = symbolic.compare(expr, _SIZE_EXPECTED, SIZE_DOMAIN, mistakes=SIZE_MISTAKES, allowed=set("nkspd"))
    if not verdict.ok:
        raise CheckFailed(q, verdict.reason)
    return passed(q, note)


@question("tracking the sizes", answers="shape_conv",
          hint="apply the output-size formula layer by layer; the number of channels is the number of kernels")
def tracking_sizes(ask, shape_conv, shape_pool, cnn_sizes, dilated_size):
    """The recitation's 28x28x1 -> (24, 24, 3) -> (12, 12, 3), the digit CNN's sides (14, 7, 7), and
    ``output_size(28, k=3, s=2, p=1, d=2) = 13``."""
    q = ask.title
    for name, value, want, hint in [
        ("shape_conv", shape_conv, ref_conv.TRACKING["conv"],
         {(24, 24, 1): "m = 3 kernels give 3 output channels", (28, 28, 3): "no padding here: 28 - 5 + 1",
          (23, 23, 3): "n - k + 1, not n - k"}),
        ("shape_pool", shape_pool, ref_conv.TRACKING["pool"],
         {(12, 12, 1): "pooling keeps the number of channels", (23, 23, 3): "the pool's stride is 2",
          (11, 11, 3): "floor((24 - 2) / 2) + 1 = 12"}),
        ("cnn_sizes", cnn_sizes, (14, 7, 7),
         {(13, 6, 6): "with padding: floor((28 + 2*2 - 5) / 2) + 1 = 14", (24, 22, 20): "the strides are 2, 2 and 1",
          (14, 7, 5): "the last layer pads by 1: a 3x3 kernel with padding 1 and stride 1 keeps the size",
          (12, 5, 3): "the layers pad: (kernel, stride, padding) = (5, 2, 2), (3, 2, 1), (3, 1, 1)"}),
        ("dilated_size", dilated_size, (ref_conv.output_size(28, 3, 2, 1, 2),),
         {(13.5,): "round down: floor((28 + 2 - 2*(3 - 1) - 1) / 2) + 1", (12.5,): "floor, then + 1",
          (14,): "the dilated 3x3 kernel spans d (k - 1) + 1 = 5 pixels", (12,): "floor(25 / 2) = 12, then + 1"}),
    ]:
        got = array(value, name).reshape(-1)
        want = np.array(want, dtype=float).reshape(-1)
        if got.shape == want.shape and np.allclose(got, want):
            continue
        why = hint.get(tuple(float(v) for v in got), "")
        show = tuple(int(v) for v in want) if len(want) > 1 else int(want[0])
        mine = tuple(np.round(got, 3).tolist()) if got.size > 1 else float(got[0]) if got.size else "()"
        raise CheckFailed(q, f"`{name}`: expected {show}, got {mine}" + (f". Hint: {why}" if why else ""))
    return passed(q)


_EQUIVARIANCE = Choices({
    "A": ("A stride-1 convolution with circular padding commutes with every circular shift of the image.",
          True, "with circular padding a stride-1 convolution commutes with every circular shift (test it with "
                "your conv2d and np.roll)."),
    "B": ("2x2 max pooling with stride 2 commutes with a shift of the image by one pixel.",
          False, "2x2 max pooling with stride 2 merges pixel pairs; shifting the input by one pixel changes which "
                 "pixels share a window, so the output is not a shifted copy."),
    "C": ("A stride-2 convolution (circular padding) commutes with shifts by two pixels, the output moving by "
          "one.",
          True, "with stride 2 the output moves by one pixel when the input moves by two."),
    "D": ('"Translation equivariant" means the output does not change when the input is shifted.',
          False, "equivariance means the output shifts *with* the input; an output that does not change is "
                 "invariance."),
    "E": ("Stride-1 convolutions with circular padding, followed by global average pooling, give a score that "
          "does not change under circular shifts of the input.",
          True, "the stride-1 circular convolutions shift their maps with the input (statement A), and global "
                "average pooling sums over all positions, so the score does not change."),
})


@multiple_choice("translation equivariance", answers="equivariance_true",
                 hint="test each statement with your conv2d and np.roll on a small image",
                 choices=_EQUIVARIANCE, allow_empty=True)
def equivariance_statements(answer):
    """Multiple select over ``_EQUIVARIANCE``."""


# =================================================================================================
# 2. Gradient explanations of a linear model (SUTD)
# =================================================================================================

_LINEAR = Choices({
    "A": ("The sensitivity $r_d = w_d^2$ is the same for every input $x$.",
          True, "r_d = (df/dx_d)^2 = w_d^2 contains no x at all."),
    "B": ("The sensitivity tells whether $x_d$ supports or opposes the prediction.",
          False, "w_d^2 >= 0 has no sign: it cannot say whether w_d x_d pushes f(x) up or down."),
    "C": (r"Gradient × input, $x_d\, \partial f/\partial x_d$, is the natural decomposition $w_d x_d$, which sums "
          "to $f(x)$.",
          True, "x_d df/dx_d = w_d x_d, and sum_d w_d x_d = f(x) for f(x) = w^T x."),
    "D": ("Doubling $x_d$ doubles its sensitivity.",
          False, "the sensitivity w_d^2 does not depend on x_d at all: it ignores the scale of x_d."),
    "E": ("Integrated gradients with baseline $x' = 0$ (part 3) gives $w_d x_d$.",
          True, "for a linear f the gradient is the same w at every point of the path, so IG = (x - 0) * w."),
})


@multiple_choice("gradients of a linear model", answers="linear_true",
                 hint="write each explanation out for f(x) = w^T x: which of them contain x?",
                 choices=_LINEAR, allow_empty=True)
def linear_statements(answer):
    """Multiple select over ``_LINEAR``."""


# =================================================================================================
# 3. Integrated gradients (MIT recitation)
# =================================================================================================

@question("quadrature nodes", answers="quadrature_nodes",
          hint="each rule places m nodes in [0, 1] with weights that add up to 1; the midpoint rule uses the centres of m equal cells")
def quadrature_nodes(ask, fn):
    """``fn(method, m) -> (alphas, weights)`` for the five rules and m = 2, 3, 5, 8 (order of the
    nodes free)."""
    q = ask.title
    ask.function(fn, "quadrature_nodes")
    for method in ref.QUADRATURES:
        for m in (2, 3, 5, 8):
            want_a, want_w = ref.quadrature(method, m)
            out = call(fn, method, m, name=f"quadrature_nodes({method!r}, {m})")
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                raise CheckFailed(q, f"quadrature_nodes({method!r}, {m}) should return the pair (alphas, weights)")
            try:
                a, w = (np.asarray(v.detach().numpy() if hasattr(v, "detach") else v, dtype=float).reshape(-1)
                        for v in out)
            except (TypeError, ValueError):
                raise CheckFailed(q, f"quadrature_nodes({method!r}, {m}): alphas and weights should be arrays of "
                                     f"numbers") from None
            if a.shape != (m,) or w.shape != (m,):
                raise CheckFailed(q, f"quadrature_nodes({method!r}, {m}): expected {m} nodes and {m} weights, got "
                                     f"{a.size} and {w.size}")
            order = np.argsort(a, kind="stable")
            a, w = a[order], w[order]
            if np.allclose(a, want_a, atol=1e-9) and np.allclose(w, want_w, atol=1e-9):
                continue
            where = f"quadrature_nodes({method!r}, {m})"
            if not np.isclose(w.sum(), 1.0):
                extra = ""
                if method == "riemann_trapezoid" and np.isclose(w.sum(), (m - 1) / m):
                    extra = " (m trapezoid nodes 0, 1/(m-1), ..., 1 are 1/(m-1) apart: weights (1/2, 1, ..., 1, 1/2)/(m-1))"
                elif method == "gausslegendre" and np.isclose(w.sum(), 2.0):
                    extra = " (numpy's Gauss-Legendre weights are for [-1, 1], of length 2: halve them)"
                raise CheckFailed(q, f"{where}: the weights sum to {w.sum():.4g}; they must sum to 1, the integral of "
                                     f"the constant 1 over [0, 1]{extra}")
            if method == "gausslegendre" and a.min() < 0:
                raise CheckFailed(q, f"{where}: nodes outside [0, 1]: map numpy's nodes t in [-1, 1] to "
                                     f"alpha = (t + 1) / 2")
            swapped = {"riemann_left": "riemann_right", "riemann_right": "riemann_left"}.get(method)
            if swapped and np.allclose(a, ref.quadrature(swapped, m)[0]):
                raise CheckFailed(q, f"{where}: those are the nodes of {swapped}")
            raise CheckFailed(q, f"{where}: expected alphas {np.round(want_a, 4).tolist()} and weights "
                                 f"{np.round(want_w, 4).tolist()}, got {np.round(a, 4).tolist()} and "
                                 f"{np.round(w, 4).tolist()}")
    return passed(q, "five rules, m = 2, 3, 5, 8")


ACTIVATIONS = {"tanh": torch.nn.Tanh, "softplus": torch.nn.Softplus, "relu": torch.nn.ReLU}


def _mlp(seed, sizes, activation="relu"):
    torch.manual_seed(seed)
    layers = []
    for i, (j, k) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(j, k))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return torch.nn.Sequential(*layers).to(DTYPE)


def _ig_case(activations=("tanh", "softplus", "relu"), rules=("riemann_right", "gausslegendre")):
    def build(d):
        return st.fixed_dictionaries({
            "x": arrays((d,), -2, 2, 0.5), "baseline": arrays((d,), -2, 2, 0.5), "seed": st.integers(0, 50),
            "hidden": st.integers(1, 4), "activation": st.sampled_from(activations), "rule": st.sampled_from(rules),
            "m": st.sampled_from([4, 8, 16])})

    return st.integers(1, 4).flatmap(build)


def _ig_args(net, x, baseline, alphas, weights):
    """What the student's ``integrated_gradients(f, x, baseline, alphas, weights)`` receives."""
    return (Score(net, 0), torch.tensor(x, dtype=DTYPE), torch.tensor(baseline, dtype=DTYPE),
            torch.tensor(alphas, dtype=DTYPE), torch.tensor(weights, dtype=DTYPE))


def _ig_call(fn, net, x, baseline, alphas, weights):
    args = _ig_args(net, x, baseline, alphas, weights)
    return _result(fn, args, "integrated_gradients(f, x, baseline, alphas, weights)", x.shape)


def _ig_probe(x, baseline, seed, hidden, activation, rule, m):
    """An example of :func:`_ig_case` as ``(net, x, baseline, alphas, weights)``."""
    return (_mlp(seed, (len(x), hidden, 1), activation), x, baseline, *ref.quadrature(rule, m))


def _path_gradients(net, x, baseline, alphas):
    xt, bt = torch.tensor(x, dtype=DTYPE)[None], torch.tensor(baseline, dtype=DTYPE)[None]
    return ref.gradient(net, bt + torch.tensor(alphas, dtype=DTYPE)[:, None] * (xt - bt), 0).numpy()   # (m, d)


IG_MISTAKES = [
    ("you returned the averaged gradient: multiply by (x - baseline)",
     lambda net, x, b, a, w: (w[:, None] * _path_gradients(net, x, b, a)).sum(0)),
    ("that is gradient x (x - baseline) at x alone: average the gradient over the points of the path",
     lambda net, x, b, a, w: ref.gradient(net, torch.tensor(x, dtype=DTYPE)[None], 0).numpy()[0] * (x - b)),
    ("multiply each gradient by its weight w_k (the sum of the weights is 1)",
     lambda net, x, b, a, w: _path_gradients(net, x, b, a).sum(0) * (x - b)),
    ("use the quadrature weights w_k, not a plain mean (they differ for this rule)",
     lambda net, x, b, a, w: _path_gradients(net, x, b, a).mean(0) * (x - b)),
    ("you swapped x and the baseline: the path runs from the baseline to x, x' + alpha (x - x'), and the factor "
     "is (x - x')",
     lambda net, x, b, a, w: ref.integrated_gradients(net, torch.tensor(b)[None], torch.tensor(x)[None], 0,
                                                      nodes=(a, w)).attributions.numpy()[0]),
]

# Where the mistakes above all differ from the formula and from each other (the first has uniform
# weights, the second Gauss-Legendre's).
IG_PROBES = [dict(x=np.array([1.0, -1.0]), baseline=np.array([0.0, 0.5]), seed=0, hidden=3, activation="tanh",
                  rule="riemann_right", m=4),
             dict(x=np.array([2.0, 0.5, -1.0]), baseline=np.zeros(3), seed=1, hidden=2, activation="relu",
                  rule="gausslegendre", m=8)]


def _ig_diagnosis(fn) -> Diagnosis:
    """The IG mistake ``fn`` makes, decided on :data:`IG_PROBES`, never on a shrunk counterexample."""
    return Diagnosis(fn, IG_MISTAKES, [_ig_probe(**ex) for ex in IG_PROBES], convert=lambda args: _ig_args(*args),
                     atol=1e-7)


def _ig_agrees(fn, diagnosis):
    def prop(x, baseline, seed, hidden, activation, rule, m):
        net, x, baseline, alphas, weights = _ig_probe(x, baseline, seed, hidden, activation, rule, m)
        got = _ig_call(fn, net, x, baseline, alphas, weights)
        want = ref.integrated_gradients(net, torch.tensor(x)[None], torch.tensor(baseline)[None], 0,
                                        nodes=(alphas, weights)).attributions.numpy()[0]
        if not np.allclose(got, want, rtol=1e-6, atol=1e-8):
            hint = diagnosis.hint()
            raise Violation(f"does not match (x - x') * sum_k w_k grad f(x' + alpha_k (x - x')) on a {activation} "
                            f"network ({rule} nodes, m = {m})" + (f": {hint}" if hint else ""),
                            expected=want, got=got)

    return prop


def _ig_linear_complete(fn, diagnosis):
    def prop(x, baseline, seed, hidden, activation, rule, m):
        net = _mlp(seed, (len(x), 1))
        alphas, weights = ref.quadrature(rule, m)
        got = _ig_call(fn, net, x, baseline, alphas, weights)
        delta = float(ref.score(net, torch.tensor(x)[None], 0) - ref.score(net, torch.tensor(baseline)[None], 0))
        if not np.isclose(got.sum(), delta, rtol=1e-6, atol=1e-8):
            hint = diagnosis.hint()
            raise Violation("completeness fails on a linear model f(x) = w.x + b, where every quadrature rule is "
                            "exact: sum_d R_d must be f(x) - f(x')" + (f". Likely: {hint}" if hint else ""),
                            expected=delta, got=float(got.sum()))

    return prop


@question("integrated gradients", answers="integrated_gradients",
          hint="evaluate the gradient of f at baseline + alpha (x - baseline) for all alphas in one batch, weight and sum, then multiply by x - baseline")
def integrated_gradients(ask, fn, *, max_examples: int = 30):
    """``fn(f, x, baseline, alphas, weights)`` on small tanh / softplus / ReLU networks against the
    reference with the same nodes, and completeness on linear models (where every rule is exact)."""
    q = ask.title
    ask.function(fn, "integrated_gradients")
    diagnosis = _ig_diagnosis(fn)
    props = {"agreement with the formula": _ig_agrees(fn, diagnosis),
             "completeness on a linear model": _ig_linear_complete(fn, diagnosis)}
    return _properties(q, props, _ig_case(), IG_PROBES, max_examples=max_examples)


@question("integrated gradients: completeness", answers="integrated_gradients",
          hint="with many nodes the attributions must add up to f(x) - f(baseline)")
def integrated_gradients_completeness(ask, fn, *, max_examples: int = 25):
    """Completeness on smooth networks: with 24 Gauss-Legendre nodes the gap
    ``f(x) - f(x') - sum_d R_d`` is below 1e-6."""
    q = ask.title
    ask.function(fn, "integrated_gradients")

    def complete(x, baseline, seed, hidden, activation, rule, m):
        net = _mlp(seed, (len(x), hidden, hidden, 1), activation)
        alphas, weights = ref.quadrature("gausslegendre", 24)
        got = _ig_call(fn, net, x, baseline, alphas, weights)
        delta = float(ref.score(net, torch.tensor(x)[None], 0) - ref.score(net, torch.tensor(baseline)[None], 0))
        if abs(got.sum() - delta) > 1e-6 * max(1.0, abs(delta)):
            raise Violation(f"the completeness gap f(x) - f(x') - sum_d R_d = {delta - got.sum():.3g} on a smooth "
                            f"({activation}) network with 24 Gauss-Legendre nodes; it should be below 1e-6",
                            expected=delta, got=float(got.sum()))

    return check_properties(q, {"completeness (smooth networks)": complete},
                            _ig_case(activations=("tanh", "softplus")), max_examples=max_examples)


_IG_STATEMENTS = Choices({
    "A": ("With the left or the right Riemann sum the gap falls like $1/m$.",
          True, "left and right Riemann sums have an error of order 1/m: doubling m halves the gap (the slope -1 "
                "in the log-log figure)."),
    "B": ("With the midpoint or the trapezoid rule it falls like $1/m^2$.",
          True, "the midpoint and trapezoid rules are exact for linear integrands, error of order 1/m^2 (slope "
                "-2)."),
    "C": ("Gauss-Legendre with $m$ nodes integrates polynomials of degree up to $2m - 1$ exactly, which is why it "
          "converges fastest on the smooth network.",
          True, "m Gauss-Legendre nodes integrate every polynomial of degree <= 2m - 1 exactly; that is why its "
                "gap falls fastest on a smooth network."),
    "D": ("On a ReLU network the integrand is piecewise constant along the path, so Gauss-Legendre is exact "
          "there.",
          False, "along the path a ReLU network's gradient is piecewise constant with jumps where a ReLU "
                 "switches: no rule with a fixed m is exact, and Gauss-Legendre loses most of its advantage."),
    "E": (r"Completeness holds exactly for gradient × input, $x_i\,\partial F/\partial x_i$, on any network.",
          False, "gradient x input sums to f(x) - f(0) only for (positively homogeneous) special cases such as "
                 "linear models or bias-free ReLU networks, not on any network."),
})


@multiple_choice("quadrature rules", answers="ig_true",
                 hint="compare the rules' errors in your convergence plot",
                 choices=_IG_STATEMENTS, allow_empty=True)
def ig_statements(answer):
    """Multiple select over ``_IG_STATEMENTS``."""


# =================================================================================================
# 4. DeepLIFT, rescale rule (MIT recitation)
# =================================================================================================

@question("the rescale rule by hand", answers="slope",
          hint="the rescale rule uses the secant slope Delta y / Delta x between the baseline and the input")
def rescale_example(ask, slope, contribution, gradient_contribution):
    """The recitation's ReLU example: baseline input 2, input -2 -> slope 0.5, contribution -2, and the
    gradient's contribution 0 (saturation)."""
    q = ask.title
    got = [number(v, name) for name, v in
           (("slope", slope), ("contribution", contribution), ("gradient_contribution", gradient_contribution))]
    m = float(ref.rescale_multiplier(-2.0, 2.0))
    want = [m, -4.0 * m, 0.0]
    if not np.isclose(got[0], want[0]):
        hint = " (Delta y / Delta x: the output falls by 2 while the input falls by 4)"
        if np.isclose(got[0], 2.0):
            hint = ": that is Delta x / Delta y; the slope is Delta y / Delta x"
        elif np.isclose(got[0], 0.0):
            hint = ": that is the gradient at x = -2; the rescale rule uses the secant slope Delta y / Delta x"
        raise CheckFailed(q, f"`slope`: expected {want[0]:g}, got {got[0]:g}{hint}")
    if not np.isclose(got[1], want[1]):
        hint = ": the contribution is Delta x * slope = (-4)(0.5); it must equal Delta y" if np.isclose(abs(got[1]), 2) \
            else ": Delta x times the slope"
        raise CheckFailed(q, f"`contribution`: expected {want[1]:g}, got {got[1]:g}{hint}")
    if not np.isclose(got[2], want[2]):
        raise CheckFailed(q, f"`gradient_contribution`: expected 0, got {got[2]:g}: the ReLU's gradient at x = -2 "
                             f"is 0, so gradient x Delta x misses the whole change (saturation)")
    return passed(q, "slope 0.5, contribution -2 = Delta y, gradient x Delta x = 0")


def _dl_case():
    def build(dims):
        d, h1, h2, classes = dims
        return st.fixed_dictionaries({
            "x": arrays((d,), -2, 2, 0.5), "baseline": arrays((d,), -2, 2, 0.5), "seed": st.integers(0, 50),
            "sizes": st.just((d, h1, h2, classes) if h2 else (d, h1, classes)),
            "target": st.integers(0, classes - 1)})

    return st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(0, 3), st.integers(1, 3)).flatmap(build)


def _dl_args(net, x, baseline, target):
    """What the student's ``deeplift_rescale(model, x, baseline, target)`` receives."""
    return (net, torch.tensor(x, dtype=DTYPE), torch.tensor(baseline, dtype=DTYPE), target)


def _dl_call(fn, net, x, baseline, target):
    return _result(fn, _dl_args(net, x, baseline, target), "deeplift_rescale(model, x, baseline, target)", x.shape)


def _dl_reference(net, x, baseline, target):
    base = None if baseline is None else torch.tensor(baseline)[None]
    return ref.deeplift_rescale(net, torch.tensor(x)[None], base, target).attributions.numpy()[0]


DL_MISTAKES = [
    ("at each ReLU you used its gradient at x (0 or 1); the rescale rule uses the slope (relu(z) - relu(z')) / "
     "(z - z') between x and the baseline",
     lambda net, x, b, t: ref.gradient(net, torch.tensor(x, dtype=DTYPE)[None], t).numpy()[0] * (x - b)),
    ("you used the gradients at the baseline; use the secant slope between x and the baseline",
     lambda net, x, b, t: ref.gradient(net, torch.tensor(b, dtype=DTYPE)[None], t).numpy()[0] * (x - b)),
    ("multiply the multipliers by (x - baseline)",
     lambda net, x, b, t: _dl_reference(net, x, b, t) / np.where(x - b == 0, 1, x - b)),
    ("that is DeepLIFT against the zero baseline: use the given baseline",
     lambda net, x, b, t: _dl_reference(net, x, None, t)),
]

# Where the mistakes above all differ from the rule and from each other: ReLUs that switch between x and
# the baseline, no coordinate where x = baseline, a baseline that is not 0.
DL_PROBES = [dict(x=np.array([1.0, -1.0]), baseline=np.array([0.0, 0.5]), seed=0, sizes=(2, 3, 2), target=1),
             dict(x=np.array([2.0, 0.5, -1.0]), baseline=np.array([-0.5, 0.0, 1.0]), seed=1, sizes=(3, 4, 3, 2),
                  target=0)]


def _dl_probe(x, baseline, seed, sizes, target):
    return (_mlp(seed, sizes), x, baseline, target)


def _dl_properties(fn):
    diagnosis = Diagnosis(fn, DL_MISTAKES, [_dl_probe(**ex) for ex in DL_PROBES],
                          convert=lambda args: _dl_args(*args), atol=1e-7)

    def summation_to_delta(x, baseline, seed, sizes, target):
        net = _mlp(seed, sizes)
        got = _dl_call(fn, net, x, baseline, target)
        delta = float(ref.score(net, torch.tensor(x)[None], target) - ref.score(net, torch.tensor(baseline)[None], target))
        if not np.isclose(got.sum(), delta, rtol=1e-6, atol=1e-8):
            hint = diagnosis.hint()
            raise Violation("summation-to-delta fails: sum_d R_d must equal f_t(x) - f_t(x')"
                            + (f". Likely: {hint}" if hint else ""), expected=delta, got=float(got.sum()))

    def agrees(x, baseline, seed, sizes, target):
        net = _mlp(seed, sizes)
        got = _dl_call(fn, net, x, baseline, target)
        want = _dl_reference(net, x, baseline, target)
        if not np.allclose(got, want, rtol=1e-6, atol=1e-8):
            hint = diagnosis.hint()
            raise Violation("does not match DeepLIFT-rescale (the rescale multipliers, layer by layer)"
                            + (f": {hint}" if hint else ""), expected=want, got=got)

    return {"summation-to-delta": summation_to_delta, "agreement with the rescale rule": agrees}


@question("DeepLIFT rescale", answers="deeplift_rescale",
          hint="run the network on x and on the baseline, and multiply the gradients layer by layer by the ratios Delta y / Delta z of each ReLU")
def deeplift_rescale(ask, fn, *, max_examples: int = 30):
    """``fn(model, x, baseline, target)`` on small ReLU networks: summation-to-delta and agreement with
    the reference (which equals captum's DeepLift)."""
    q = ask.title
    ask.function(fn, "deeplift_rescale")
    return _properties(q, _dl_properties(fn), _dl_case(), DL_PROBES, max_examples=max_examples)


@question("DeepLIFT rescale: where x and the baseline agree", answers="deeplift_rescale",
          hint="where z = z' the ratio 0 / 0 is undefined: fall back to the ReLU's gradient there")
def deeplift_edge_cases(ask, fn):
    """x equal to the baseline (every z = z'), and x differing in one coordinate: no NaN, and the
    multiplier of a ReLU with z = z' is its gradient."""
    q = ask.title
    ask.function(fn, "deeplift_rescale")
    net = _mlp(3, (3, 4, 4, 2))
    cases = [("x equal to the baseline", np.array([0.5, -1.0, 2.0]), np.array([0.5, -1.0, 2.0])),
             ("x and the baseline differ only in x_1", np.array([0.5, -1.0, 2.0]), np.array([0.5, 1.5, 2.0])),
             ("x = baseline = 0", np.zeros(3), np.zeros(3))]
    for what, x, b in cases:
        try:
            got = _dl_call(fn, net, x, b, 1)
        except Violation as v:
            raise CheckFailed(q, f"{what}: {v.message}. Where z = z' the slope 0/0 is undefined: use the ReLU's "
                                 f"gradient there (1 if z > 0 else 0), e.g. with torch.where") from None
        want = ref.deeplift_rescale(net, torch.tensor(x)[None], torch.tensor(b)[None], 1).attributions.numpy()[0]
        if not np.allclose(got, want, atol=1e-8):
            raise CheckFailed(q, f"{what}: expected {np.round(want, 4).tolist()}, got {np.round(got, 4).tolist()}")
    return passed(q, "no NaN where z = z'")


_GUIDED = Choices({
    "A": ("It zeroes the gradient at a ReLU whose forward input is negative.",
          True, "rule 1: a neuron whose forward input is negative is switched off (as in ordinary backprop)."),
    "B": ("It zeroes the gradient at a ReLU where the gradient arriving from above is negative.",
          True, "rule 2: gradients arriving negative at a ReLU are set to 0 (only signals that increase f pass)."),
    "C": ("Its map of the input is non-negative for every network whose first layer is `Linear` (look at the "
          "figure's printout).",
          False, "the map at the input is W_1^T g with g >= 0 but W_1 of both signs: it can be negative. It is "
                 "non-negative only in special cases, e.g. when the input enters a ReLU directly."),
    "D": ("Keeping only rule 1 gives the ordinary gradient.",
          True, "rule 1 alone is exactly the derivative of relu, i.e. plain backprop: the gradient."),
    "E": ("Like DeepLIFT, its map sums to $f(x) - f(x')$.",
          False, "guided backprop distributes no conserved quantity; its map does not sum to f(x) (SUTD: a "
                 "heuristic without theoretical underpinning)."),
})


@multiple_choice("guided backprop", answers="guided_true",
                 hint="write out the two rules guided backprop applies at a ReLU and compare them with ordinary backprop",
                 choices=_GUIDED, allow_empty=True)
def guided_statements(answer):
    """Multiple select over ``_GUIDED``."""


# =================================================================================================
# 5. CAM and Grad-CAM (NUS Q3)
# =================================================================================================

def _cnn(seed, classes=4):
    return ref.small_cnn(1, channels=(3, 4, 5), classes=classes, seed=seed).to(DTYPE).eval()


def _image(seed, size=12):
    g = torch.Generator().manual_seed(1000 + seed)
    return torch.rand(1, size, size, generator=g, dtype=DTYPE)


def _map(q, fn, args, want_shape, what):
    arr = as_array(call(fn, *args, name=what), what)
    if arr.shape == (1, *want_shape):
        arr = arr[0]
    if arr.shape != tuple(want_shape):
        hint = " (the input's size: the map lives on the feature maps A, which are smaller)" \
            if arr.shape[-2:] == (12, 12) else ""
        raise CheckFailed(q, f"{what} returned shape {arr.shape}; expected {tuple(want_shape)}, the spatial size of "
                             f"the feature maps A{hint}")
    if not np.all(np.isfinite(arr)):
        raise CheckFailed(q, f"{what} contains NaN or infinity")
    return arr


def _cam_probes():
    """The four test networks of the CAM check, (model, x, target)."""
    return [(_cnn(seed), _image(seed), seed % 4) for seed in range(4)]


def _bias(model, target):
    return float(model.classifier.bias.detach()[target])


#: What a student's cam(model, x, target) is compared with.
CAM_MISTAKES = [
    ("leave the bias out; CAM_c is sum_k w^c_k A^k (then f_c = mean CAM_c + b_c)",
     lambda m, x, c: ref.cam(m, x[None], c).numpy()[0] + _bias(m, c)),
    ("no ReLU in CAM (that is Grad-CAM's); CAM keeps negative evidence",
     lambda m, x, c: np.maximum(ref.cam(m, x[None], c).numpy()[0], 0)),
    ("don't divide by h w; CAM uses the classifier's weights w^c_k as they are",
     lambda m, x, c: ref.cam(m, x[None], c).numpy()[0] / 9),
]


@question("CAM", answers="cam",
          hint="weight the feature maps A^k by the classifier's weights of the target class and sum over k")
def cam(ask, fn):
    """``fn(model, x, target) -> (h, w)`` on GAP networks: ``sum_k w^c_k A^k``."""
    q = ask.title
    ask.function(fn, "cam")
    probes = _cam_probes()
    diagnosis = Diagnosis(fn, CAM_MISTAKES, probes)   # a mistake is named only if all four networks show it
    for seed, (model, x, target) in enumerate(probes):
        got = _map(q, fn, (model, x, target), (3, 3), "cam(model, x, target)")
        want = ref.cam(model, x[None], target).numpy()[0]
        if np.allclose(got, want, atol=1e-8):
            continue
        hint = diagnosis.hint()
        raise CheckFailed(q, f"test network {seed}, target {target}: expected\n  {np.round(want, 4).tolist()}\n"
                             f"got\n  {np.round(got, 4).tolist()}" + (f": {hint}" if hint else ""))
    return passed(q, "sum_k w^c_k A^k on four test networks")


def _heads(seed, K=5, h=3, classes=4):
    torch.manual_seed(50 + seed)
    flat = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(K * h * h, classes)).to(DTYPE)
    mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(K * h * h, 6), torch.nn.ReLU(),
                              torch.nn.Linear(6, classes)).to(DTYPE)
    return {"global average pooling + linear": None, "flatten + linear": flat, "flatten + MLP": mlp}


def _grad_cam_probes():
    """(model, head, x, target) of the Grad-CAM check: three networks, each with three kinds of head."""
    out = []
    for seed in range(3):
        model = _cnn(seed)
        for name, head in _heads(seed).items():
            out.append((name, (model, model.head if head is None else head, _image(seed), (seed + 1) % 4)))
    return out


def _gap_weights_cam(model, head, x, target):
    A = model.features(x[None]).detach()
    return torch.relu(torch.einsum("bkhw,k->bhw", A, model.classifier.weight[target].detach())).numpy()[0]


#: What a student's grad_cam(features, head, x, target) is compared with, on (model, head, x, target).
GRAD_CAM_MISTAKES = [
    ("alpha_k is the *mean* of the gradient over the h w positions, not the sum",
     lambda m, head, x, c: ref.grad_cam(m.features, head, x[None], c).numpy()[0] * 9),
    ("apply the ReLU to sum_k alpha_k A^k (Grad-CAM keeps only positive evidence)",
     lambda m, head, x, c: ref.grad_cam(m.features, head, x[None], c, relu=False).numpy()[0]),
    ("you used the GAP classifier's weights; Grad-CAM takes the gradients of the given head", _gap_weights_cam),
    ("you used the GAP classifier's weights; Grad-CAM takes the gradients of the given head",
     lambda *args: _gap_weights_cam(*args) / 9),
]


@question("Grad-CAM", answers="grad_cam",
          hint="alpha_k is the mean over positions of the gradient of the target score with respect to A^k; weight, sum, then a ReLU")
def grad_cam(ask, fn):
    """``fn(features, head, x, target) -> (h, w)`` against the reference on GAP heads and on heads where
    Grad-CAM differs from CAM (flatten + linear, an MLP)."""
    q = ask.title
    ask.function(fn, "grad_cam")
    probes = _grad_cam_probes()
    diagnosis = Diagnosis(fn, GRAD_CAM_MISTAKES, [args for _, args in probes], atol=1e-9,
                          convert=lambda args: (args[0].features, *args[1:]))
    for i, (name, (model, head, x, target)) in enumerate(probes):
        got = _map(q, fn, (model.features, head, x, target), (3, 3), "grad_cam(features, head, x, target)")
        want = ref.grad_cam(model.features, head, x[None], target).numpy()[0]
        if np.allclose(got, want, rtol=1e-6, atol=1e-9):
            continue
        hint = diagnosis.hint()
        raise CheckFailed(q, f"test network {i // 3}, head '{name}', target {target}: expected\n  "
                             f"{np.round(want, 5).tolist()}\ngot\n  {np.round(got, 5).tolist()}"
                             + (f": {hint}" if hint else ""))
    return passed(q, "three networks, three kinds of head")


def _reference_cam(model, x, target):
    return ref.cam(model, x[None], target)[0]


@question("Grad-CAM equals CAM on a GAP network", answers="grad_cam",
          hint="with global average pooling the gradient of the score with respect to A^k_ij is the same at every position")
def grad_cam_equals_cam(ask, grad_cam_fn, cam_fn=None):
    """With a global-average-pooling head, ``df_c/dA^k_ij = w^c_k / hw``: Grad-CAM must be
    ``relu(CAM) / hw`` (Hypothesis over networks, images and targets). ``cam_fn`` defaults to the
    reference CAM, so that only ``grad_cam`` is judged."""
    q = ask.title
    ask.function(grad_cam_fn, "grad_cam")
    cam_fn = _reference_cam if cam_fn is None else cam_fn
    ask.function(cam_fn, "cam")

    def identity(seed, target, size):
        model, x = _cnn(seed), _image(seed, size)
        h = ref_conv.output_size(ref_conv.output_size(size, 5, 2, 2), 3, 2, 1)
        try:
            gc = _result(grad_cam_fn, (model.features, model.head, x, target), "grad_cam(...)", (h, h))
            cm = _result(cam_fn, (model, x, target), "cam(...)", (h, h))
        except Violation:
            raise
        if not np.allclose(gc, np.maximum(cm, 0) / (h * h), rtol=1e-6, atol=1e-10):
            raise Violation(f"Grad-CAM should be relu(CAM) / (h w) = relu(CAM) / {h * h} here",
                            expected=np.maximum(cm, 0) / (h * h), got=gc)

    strategy = st.fixed_dictionaries({"seed": st.integers(0, 30), "target": st.integers(0, 3),
                                      "size": st.sampled_from([8, 12, 16])})
    return check_properties(q, {"Grad-CAM = relu(CAM) / hw": identity}, strategy, max_examples=15)


# =================================================================================================
# 6. LIME (SUTD; NUS Q2)
# =================================================================================================

#: The notebook's LIME problem: the curved black box at x0, 500 samples uniform in the disc of
#: radius 1 (seed 0), kernel width 0.5.
LIME_SETUP = {"x0": (0.0, -0.3), "n_samples": 500, "radius": 1.0, "kernel_width": 0.5, "seed": 0}


def _lime_call(fn, f, x0, Z, width, degree):
    P = 3 if degree == 1 else 6
    args = (f, np.array(x0, dtype=float), np.array(Z, dtype=float), width, degree)
    return _result(fn, args, f"lime_surrogate(f, x0, Z, kernel_width={width:g}, degree={degree})", (P,))


def _lime_reference(f, x0, Z, width, degree):
    return ref.lime(f, np.asarray(x0, float), degree=degree, kernel_width=width, samples=Z).coef


def _lime_fit(features, weights):
    """A wrong fit: ``features(U, Z, degree)`` and ``weights(dist, width)`` instead of the right ones."""
    def fit(f, x0, Z, width, degree):
        U = Z - np.asarray(x0, float)
        dist = np.linalg.norm(U, axis=1)
        return ref.weighted_least_squares(features(U, Z, degree), f(Z), weights(dist, width))
    return fit


def _offsets(U, Z, degree):
    return ref.polynomial_features(U, degree)


#: What a student's lime_surrogate(f, x0, Z, width, degree) is compared with.
LIME_MISTAKES = [
    ("the fit ignores the kernel weights: minimise sum_n pi_n (f(z_n) - g(z_n))^2, so that close samples count more",
     _lime_fit(_offsets, lambda d, width: np.ones(len(d)))),
    ("the features must be in the offsets u = z - x0 (the surrogate is centred at x0), not in z",
     _lime_fit(lambda U, Z, degree: ref.polynomial_features(Z, degree), ref.exponential_kernel)),
    ("your fit weighs sample n by pi_n^2 = exp(-||z - x0||^2 / width^2): either the kernel lost the 2 of "
     "exp(-||z - x0||^2 / (2 width^2)), or you scaled the rows by pi instead of sqrt(pi) (the squared "
     "residuals must get weight pi)",
     _lime_fit(_offsets, lambda d, width: ref.exponential_kernel(d, width) ** 2)),
    ("use the squared distance ||z - x0||^2 in the kernel",
     _lime_fit(_offsets, lambda d, width: np.exp(-d / (2 * width ** 2)))),
]


def _lime_probes():
    """(f, x0, Z, width, degree) on which the mistakes all differ: the curved black box away from the origin,
    both degrees, kernels narrower than the sampling radius."""
    return [(ref.curved_black_box, np.array([0.4, -0.3]), ref.sample_ball(np.array([0.4, -0.3]), 60, 1.0, 1), 0.5, 1),
            (ref.curved_black_box, np.array([-0.5, 0.6]), ref.sample_ball(np.array([-0.5, 0.6]), 60, 1.0, 2), 0.8, 2)]


def _lime_properties(fn):
    diagnosis = Diagnosis(fn, LIME_MISTAKES, _lime_probes(), rtol=1e-5)   # decided on the probes

    def recovers(x0, coef, width, degree, seed):
        P = 3 if degree == 1 else 6
        c = np.asarray(coef[:P], dtype=float)
        x0 = np.asarray(x0, dtype=float)
        f = Polynomial(x0, c, degree)
        Z = ref.sample_ball(x0, 40, 1.0, seed)
        got = _lime_call(fn, f, x0, Z, width, degree)
        if not np.allclose(got, c, rtol=1e-6, atol=1e-6):
            hint = diagnosis.hint()
            raise Violation("a black box that is itself a polynomial of this degree (in u = z - x0) must be recovered "
                            "exactly, whatever the weights" + (f": {hint}" if hint else ""), expected=c, got=got)

    def agrees(x0, coef, width, degree, seed):
        x0 = np.asarray(x0, dtype=float)
        Z = ref.sample_ball(x0, 60, 1.0, seed)
        got = _lime_call(fn, ref.curved_black_box, x0, Z, width, degree)
        want = _lime_reference(ref.curved_black_box, x0, Z, width, degree)
        if not np.allclose(got, want, rtol=1e-5, atol=1e-8):
            hint = diagnosis.hint()
            raise Violation("does not match the weighted least-squares fit on the curved black box"
                            + (f": {hint}" if hint else ""), expected=want, got=got)

    return {"agreement with weighted least squares": agrees, "exact for a polynomial black box": recovers}


@question("LIME surrogate", answers="lime_surrogate",
          hint="build polynomial features of the offsets z - x0, weight each sample by the exponential kernel, and solve the weighted least squares")
def lime_surrogate(ask, fn, *, max_examples: int = 25):
    """``fn(f, x0, Z, kernel_width, degree)`` against weighted least squares, and exact recovery of a
    black box that is a polynomial of the surrogate's degree."""
    q = ask.title
    ask.function(fn, "lime_surrogate")
    strategy = st.fixed_dictionaries({
        "x0": st.tuples(decimals(-1, 1, 0.5), decimals(-1, 1, 0.5)), "coef": st.tuples(*[decimals(-2, 2, 0.5)] * 6),
        "width": st.sampled_from([0.25, 0.5, 1.0, 2.0]), "degree": st.sampled_from([1, 2]), "seed": st.integers(0, 20)})
    fixed = [dict(x0=(0.0, -0.5), coef=(1.0, 0.5, -1.0, 0.5, 0.0, -0.5), width=0.5, degree=1, seed=0),
             dict(x0=(0.5, 0.0), coef=(1.0, 0.5, -1.0, 0.5, 0.0, -0.5), width=1.0, degree=2, seed=1)]
    return _properties(q, _lime_properties(fn), strategy, fixed, max_examples=max_examples)


def _lime_reference_fits():
    """The reference fits of the notebook's problem (``LIME_SETUP``), linear and quadratic."""
    s = LIME_SETUP
    Z = ref.sample_ball(np.array(s["x0"]), s["n_samples"], s["radius"], s["seed"])
    return {deg: ref.lime(ref.curved_black_box, np.array(s["x0"]), degree=deg, kernel_width=s["kernel_width"],
                          samples=Z) for deg in (1, 2)}


@question("LIME fidelity", answers="fidelity_linear",
          hint="the weighted R^2: 1 - weighted residual sum of squares / weighted total sum of squares, with the kernel weights of the fit")
def lime_fidelity(ask, fidelity_linear, fidelity_quadratic):
    """The weighted R^2 of the linear and the quadratic surrogate on the notebook's samples."""
    q = ask.title
    fits = _lime_reference_fits()
    for name, value, deg in (("fidelity_linear", fidelity_linear, 1), ("fidelity_quadratic", fidelity_quadratic, 2)):
        got = number(value, name)
        fit = fits[deg]
        want = fit.fidelity
        if abs(got - want) <= 1e-4:
            continue
        y, yhat = fit.targets, fit.predict(fit.samples)
        unweighted = 1 - np.sum((y - yhat) ** 2) / np.sum((y - y.mean()) ** 2)
        hint = ""
        if abs(got - unweighted) <= 1e-4:
            hint = ": weight the R^2 with the kernel weights pi (the same pi as in the fit), and use the weighted mean"
        elif abs(got - (1 - want)) <= 1e-4:
            hint = ": that is 1 - R^2, the share of the variance the surrogate misses"
        elif abs(got - fits[3 - deg].fidelity) <= 1e-4:
            hint = ": that is the other surrogate's fidelity"
        raise CheckFailed(q, f"`{name}`: expected {want:.4f}, got {got:.4f}{hint}")
    return passed(q, f"linear {fits[1].fidelity:.3f} < quadratic {fits[2].fidelity:.3f}")


_LIME_STATEMENTS = Choices({
    "A": ("Refitting with another seed can change the explanation, visibly so with few samples.",
          True, "the samples are random: another seed (or another n) gives another fit, and with few samples the "
                "coefficients vary visibly (NUS: repeating the sampling can give different explanations)."),
    "B": ("LIME needs the gradients of the model.",
          False, "LIME only queries f on samples (a black box); it never differentiates the model."),
    "C": ("On the same weighted samples, the quadratic surrogate's weighted $R^2$ is never below the linear "
          "one's.",
          True, "the quadratic surrogate contains the linear one (set its quadratic coefficients to 0), and "
                "weighted least squares minimises exactly the weighted error, so on the same samples its weighted "
                "R^2 is at least as high."),
    "D": ("A wider kernel gives distant samples more weight, so the explanation describes a larger region.",
          True, "a wider kernel gives far samples more weight: the explanation describes a larger region, less "
                "locally (and a linear surrogate then fits a curved boundary worse)."),
    "E": ("The perturbed samples are guaranteed to look like real data.",
          False, "perturbed samples can leave the data distribution (NUS: locally perturbed data may not be "
                 "realistic)."),
})


@multiple_choice("LIME", answers="lime_true",
                 hint="think of what changes with another seed, a wider kernel or a richer surrogate",
                 choices=_LIME_STATEMENTS, allow_empty=True)
def lime_statements(answer):
    """Multiple select over ``_LIME_STATEMENTS``."""


hint = hints_of(__name__)
