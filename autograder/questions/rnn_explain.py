"""Checks for the ``rnn_explain`` assignment (thesis, chapter 4: sequence classifiers and LRP through time).

The student builds the Deep cell (Sec. 4.3.2, Fig. 4.6) in torch, implements LRP / Deep Taylor back through
one time step and then through the whole sequence, and measures where the shipped Shallow-7 and Deep-7
models put their relevance (Fig. 4.7-4.9). Everything is checked against :mod:`reference.thesis`:

- the parameter count against Table 4.3, part by part (layer 1', layer 4 on ``[a1; r_t]``, layer 5, the
  head), so that a wrong count names the part that is off;
- the forward pass against the shipped Deep-7 checkpoint (its weights are copied into the student's layers),
  with a catalogue of typical mistakes (row-wise chunks, ``[r_t; a1]``, ``r`` not carried, a missing ReLU);
- the rules with Hypothesis on generated layers (conservation, positivity, agreement with
  ``reference.lrp.zplus`` on the concatenation, the split sizes);
- the explanation through time against ``reference.thesis.explain.explain`` on the shipped models and on
  randomly initialised cells of several sequence lengths, with a catalogue of mistaken variants
  (relevance not passed back through layer 5, chunks in reversed order, the recurrent layer applied to
  the wrong step, z+ on pixels, all classes explained at once);
- the relevance-per-step numbers against the reference computed on the same class-1 test digits.
"""
from __future__ import annotations

import functools
import warnings
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import strategies as st

from reference import lrp as ref_lrp
from reference.propagation import thesis_weight
from reference.thesis import TABLE_4_3, build_model
from reference.thesis import data as thesis_data
from reference.thesis.explain import explain as ref_explain
from reference.thesis.explain import step_distribution, wasserstein_steps, zbeta_zplus
from reference.thesis.train import load_checkpoint

from .. import choices
from ..feedback import CheckFailed, describe_exception, not_answered, passed
from ..feedback import check as _feedback_check
from ..properties import Violation, arrays, check_properties

SEQ = 7
RECURRENT = 128
CLASS = 1
WIDTHS = {1: 28, 4: 7, 7: 4, 14: 2}


@contextmanager
def one_thread():
    """Run torch on one thread: these are small matrices, and on a busy machine (a class graded in
    parallel) torch's thread pool makes them a hundred times slower than one thread does."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def check(question: str):
    """:func:`autograder.feedback.check` (any error becomes a failed check), run on one torch thread."""

    def wrap(fn):
        checked = _feedback_check(question)(fn)

        @functools.wraps(fn)
        def run(*args, **kwargs):
            with one_thread():
                return checked(*args, **kwargs)

        return run

    return wrap


# === data and the shipped models ===================================================================

def checkpoint_path(cell: str):
    """The shipped checkpoint ``<cell>-7-mnist5k.pt`` inside the installed ``reference.thesis`` package."""
    return resources.files("reference.thesis") / "checkpoints" / f"{cell}-7-mnist5k.pt"


@lru_cache(maxsize=None)
def shipped(cell: str):
    """The shipped Shallow-7 or Deep-7 model (eval mode). Do not modify it."""
    model, _ = load_checkpoint(checkpoint_path(cell))
    return model.eval()


@lru_cache(maxsize=None)
def test_digits():
    """The 1,000 test digits of the embedded MNIST subset (the split the checkpoints were evaluated on)."""
    split = thesis_data.load("mnist5k")["test"]
    return torch.as_tensor(split.images), torch.as_tensor(split.labels)


def class_digits(klass: int = CLASS) -> torch.Tensor:
    images, labels = test_digits()
    return images[labels == klass]


@lru_cache(maxsize=None)
def _reference_class_measures():
    ones = class_digits()
    pixels = step_distribution(ones, SEQ)
    out = {"pixels": pixels}
    for cell in ("shallow", "deep"):
        heat = ref_explain(shipped(cell), ones).heatmap
        out[cell] = step_distribution(heat, SEQ)
        out[cell + "_mean_of_shares"] = _mean_of_shares(heat, SEQ)
    return out


def _mean_of_shares(values, seq):
    per = values.clamp(min=0).reshape(len(values), 28, seq, 28 // seq).sum((1, 3))
    return (per / per.sum(1, keepdim=True).clamp(min=1e-12)).mean(0)


@contextmanager
def _weights_untouched(model, what):
    """Restore ``model``'s parameters if the student's code changed them in place, and say so."""
    saved = [p.detach().clone() for p in model.parameters()]
    try:
        yield
    finally:
        changed = [not torch.equal(p.detach(), s) for p, s in zip(model.parameters(), saved)]
        if any(changed):
            with torch.no_grad():
                for p, s in zip(model.parameters(), saved):
                    p.copy_(s)
    if any(changed):
        raise Violation(f"your {what} changed the model's weights in place (e.g. weight.clamp_(min=0), or an "
                        f"in-place operation on model.recur.weight.T, which is a view of the weights): compute new "
                        f"tensors instead (w.clamp(min=0))")


def _tensor(x, what):
    """A student's return value as a float64 tensor (numpy arrays and tensors accepted)."""
    if isinstance(x, torch.Tensor):
        return x.detach().to(torch.float64)
    try:
        return torch.as_tensor(np.asarray(x, dtype=float))
    except Exception:  # noqa: BLE001
        raise Violation(f"{what}: expected a tensor (or array) of numbers, got {type(x).__name__}") from None


def _fmt_vec(v, n=7):
    v = np.asarray(v, dtype=float).ravel()
    body = ", ".join(f"{x:.4g}" for x in v[:n])
    return "[" + body + (", ..." if len(v) > n else "") + "]"


def _require_function(q, name, fn, signature):
    """``CheckFailed`` for a blank answer (None) or something that is not a function."""
    if fn is None or fn is Ellipsis:
        raise not_answered(q, name)
    if not callable(fn):
        raise CheckFailed(q, f"expected a function {signature}, got {type(fn).__name__}")


def _student_call(what, fn, *args, context=""):
    """``fn(*args)``; any error but NotImplementedError becomes a Violation naming the student's function."""
    try:
        return fn(*args)
    except (NotImplementedError, Violation):
        raise
    except Exception as err:  # noqa: BLE001 - a student's error is feedback
        raise Violation(f"your {what} raised {describe_exception(err)}{context}") from None


def _fixed_case(q, prop, example, header):
    """Run ``prop(**example)`` on a fixed example; a Violation becomes a CheckFailed headed by ``header``."""
    try:
        prop(**example)
    except NotImplementedError:
        raise CheckFailed(q, "the function is not implemented yet (it raises NotImplementedError)") from None
    except Violation as v:
        lines = [v.message] + header
        if v.expected is not None:
            lines += [f"  expected: {_fmt_vec(v.expected, 14)}", f"  yours:    {_fmt_vec(v.got, 14)}"]
        raise CheckFailed(q, "\n".join(lines)) from None


# === 1. x_t for each sequence length (Table 4.1) ====================================================

@check("x_t for each sequence length (Table 4.1)")
def xt_shapes(answer):
    """``{1: (28, 28), 4: (28, 7), 7: (28, 4), 14: (28, 2)}``."""
    q = "x_t for each sequence length (Table 4.1)"
    if answer is None or answer is Ellipsis:
        raise not_answered(q, "xt_shape")
    if not isinstance(answer, dict):
        raise CheckFailed(q, f"expected a dict {{SEQ: (rows, columns)}}, e.g. {{1: (28, 28), ...}}; "
                             f"got {type(answer).__name__}")
    keys = {}
    for k, v in answer.items():
        try:
            keys[int(k)] = v
        except (TypeError, ValueError):
            raise CheckFailed(q, f"the keys are the sequence lengths 1, 4, 7, 14; got the key {k!r}") from None
    missing = sorted(set(WIDTHS) - set(keys))
    if missing:
        raise CheckFailed(q, f"give the shape for every sequence length of Table 4.1: {missing} missing")
    extra = sorted(set(keys) - set(WIDTHS))
    if extra:
        raise CheckFailed(q, f"Table 4.1 has the sequence lengths 1, 4, 7, 14 only; {extra} is not one of them")
    for seq, w in WIDTHS.items():
        v = keys[seq]
        if isinstance(v, (int, np.integer)):
            raise CheckFailed(q, f"SEQ = {seq}: got the number {v}; give the shape (rows, columns) of x_t as a "
                                 f"tuple, e.g. (28, 28) for SEQ = 1")
        try:
            shape = tuple(int(n) for n in v)
        except (TypeError, ValueError):
            raise CheckFailed(q, f"SEQ = {seq}: expected a pair (rows, columns), got {v!r}") from None
        if shape == (28, w):
            continue
        if shape == (w, 28) and w != 28:
            why = ("rows and columns are swapped: the image is cut column-wise, so every chunk keeps all 28 rows "
                   f"and gets 28 / SEQ = {w} of the columns")
        elif shape == (28, seq) and seq != w:
            why = (f"the width of a chunk is 28 / SEQ, not SEQ: {seq} chunks share the 28 columns, so each gets "
                   f"{w}")
        elif len(shape) != 2:
            why = "give the shape of one chunk as (rows, columns): x_t is a 28 x (28 / SEQ) piece of the image"
        else:
            why = "each chunk keeps the 28 rows and gets 28 / SEQ consecutive columns"
        raise CheckFailed(q, f"SEQ = {seq}: x_t has shape {shape}? Not quite: {why}.")
    return passed(q)


# === 2. the Deep cell ================================================================================

PARTS = ("features", "combine", "recur", "head")
LABELS = {"features": ["layer 1'"], "combine": ["layer 4"], "recur": ["layer 5"],
          "head": ["layer 4'", "the output layer 6"]}


def expected_layers(seq: int) -> dict:
    """(in, out) of the weighted layers of each part of the Deep cell for ``seq`` (Fig. 4.6)."""
    D = 28 * WIDTHS[seq]
    return {"features": [(D, 512)], "combine": [(512 + RECURRENT, 256)], "recur": [(256, RECURRENT)],
            "head": [(256, 64), (64, 10)]}


def _weighted(module):
    """The Linear-like layers of ``module``, in order: modules with a 2-D ``weight``."""
    out = []
    for m in module.modules():
        w = getattr(m, "weight", None)
        if isinstance(w, torch.Tensor) and w.dim() == 2:
            out.append(m)
    return out


def _bias_of(m):
    for name in ("b", "bias"):
        v = getattr(m, name, None)
        if isinstance(v, torch.Tensor):
            return name, v
    return None, None


def _count(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _layer_issues(part, got, want, seq):
    """Readable differences between the student's layers of ``part`` and the expected ones."""
    issues = []
    labels = LABELS[part]
    shapes = [(m.weight.shape[1], m.weight.shape[0]) for m in got]
    if len(got) != len(want):
        listed = ", ".join(f"{i} -> {o}" for i, o in shapes) or "none"
        wanted = ", ".join(f"{i} -> {o}" for i, o in want)
        issues.append(f"`{part}` should hold {len(want)} weighted layer(s) ({' and '.join(labels)}: {wanted}); "
                      f"yours has {len(got)} ({listed})")
        return issues
    D = 28 * WIDTHS[seq]
    for m, (i_want, o_want), label in zip(got, want, labels):
        i_got, o_got = m.weight.shape[1], m.weight.shape[0]
        if i_got != i_want:
            if part == "features" and seq != SEQ and i_got == 28 * WIDTHS[SEQ]:
                hint = (f"{i_got} = 28 x {WIDTHS[SEQ]} is the chunk of SEQ = {SEQ}; compute the width from "
                        f"seq_len: for SEQ = {seq}, x_t is 28 x {WIDTHS[seq]} = {D} pixels (Table 4.1)")
            elif part == "features" and i_got == 28 * seq and seq != WIDTHS[seq]:
                hint = (f"x_t of SEQ = {seq} is 28 x {WIDTHS[seq]} (Table 4.1): the chunk width is 28 / SEQ, so "
                        f"layer 1' sees 28 * {WIDTHS[seq]} = {D} pixels, not 28 * {seq}")
            elif part == "features" and i_got == 784:
                hint = f"layer 1' sees one chunk x_t (28 x {WIDTHS[seq]} = {D} pixels), not the whole image"
            elif part == "features":
                hint = f"layer 1' sees the flattened chunk x_t: 28 x {WIDTHS[seq]} = {D} pixels (Table 4.1)"
            elif part == "combine" and i_got == 512:
                hint = ("layer 4 sees the concatenation [a1; r_t] of the features (512) and the recurrent input "
                        "(128): did you forget the recurrent input r_t?")
            elif part == "combine" and i_got in (D + RECURRENT, D):
                hint = "layer 4 combines the output a1 of layer 1' (512 units) with r_t, not the raw pixels"
            elif part == "combine":
                hint = "layer 4's input is the concatenation [a1; r_t]: 512 + 128 = 640 entries"
            else:
                hint = f"{label} should read {i_want} inputs"
            issues.append(f"{label} has {i_got} inputs, expected {i_want}: {hint}")
        if o_got != o_want:
            issues.append(f"{label} has {o_got} units, expected {o_want} (Fig. 4.6: n(1') = 512, n(4) = 256, "
                          f"n(4') = 64, n(5) = 128, 10 classes)")
        name, b = _bias_of(m)
        if b is None:
            issues.append(f"{label} has no bias: every layer of the thesis has the bias -softplus(b) "
                          f"(use NegBiasLinear, or nn.Linear with its bias)")
        elif b.numel() != o_got:
            issues.append(f"{label}'s bias `{name}` has {b.numel()} entries, expected one per unit ({o_got})")
    return issues


def _breakdown(seq):
    D = 28 * WIDTHS[seq]
    rows = [("layer 1'", D, 512), ("layer 4 on [a1; r_t]", 512 + RECURRENT, 256), ("layer 5", 256, RECURRENT),
            ("layer 4'", 256, 64), ("output layer 6", 64, 10)]
    lines = [f"  {name:<22} {i:>4} x {o:<4} + {o:<4} = {i * o + o:>7}" for name, i, o in rows]
    return "Table 4.3, part by part:\n" + "\n".join(lines) + f"\n  {'total':<22} {'':>23}{TABLE_4_3['deep'][seq]:>7}"


def _make(cls, seq, q, name="DeepRNN"):
    if isinstance(cls, torch.nn.Module):
        if seq != SEQ:
            return None
        return cls
    if not callable(cls):
        raise CheckFailed(q, f"expected the class {name} (a torch.nn.Module), got {type(cls).__name__}")
    try:
        model = cls() if seq == SEQ else cls(seq)
    except NotImplementedError:
        raise CheckFailed(q, f"{name} is not written yet (building it raises NotImplementedError)") from None
    except Exception as err:  # noqa: BLE001
        call = f"{name}()" if seq == SEQ else f"{name}({seq})"
        raise CheckFailed(q, f"{call} raised {describe_exception(err)}") from None
    if not isinstance(model, torch.nn.Module):
        raise CheckFailed(q, f"{name}() should build a torch.nn.Module, got {type(model).__name__}")
    return model


def structure_issues(model, seq=SEQ):
    """Differences between ``model``'s parts and the Deep cell (empty when the layers are right)."""
    missing = [p for p in PARTS if not isinstance(getattr(model, p, None), torch.nn.Module)]
    if missing:
        return [f"your model has no part named {', '.join(f'`{m}`' for m in missing)}: keep the thesis's four "
                f"parts as attributes: self.features (layer 1'), self.combine (layer 4), self.recur (layer 5), "
                f"self.head (layers 4' and 6)"]
    want = expected_layers(seq)
    issues = []
    for part in PARTS:
        issues += _layer_issues(part, _weighted(getattr(model, part)), want[part], seq)
    return issues


@check("Deep cell: parameters (Table 4.3)")
def deep_cell_parameters(DeepRNN, seq_lens=(SEQ,)):
    """``DeepRNN(seq_len=7)`` has 271946 trainable parameters (and 314954 / 243274 for SEQ = 4 / 14)."""
    q = "Deep cell: parameters (Table 4.3)"
    if DeepRNN is None or DeepRNN is Ellipsis:
        raise not_answered(q, "DeepRNN")
    for seq in seq_lens:
        model = _make(DeepRNN, seq, q)
        if model is None:
            raise CheckFailed(q, f"pass the class DeepRNN itself (not an instance), so that the check can build "
                                 f"it for SEQ = {seq}")
        got, want = _count(model), TABLE_4_3["deep"][seq]
        if got == want and not structure_issues(model, seq):
            continue
        issues = structure_issues(model, seq)
        lines = [f"your Deep-{seq} cell has {got} trainable parameters; Table 4.3 says {want}"
                 + (f" (difference {got - want:+d})" if got != want else "")]
        if got == want:
            lines[0] += ", but its layers are not the thesis's"
        lines += ["- " + s for s in issues]
        inside = sum(_count(getattr(model, p)) for p in PARTS if isinstance(getattr(model, p, None), torch.nn.Module))
        if got != inside and not any("no part named" in s for s in issues):
            lines.append(f"- {got - inside} parameters sit outside the four parts features, combine, recur, head")
        lines.append(_breakdown(seq))
        raise CheckFailed(q, "\n".join(lines))
    what = ", ".join(f"Deep-{s}: {TABLE_4_3['deep'][s]}" for s in seq_lens)
    return passed(q, f"{what}, layer by layer as in Fig. 4.6")


# --- the forward pass against the shipped Deep-7 ------------------------------------------------

def transfer_weights(model, reference):
    """Copy ``reference``'s weights into ``model``'s layers, part by part and in order.

    A layer with a parameter ``b`` gets ``b`` (its bias is ``-softplus(b)``); a plain ``nn.Linear`` gets
    ``bias = -softplus(b)``, so that both compute the same function as the reference."""
    with torch.no_grad():
        for part in PARTS:
            for m, r in zip(_weighted(getattr(model, part)), _weighted(getattr(reference, part))):
                m.weight.copy_(r.weight)
                name, b = _bias_of(m)
                b.copy_(r.b if name == "b" else -F.softplus(r.b))


def variant_forward(ref, images, *, columns=True, flatten_rows=True, order="fr", carry=True, relu_r=True,
                    relu_a4=True):
    """The Deep cell's forward pass with the reference weights, optionally with one of the typical mistakes."""
    B, w = images.shape[0], ref.width
    r = images.new_zeros(B, RECURRENT)
    a4 = None
    with torch.no_grad():
        for t in range(ref.seq_len):
            chunk = images[:, :, t * w:(t + 1) * w] if columns else images[:, t * w:(t + 1) * w, :]
            if not flatten_rows:
                chunk = chunk.transpose(1, 2)
            f = ref.features(chunk.reshape(B, -1))
            z = ref.combine(torch.cat([f, r] if order == "fr" else [r, f], 1))
            a4 = torch.relu(z) if relu_a4 else z
            if carry:
                z5 = ref.recur(a4)
                r = torch.relu(z5) if relu_r else z5
        return ref.head(a4)


FORWARD_MISTAKES = [
    (dict(columns=False), "your x_t are rows of the image: Table 4.1 cuts it column-wise, "
                          "x_t = images[:, :, t*w:(t+1)*w] with w = 28 / SEQ"),
    (dict(flatten_rows=False), "your chunks are flattened column by column: flatten each (B, 28, w) chunk row by "
                               "row, x_t.reshape(B, -1), the layout the shipped weights were trained with"),
    (dict(order="rf"), "you concatenate [r_t; a1]: layer 4 reads the features first, [a1; r_t] "
                       "(torch.cat([a1, r], dim=1))"),
    (dict(carry=False), "r_t never changes from 0: compute r_{t+1} = relu(W5^T a4_t - softplus(b5)) at the end of "
                        "each step and feed it to the next one"),
    (dict(relu_r=False), "r_{t+1} must go through a ReLU: r_{t+1} = relu(layer5(a4_t))"),
    (dict(relu_a4=False), "a4_t must go through a ReLU: a4_t = relu(layer4([a1; r_t]))"),
]


@check("Deep cell: forward pass (shipped Deep-7)")
def deep_cell_forward(DeepRNN, n_images: int = 12):
    """Copy the shipped Deep-7 weights into ``DeepRNN()`` and compare the raw scores h on test digits."""
    q = "Deep cell: forward pass (shipped Deep-7)"
    if DeepRNN is None or DeepRNN is Ellipsis:
        raise not_answered(q, "DeepRNN")
    model = _make(DeepRNN, SEQ, q)
    issues = structure_issues(model)
    if issues:
        raise CheckFailed(q, "fix the layers first (see the parameter check above):\n- " + "\n- ".join(issues))
    ref = shipped("deep")
    transfer_weights(model, ref)
    images = test_digits()[0][:n_images].clone()
    want = ref(images).detach()
    model.eval()
    try:
        with torch.no_grad():
            out = model(images.clone())
    except NotImplementedError:
        raise CheckFailed(q, "forward is not written yet (it raises NotImplementedError)") from None
    except Exception as err:  # noqa: BLE001
        raise CheckFailed(q, f"model(images) with images of shape {tuple(images.shape)} (B, 28, 28) raised "
                             f"{describe_exception(err)}") from None
    if not isinstance(out, torch.Tensor):
        raise CheckFailed(q, f"forward should return the raw scores h as a tensor (B, 10), got {type(out).__name__}")
    out = out.detach()
    if tuple(out.shape) != (n_images, 10):
        raise CheckFailed(q, f"forward returned shape {tuple(out.shape)} for {n_images} images; expected (B, 10) = "
                             f"({n_images}, 10): the head's output at the last step")
    with torch.no_grad():
        again = model(images.clone()).detach()
    if not torch.allclose(out, again):
        raise CheckFailed(q, "in eval mode your forward pass gives different results on the same images: use "
                             "nn.Dropout modules (model.eval() switches them off), not F.dropout(..., training=True)")
    if not torch.allclose(out, want, rtol=1e-4, atol=1e-4):
        for flags, why in FORWARD_MISTAKES:
            if torch.allclose(out, variant_forward(ref, images, **flags), rtol=1e-4, atol=1e-4):
                raise CheckFailed(q, f"with the shipped Deep-7 weights your scores differ from the model's: {why}")
        k = int((out - want).abs().amax(1).argmax())
        raise CheckFailed(q, f"with the shipped Deep-7 weights copied into your layers, your scores h differ on test "
                             f"digit {k}:\n  expected {_fmt_vec(want[k], 10)}\n  yours    {_fmt_vec(out[k], 10)}\n"
                             f"Per step: x_t = columns t*w..(t+1)*w flattened row by row, a1 = relu(layer1'(x_t)), "
                             f"a4 = relu(layer4([a1; r_t])), r_(t+1) = relu(layer5(a4)) with r_0 = 0; "
                             f"h = head(a4) at the last step.")
    model.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        with torch.no_grad():
            noisy = model(images.clone()).detach()
    model.eval()
    if torch.allclose(noisy, out):
        raise CheckFailed(q, "in training mode your model gives the same scores as in eval mode: the Deep cell "
                             "applies dropout 0.5 to a1 (after layer 1') and to a4_T before the head (nn.Dropout(0.5))")
    return passed(q, f"the shipped Deep-7 weights give the model's scores on {n_images} test digits")


# === 3. LRP through one step =======================================================================

def _layer_tensors(ex):
    return {k: torch.as_tensor(v, dtype=torch.float64) for k, v in ex.items()}


def _call_torch(fn, *args):
    copies = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(*copies)
    for a, c in zip(args, copies):
        if isinstance(a, torch.Tensor) and not torch.equal(a, c):
            raise Violation("your function changed its arguments in place (e.g. w.clamp_(min=0) or a *= ...); "
                            "compute new tensors instead (w.clamp(min=0)), the caller's weights must survive")
    return out


def _zplus_layers():
    def build(dims):
        B, j, k = dims
        return st.fixed_dictionaries({"a": arrays((B, j), 0.0, 5.0), "w": arrays((j, k), -2.0, 2.0),
                                      "R": arrays((B, k), 0.0, 5.0)})

    return st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 5)).flatmap(build)


def _zplus_out(fn, a, w, R):
    out = _student_call("zplus", _call_torch, fn, a, w, R,
                        context=f"\nIt must accept torch tensors a (B, J), w (J, K) and R (B, K); here B, J, K = "
                                f"{a.shape[0]}, {a.shape[1]}, {w.shape[1]}.")
    out = _tensor(out, "zplus(a, w, R)")
    if tuple(out.shape) != tuple(a.shape):
        hint = " That is the shape of R: send it back along the weights (c = s @ w+.T), then multiply by a." \
            if tuple(out.shape) == tuple(R.shape) else ""
        raise Violation(f"zplus returned shape {tuple(out.shape)}; expected a.shape = {tuple(a.shape)}.{hint}")
    if not torch.isfinite(out).all():
        raise Violation("the relevance contains NaN or infinity: an output k with z_k = sum_j a_j w_jk+ = 0 must get "
                        "s_k = 0, not R_k / 0: s = safe_divide(R, z)",
                        got=out.numpy())
    return out


@check("z+ rule in torch")
def zplus(fn, *, max_examples: int = 30):
    """``fn(a, w, R)`` with torch tensors in the thesis orientation: a (B, J) >= 0, w (J, K), R (B, K)."""
    q = "z+ rule in torch"
    _require_function(q, "zplus", fn, "zplus(a, w, R)")

    def shape_and_finite(a, w, R):
        _zplus_out(fn, *_layer_tensors(dict(a=a, w=w, R=R)).values())

    def positivity(a, w, R):
        t = _layer_tensors(dict(a=a, w=w, R=R))
        out = _zplus_out(fn, t["a"], t["w"], t["R"])
        if (out < -1e-9).any():
            raise Violation("negative relevance: with a >= 0, w+ = max(0, w) and R >= 0 every R_j is >= 0. Did you use "
                            "w instead of w+ = w.clamp(min=0)?", expected=ref_lrp.zplus(a, w, R), got=out.numpy())

    def conservation(a, w, R):
        t = _layer_tensors(dict(a=a, w=w, R=R))
        out = _zplus_out(fn, t["a"], t["w"], t["R"])
        z = a @ np.maximum(w, 0)
        want = np.where(z > 0, R, 0).sum(-1)
        if not np.allclose(out.sum(-1).numpy(), want, rtol=1e-6, atol=1e-6):
            raise Violation("relevance is not conserved: sum_j R_j must equal the sum of the R_k with z_k > 0 (divide "
                            "by z_k = sum_j a_j w_jk+ and multiply by a_j)", expected=want, got=out.sum(-1).numpy())

    def agreement(a, w, R):
        t = _layer_tensors(dict(a=a, w=w, R=R))
        out = _zplus_out(fn, t["a"], t["w"], t["R"])
        want = ref_lrp.zplus(a, w, R)
        if not np.allclose(out.numpy(), want, rtol=1e-6, atol=1e-8):
            raise Violation("R_j = sum_k a_j w_jk+ / (sum_j a_j w_jk+) R_k: your values differ", expected=want,
                            got=out.numpy())

    props = {"shape and no NaN": shape_and_finite, "positivity": positivity, "conservation": conservation,
             "agreement with the z+ rule": agreement}
    return check_properties(q, props, _zplus_layers(), max_examples=max_examples)


def _step_layers():
    def build(dims):
        B, nf, nr, k = dims
        return st.fixed_dictionaries({"a_features": arrays((B, nf), 0.0, 5.0), "r": arrays((B, nr), 0.0, 5.0),
                                      "w4": arrays((nf + nr, k), -2.0, 2.0), "R_a4": arrays((B, k), 0.0, 5.0)})

    return st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)).flatmap(build)


def reference_step(a_features, r, w4, R_a4):
    """z+ on the concatenation ``[a_features; r]``, split back into the two parts."""
    a = np.concatenate([a_features, r], -1)
    out = ref_lrp.zplus(a, w4, R_a4)
    n = a_features.shape[-1]
    return out[..., :n], out[..., n:]


def _step_mistakes(a_features, r, w4, R_a4):
    n = a_features.shape[-1]
    both = np.concatenate(reference_step(a_features, r, w4, R_a4), -1)
    out = [(np.concatenate([ref_lrp.zplus(a_features, w4[:n], R_a4), ref_lrp.zplus(r, w4[n:], R_a4)], -1),
            "each part got its own denominator, so each part receives all of R_k and the total doubles: z+ on the "
            "concatenation has ONE denominator z_k = sum_j a_j w_jk+ + sum_j r_j w_jk+ over both parts")]
    out.append((np.concatenate([ref_lrp.zplus(a_features, w4[:n], R_a4), 0 * r], -1),
                "the recurrent input r_t got no relevance: it is part of layer 4's input, [a1; r_t], and takes its "
                "share a_j w_jk+ / z_k like every other input"))
    out.append((np.concatenate([both[..., -n:], both[..., :-n]], -1) if r.shape[-1] == n else None,
                "the two parts are swapped: the first a_features.shape[-1] entries of the concatenation's relevance "
                "belong to the features, the rest to r_t"))
    return [(v, why) for v, why in out if v is not None]


def _step_out(fn, a_features, r, w4, R_a4):
    t = _layer_tensors(dict(a_features=a_features, r=r, w4=w4, R_a4=R_a4))
    out = _student_call("lrp_step", _call_torch, fn, t["a_features"], t["r"], t["w4"], t["R_a4"],
                        context=f"\nIt receives torch tensors a_features (B, F), r (B, {r.shape[1]}), "
                                f"w4 (F + {r.shape[1]}, K) and R_a4 (B, K).")
    B, n, m = a_features.shape[0], a_features.shape[1], r.shape[1]
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        shape = tuple(getattr(out, "shape", ()))
        hint = (f" That is the relevance of the whole concatenation: split it, R[:, :{n}] for the features and "
                f"R[:, {n}:] for r." if shape == (B, n + m) else "")
        raise Violation(f"lrp_step should return the pair (R_features, R_r); got {type(out).__name__}"
                        + (f" of shape {shape}" if shape else "") + "." + hint)
    R_f, R_r = _tensor(out[0], "R_features"), _tensor(out[1], "R_r")
    if tuple(R_f.shape) != (B, n) or tuple(R_r.shape) != (B, m):
        raise Violation(f"wrong split sizes: R_features has shape {tuple(R_f.shape)} and R_r {tuple(R_r.shape)}; "
                        f"expected ({B}, {n}) (one relevance per feature) and ({B}, {m}) (one per entry of r): "
                        f"the concatenation is [a_features; r], features first")
    if not (torch.isfinite(R_f).all() and torch.isfinite(R_r).all()):
        raise Violation("NaN or infinity in the relevance: an output k with z_k = 0 must get s_k = 0")
    return R_f.numpy(), R_r.numpy()


@check("LRP through one time step")
def lrp_step(fn, *, max_examples: int = 30):
    """``fn(a_features, r, w4, R_a4) -> (R_features, R_r)``: z+ on the concatenation ``[a_features; r]``."""
    q = "LRP through one time step"
    _require_function(q, "lrp_step", fn, "lrp_step(a_features, r, w4, R_a4)")

    def diagnose(got, ex):
        for variant, why in _step_mistakes(**ex):
            if variant.shape == got.shape and np.allclose(got, variant, rtol=1e-6, atol=1e-8):
                return why
        return None

    def split_sizes(a_features, r, w4, R_a4):
        _step_out(fn, a_features, r, w4, R_a4)

    def positivity(a_features, r, w4, R_a4):
        R_f, R_r = _step_out(fn, a_features, r, w4, R_a4)
        if (R_f < -1e-9).any() or (R_r < -1e-9).any():
            raise Violation("negative relevance: every input of layer 4 is a ReLU output (>= 0) and z+ uses w+ >= 0",
                            expected=np.concatenate(reference_step(a_features, r, w4, R_a4), -1),
                            got=np.concatenate([R_f, R_r], -1))

    def conservation(a_features, r, w4, R_a4):
        R_f, R_r = _step_out(fn, a_features, r, w4, R_a4)
        z = np.concatenate([a_features, r], -1) @ np.maximum(w4, 0)
        want = np.where(z > 0, R_a4, 0).sum(-1)
        got = R_f.sum(-1) + R_r.sum(-1)
        if not np.allclose(got, want, rtol=1e-6, atol=1e-6):
            why = diagnose(np.concatenate([R_f, R_r], -1), dict(a_features=a_features, r=r, w4=w4, R_a4=R_a4))
            raise Violation("relevance is not conserved: sum(R_features) + sum(R_r) must equal the relevance of the "
                            "active outputs of layer 4" + (f". Likely: {why}" if why else ""), expected=want, got=got)

    def agreement(a_features, r, w4, R_a4):
        R_f, R_r = _step_out(fn, a_features, r, w4, R_a4)
        want = np.concatenate(reference_step(a_features, r, w4, R_a4), -1)
        got = np.concatenate([R_f, R_r], -1)
        if not np.allclose(got, want, rtol=1e-6, atol=1e-8):
            why = diagnose(got, dict(a_features=a_features, r=r, w4=w4, R_a4=R_a4))
            raise Violation("(R_features, R_r) side by side differ from z+ on the concatenation [a_features; r]"
                            + (f": {why}" if why else ""), expected=want, got=got)

    props = {"returns (R_features, R_r) of the right sizes": split_sizes, "positivity": positivity,
             "conservation": conservation, "agreement with z+ on [a_features; r]": agreement}
    return check_properties(q, props, _step_layers(), max_examples=max_examples)


# --- the recurrent layer ---------------------------------------------------------------------------

@lru_cache(maxsize=None)
def random_model(cell: str, seq: int, seed: int):
    """A randomly initialised cell (as the thesis initialises it), in eval mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(cell, seq).eval()


def _recurrent_cases():
    images = test_digits()[0]
    cases = []
    for cell, seq, seed, idx in [("deep", SEQ, None, [0, 1, 2]), ("shallow", SEQ, None, [3, 4]),
                                 ("deep", 4, 1, [5]), ("shallow", 14, 2, [6, 7])]:
        model = shipped(cell) if seed is None else random_model(cell, seq, seed)
        name = f"{cell.capitalize()}-{seq}" + (" (shipped)" if seed is None else f" (random weights, seed {seed})")
        with torch.no_grad():
            trace = model.steps(images[idx])
        g = torch.Generator().manual_seed(len(cases))
        for t in (1, seq - 1):
            R_r = torch.rand(len(idx), RECURRENT, generator=g) * trace[t]["r"].gt(0)
            cases.append((name, model, t, trace[t - 1]["a4"], R_r))
    return cases


@check("LRP through the recurrent layer 5")
def lrp_recurrent(fn):
    """``fn(model, a4_prev, R_r) -> R_a4_prev``: z+ through layer 5 in the thesis orientation."""
    q = "LRP through the recurrent layer 5"
    _require_function(q, "lrp_recurrent", fn, "lrp_recurrent(model, a4_prev, R_r)")
    for name, model, t, a4_prev, R_r in _recurrent_cases():
        where = f"{name}, from r_{t} back to a4_{t - 1}"
        try:
            with _weights_untouched(model, "lrp_recurrent"):
                out = _call_torch(lambda a, R: fn(model, a, R), a4_prev, R_r)
        except NotImplementedError:
            raise CheckFailed(q, "the function is not implemented yet (it raises NotImplementedError)") from None
        except Violation as v:
            raise CheckFailed(q, v.message) from None
        except Exception as err:  # noqa: BLE001
            hint = ""
            if "shape" in str(err) or "size" in str(err):
                J, K = model.recur.in_features, model.recur.out_features
                hint = (f"\ntorch's nn.Linear stores W5 as (out, in) = ({K}, {J}); the thesis's w5 goes from a4 "
                        f"(j, {J} units) to r (k, {K} units) and has shape (J, K) = ({J}, {K}): use "
                        f"model.recur.weight.T")
            raise CheckFailed(q, f"{where}: your function raised {describe_exception(err)}{hint}") from None
        try:
            got = _tensor(out, "lrp_recurrent(model, a4_prev, R_r)")
        except Violation as v:
            raise CheckFailed(q, v.message) from None
        want = ref_lrp.zplus(a4_prev.double(), thesis_weight(model.recur).double(), R_r.double())
        if tuple(got.shape) != tuple(want.shape):
            raise CheckFailed(q, f"{where}: got shape {tuple(got.shape)}, expected the shape of a4_prev "
                                 f"{tuple(want.shape)}")
        if not torch.allclose(got, want, rtol=1e-4, atol=1e-6 * float(R_r.abs().max() + 1)):
            lines = [f"{where}: your relevance of a4_{t - 1} differs from z+ through layer 5",
                     f"  sum of R_r:     {float(R_r.sum()):.5g} (what comes in)",
                     f"  expected sum:   {float(want.sum()):.5g}", f"  your sum:       {float(got.sum()):.5g}",
                     f"  expected [0]:   {_fmt_vec(want[0])}", f"  yours [0]:      {_fmt_vec(got[0])}",
                     "R_a4_prev = zplus(a4_prev, w5, R_r) with w5 = model.recur.weight.T (J, K) and z+ ignoring the "
                     "bias; is your zplus check passing?"]
            raise CheckFailed(q, "\n".join(lines))
    return passed(q, "z+ through layer 5 on the shipped and random cells, SEQ = 4, 7, 14")


# === 4. LRP through the whole sequence ===============================================================

def variant_explain(model, images, *, recurrent=True, reverse=False, rows=False, pixels="zbeta", target="max",
                    shift=False):
    """LRP through time like ``reference.thesis.explain.explain``, optionally with one typical mistake."""
    model.eval()
    with torch.no_grad():
        trace = model.steps(images)
        h = model.head(trace[-1]["a4"])
    f = h.max(1).values
    R = h.clone() if target == "all" else torch.zeros_like(h).scatter(1, h.argmax(1, keepdim=True), f[:, None])
    acts = [trace[-1]["a4"]]
    with torch.no_grad():
        for layer in model.head:
            acts.append(layer(acts[-1]))
    for i in reversed(range(len(model.head))):
        if isinstance(model.head[i], torch.nn.Linear):
            R = ref_lrp.zplus(acts[i], thesis_weight(model.head[i]), R)
    w4 = thesis_weight(model.combine)
    shallow = len(model.features) == 0
    chunks = [None] * model.seq_len
    for t in reversed(range(model.seq_len)):
        s = trace[t]
        n = s["features"].shape[1]
        inp = torch.cat([s["features"], s["r"]], 1)
        if shallow and pixels == "zbeta":
            R_in = zbeta_zplus(inp, w4, R, n, 0.0, 1.0)
        else:
            R_in = ref_lrp.zplus(inp, w4, R)
        R_f, R_r = R_in[:, :n], R_in[:, n:]
        if shallow:
            R_x = R_f
        else:
            first = thesis_weight(model.features[0])
            if pixels == "zbeta":
                R_x = ref_lrp.zbeta(s["x"], first, R_f, 0.0, 1.0)
            else:
                R_x = ref_lrp.zplus(s["x"], first, R_f)
        chunks[t] = R_x
        if t > 0:
            if not recurrent:
                R = torch.zeros_like(trace[t - 1]["a4"])
            else:
                R = ref_lrp.zplus(trace[t - (0 if shift else 1)]["a4"], thesis_weight(model.recur), R_r)
    if reverse:
        chunks = chunks[::-1]
    B, w = images.shape[0], model.width
    if rows:
        return torch.cat([c.reshape(B, w, 28) for c in chunks], 1)
    return torch.cat([c.reshape(B, 28, w) for c in chunks], 2)


EXPLAIN_MISTAKES = [
    (dict(recurrent=False), "all the relevance stays on the last chunk: the recurrent share R_r must go back "
                            "through layer 5 (R = lrp_recurrent(model, a4_(t-1), R_r)) and be split again at step t-1"),
    (dict(reverse=True), "your chunks are in reversed order: the loop runs backwards in time (t = T-1 .. 0), but "
                         "chunk t's relevance belongs to columns t*w .. (t+1)*w - 1"),
    (dict(rows=True), "your chunks are laid out as rows: reshape each chunk's relevance to (B, 28, w) and put the "
                      "chunks side by side along the columns (torch.cat(..., dim=2))"),
    (dict(shift=True), "off by one step: r_t was computed from a4_(t-1), so layer 5 sends R_r to the previous "
                       "step's a4 (trace[t-1]['a4']), not to a4_t"),
    (dict(pixels="zplus"), "the pixels got the z+ rule: pixels lie in [0, 1], so the layer that sees them needs "
                           "z^beta (pixel_relevance for Deep, shallow_step for Shallow's layer 4)"),
    (dict(target="all"), "you explained all ten scores at once: f(x) = max_i h_i, so R_h is f(x) on the winning "
                         "class and 0 elsewhere"),
]


def _explain_out(fn, model, images):
    was = model.training
    try:
        with _weights_untouched(model, "explain_sequence"):
            out = _student_call("explain_sequence", fn, model, images.clone(),
                                context=f"\n(on a {model.cell.capitalize()} cell with model.seq_len = {model.seq_len}, "
                                        f"model.width = {model.width}, images of shape {tuple(images.shape)})")
    finally:
        model.train(was)
    out = _tensor(out, "explain_sequence(model, images)")
    B = images.shape[0]
    if tuple(out.shape) != (B, 28, 28):
        hint = ""
        if tuple(out.shape) == (B, model.seq_len, 28, model.width):
            hint = " These are the chunks: put them side by side, torch.cat(chunks, dim=2)."
        elif out.dim() == 2 and out.shape[0] == B:
            hint = " Reshape each chunk's relevance to (B, 28, w) before joining the chunks."
        raise Violation(f"explain_sequence returned shape {tuple(out.shape)}; expected one relevance per pixel, "
                        f"(B, 28, 28) = ({B}, 28, 28).{hint}")
    if not torch.isfinite(out).all():
        raise Violation("the heatmap contains NaN or infinity (a division by zero?)")
    return out


def _explain_properties(fn):
    """The properties on a given (model, images): ``{name: prop(model, images, description)}``."""

    def diagnose(model, images, got):
        for flags, why in EXPLAIN_MISTAKES:
            v = variant_explain(model, images, **flags).double()
            if v.shape == got.shape and torch.allclose(got, v, rtol=1e-4, atol=1e-6 * float(v.abs().max() + 1)):
                return why
        return None

    def conservation(model, images, name):
        got = _explain_out(fn, model, images)
        want = ref_explain(model, images)
        f = want.f.double()
        if (want.heatmap.sum((1, 2)).double() - f).abs().max() > 1e-3 * (f.abs().max() + 1):
            return   # relevance meets a dead neuron here: conservation is not exact for the reference either
        total = got.sum((1, 2))
        if not torch.allclose(total, f, rtol=1e-4, atol=1e-5 * float(f.abs().max() + 1)):
            why = diagnose(model, images, got)
            raise Violation(f"{name}: the pixel relevances must add up to f(x) = max_i h_i (z+ and z^beta conserve "
                            f"relevance at every layer and every step)"
                            + (f". Likely: {why}" if why else "; do zplus, lrp_step and lrp_recurrent pass their "
                                                              "checks?"),
                            expected=f.numpy(), got=total.numpy())

    def agreement(model, images, name):
        got = _explain_out(fn, model, images)
        want = ref_explain(model, images).heatmap.double()
        if not torch.allclose(got, want, rtol=1e-4, atol=1e-6 * float(want.abs().max() + 1)):
            why = diagnose(model, images, got)
            per_want = want.reshape(len(want), 28, model.seq_len, model.width).sum((1, 3))
            per_got = got.reshape(len(got), 28, model.seq_len, model.width).sum((1, 3))
            raise Violation(f"{name}: the heatmap differs from LRP through time"
                            + (f": {why}" if why else " (relevance per chunk of the first image below)"),
                            expected=per_want[0].numpy(), got=per_got[0].numpy())

    return {"conservation": conservation, "agreement with LRP through time": agreement}


def _on_generated(prop):
    """``prop`` on a readable generated example: a random cell and a few test digits."""

    def run(cell, seq_len, seed, digits):
        model = random_model(cell, seq_len, seed)
        prop(model, test_digits()[0][digits],
             f"{cell.capitalize()}-{seq_len} with random weights (seed {seed}) on test digits {digits}")

    return run


def _generated_cases(thorough):
    return st.fixed_dictionaries({
        "cell": st.sampled_from(["deep", "shallow"]), "seq_len": st.sampled_from([7, 4, 14]),
        "seed": st.integers(0, 3 if thorough else 1),
        "digits": st.lists(st.integers(0, 999), min_size=1, max_size=3 if thorough else 2, unique=True)})


@check("LRP through the whole sequence")
def explain_sequence(fn, *, thorough: bool = False):
    """``fn(model, images) -> (B, 28, 28)``: on the shipped Deep-7 and Shallow-7 and on random cells
    (SEQ = 4, 7, 14) against ``reference.thesis.explain.explain``."""
    q = "LRP through the whole sequence"
    _require_function(q, "explain_sequence", fn, "explain_sequence(model, images)")
    props = _explain_properties(fn)
    images = test_digits()[0][[0, 1, 2, 5, 14] if thorough else [2, 5, 14]]
    for cell in ("deep", "shallow"):
        name = f"the shipped {cell.capitalize()}-7 on {len(images)} test digits"
        for prop_name, prop in props.items():
            _fixed_case(q, prop, {"model": shipped(cell), "images": images, "name": name}, [f"property '{prop_name}'"])
    generated = {name: _on_generated(prop) for name, prop in props.items()}
    return check_properties(q, generated, _generated_cases(thorough), max_examples=12 if thorough else 6)


# === 5. relevance per time step ======================================================================

def _profiles():
    def build(dims):
        B, seq = dims
        return st.fixed_dictionaries({"columns": arrays((B, 28), 0.0, 1.0, 0.1), "seq_len": st.just(seq),
                                      "rows": arrays((B, 28), 0.0, 1.0, 0.5)})

    return st.tuples(st.integers(1, 2), st.sampled_from([7, 4, 14])).flatmap(build)


def _images_from(columns, rows):
    """``values[n, i, j] = (0.5 + rows[n, i]) * (0.01 + columns[n, j])``: positive, with a column profile."""
    return torch.as_tensor((0.5 + rows)[:, :, None] * (0.01 + columns)[:, None, :])


@check("relevance per time step")
def step_shares(fn, *, max_examples: int = 25):
    """``fn(values, seq_len) -> (seq_len,)``: the share of the (positive) total of a population in each chunk."""
    q = "relevance per time step"
    _require_function(q, "step_shares", fn, "step_shares(values, seq_len)")

    def shares(columns, seq_len, rows):
        values = _images_from(columns, rows)
        out = _student_call("step_shares", fn, values.clone(), seq_len)
        got = _tensor(out, "step_shares(values, seq_len)").reshape(-1) if out is not None else None
        if got is None or got.numel() != seq_len:
            raise Violation(f"step_shares returned {None if got is None else tuple(got.shape)}; expected one share "
                            f"per time step, shape ({seq_len},)")
        want = step_distribution(values, seq_len)
        if not torch.allclose(got, want, atol=1e-6):
            hint = ""
            if torch.allclose(got, _mean_of_shares(values, seq_len), atol=1e-6):
                hint = (": you averaged the shares of the single images; add up the values of the whole population "
                        "per chunk first, then divide by the population's total")
            elif abs(float(got.sum()) - 1) > 1e-6:
                hint = ": the shares must add up to 1 (divide by the total)"
            elif torch.allclose(got, step_distribution(values.transpose(1, 2), seq_len), atol=1e-6):
                hint = (": did you cut rows instead of columns? Chunk t is the columns t*w .. (t+1)*w - 1, "
                        "values.reshape(N, 28, seq_len, w)")
            raise Violation("your shares per step differ" + hint + "\n(the values are (0.5 + rows[n, i]) * "
                            "(0.01 + columns[n, j]) for image n, row i, column j)", expected=want.numpy(),
                            got=got.numpy())

    columns = np.zeros((2, 28))
    columns[0, 8:14], columns[1, 12:22] = 0.5, 1.0       # two "digits" of different ink and place
    rows = np.tile(np.linspace(0.0, 1.0, 28), (2, 1))
    for seq in (7, 4):
        _fixed_case(q, shares, {"columns": columns, "seq_len": seq, "rows": rows},
                    [f"on two images of {seq} chunks:", f"  columns[0] = {_fmt_vec(columns[0], 28)}",
                     f"  columns[1] = {_fmt_vec(columns[1], 28)}"])
    return check_properties(q, {"share of each chunk": shares}, _profiles(), max_examples=max_examples)


def _number(q, name, value):
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise CheckFailed(q, f"{name}: expected one number, got a tensor of shape {tuple(value.shape)}")
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise CheckFailed(q, f"{name}: expected a number, got {type(value).__name__}") from None


@check("earth mover's distance to the pixel distribution")
def emd(answer, *, tol: float = 0.01):
    """``{"shallow": EMD, "deep": EMD}`` between relevance and pixel-intensity shares per step, class 1."""
    q = "earth mover's distance to the pixel distribution"
    if answer is None or answer is Ellipsis:
        raise not_answered(q, "emd")
    if not isinstance(answer, dict) or set(answer) != {"shallow", "deep"}:
        raise CheckFailed(q, "expected a dict {'shallow': number, 'deep': number}")
    m = _reference_class_measures()
    for cell in ("shallow", "deep"):
        got = _number(q, f"emd['{cell}']", answer[cell])
        want = wasserstein_steps(m[cell], m["pixels"])
        if abs(got - want) <= tol * max(1.0, abs(want)):
            continue
        other = "deep" if cell == "shallow" else "shallow"
        guesses = [
            (float((m[cell] - m["pixels"]).abs().sum()),
             "that is sum_t |P_t - Q_t|, no cumulative sums: the earth mover's distance in steps is "
             "sum_t |P_1+..+P_t - Q_1-..-Q_t|"),
            (wasserstein_steps(m[other], m["pixels"]), f"that is the value of {other.capitalize()}-7: swapped?"),
            (wasserstein_steps(m[cell + "_mean_of_shares"], m["pixels"]),
             "you averaged per-image shares; step_shares adds up the population first"),
        ]
        for value, why in guesses:
            if abs(got - value) <= tol * max(1.0, abs(value)):
                raise CheckFailed(q, f"emd['{cell}'] = {got:.4g}: {why}")
        raise CheckFailed(q, f"emd['{cell}'] = {got:.4g}, but the class-1 test digits give {want:.4g} for the "
                             f"shipped {cell.capitalize()}-7. Use step_shares on explain_sequence's heatmaps and on "
                             f"the images, then sum_t |cumsum(P)_t - cumsum(Q)_t| (and make sure the explain_sequence "
                             f"and step_shares checks pass first)")
    return passed(q, f"Shallow-7 {wasserstein_steps(m['shallow'], m['pixels']):.2f} steps, "
                     f"Deep-7 {wasserstein_steps(m['deep'], m['pixels']):.2f} steps")


# === 6. interpretation =============================================================================

LAST_STEPS_OPTIONS = {"A": "Shallow-7", "B": "Deep-7", "C": "both", "D": "neither"}


@check("which model piles relevance on the last steps")
def last_steps_model(answer):
    """Single choice over ``LAST_STEPS_OPTIONS``: answer 'A' (Shallow-7)."""
    q = "which model piles relevance on the last steps"
    got = choices.chosen(q, "mc_last_steps", answer, LAST_STEPS_OPTIONS)
    if len(got) != 1:
        raise CheckFailed(q, "choose one option")
    if got == {"A"}:
        return passed(q)
    m = _reference_class_measures()
    deep, shallow = float(m["deep"][-1]), float(m["shallow"][-1])
    return choices.judge(q, got, {"A"}, {
        "B": f"Deep-7 puts {deep:.1%} of the class-1 relevance on the last step; look at your per-step plot again",
        "C": f"look at the last step in your per-step plot: Deep-7 puts only {deep:.1%} there",
        "D": f"one of them puts {max(shallow, deep):.0%} of the class-1 relevance on the last step, where a 1 has "
             f"almost no ink",
    })


STATEMENTS = {
    "A": (True, "in Deep, layer 4 splits the relevance of a4_t between a1 and r_t; r_t's share goes through layer 5 "
                "to a4_(t-1) and on to the earlier chunks: that is the path your loop follows."),
    "B": (False, "Shallow has the recurrent layer 5 too (Fig. 4.4a), and some relevance does reach the earlier "
                 "chunks: look at Shallow's shares of steps 5 and 6."),
    "C": (True, "z+ and z^beta conserve relevance at every layer and step: both heatmaps sum to f(x); the models "
                "differ in where the relevance goes."),
    "D": (False, "Deep's class-1 relevance follows the ink, which lies in the middle chunks, not in the last one."),
    "E": (True, "compare the earth mover's distances: Deep-7's per-step shares follow the pixel-intensity shares, "
                "Shallow-7's do not."),
    "F": (False, "the two models reach about the same test accuracy (as in the thesis's Table 4.5): accuracy does "
                 "not tell where the relevance goes."),
}


@check("true statements about Shallow and Deep")
def statements(answer):
    """Multiple select over ``STATEMENTS``: answer {'A', 'C', 'E'}."""
    q = "true statements about Shallow and Deep"
    got = choices.chosen(q, "mc_statements", answer, STATEMENTS)
    want = {k for k, (truth, _) in STATEMENTS.items() if truth}
    return choices.judge(q, got, want, {k: text for k, (_, text) in STATEMENTS.items()})


# === 7-8. the rule at the concatenation and the model-randomisation check (issue 12) ===================
#
# Self-contained block: besides autograder.feedback / properties / choices it uses only this module's
# infrastructure (check, shipped, class_digits, random_model, variant_explain, _require_function,
# _student_call, _call_torch, _tensor, _fixed_case, _fmt_vec, _layer_tensors).

def reference_zplus_step(x_t, r, w4, R_a4):
    """z+ on Shallow's concatenation ``[x_t; r]`` (one denominator), split back into the two parts.

    ``z_k = sum_j x_j w_jk^+ + sum_j r_j w_jk^+``; ``R_j = a_j w_jk^+ R_k / z_k`` for both parts."""
    n = x_t.shape[-1]
    out = ref_lrp.zplus(torch.cat([x_t, r], -1), w4, R_a4)
    return out[..., :n], out[..., n:]


def _zplus_step_mistakes(x_t, r, w4, R_a4):
    """Typical wrong answers of the z+ step at Shallow's concatenation, with what each one does."""
    n = x_t.shape[-1]
    wx, wr = w4[:n], w4[n:]
    R_x, R_r = reference_zplus_step(x_t, r, w4, R_a4)
    zb = zbeta_zplus(torch.cat([x_t, r], -1), w4, R_a4, n, 0.0, 1.0)
    lrp0 = torch.cat([x_t, r], -1) * (ref_lrp.safe_divide(R_a4, torch.cat([x_t, r], -1) @ w4) @ w4.T)
    out = [
        (zb, "that is still z^beta on the pixels (the shallow_step above): z+ on the pixels uses only x_j w_jk+, "
             "no terms -l w_jk+ - h w_jk- for the box"),
        (torch.cat([ref_lrp.zplus(x_t, wx, R_a4), ref_lrp.zplus(r, wr, R_a4)], -1),
         "each part got its own denominator, so each receives all of R_k and the total doubles: one denominator "
         "z_k = sum_j x_j w_jk+ + sum_j r_j w_jk+ over both parts"),
        (torch.cat([ref_lrp.zplus(x_t, wx, R_a4), torch.zeros_like(r)], -1),
         "r_t got no relevance: it is part of layer 4's input [x_t; r_t] and takes its share r_j w_jk+ / z_k"),
        (torch.cat([R_x, torch.zeros_like(R_r)], -1),
         "you dropped the relevance of r_t: return it as the second part, it is what flows back in time"),
        (lrp0, "the weights are not clipped: z+ uses w+ = max(0, w) in the numerator and the denominator"),
        (torch.cat([x_t, r], -1) * (ref_lrp.safe_divide(R_a4, torch.cat([x_t, r], -1) @ w4.clamp(max=0))
                                    @ w4.clamp(max=0).T),
         "the sign is flipped: you used w- = min(0, w); z+ uses the positive part w+ = max(0, w)"),
    ]
    if r.shape[-1] == n:
        out.append((torch.cat([R_r, R_x], -1), "the two parts are swapped: the first x_t.shape[-1] entries belong "
                                               "to the pixels, the rest to r_t"))
    return out


def _concat_layers():
    def build(dims):
        B, n, m, k = dims
        return st.fixed_dictionaries({"x_t": arrays((B, n), 0.0, 1.0), "r": arrays((B, m), 0.0, 3.0),
                                      "w4": arrays((n + m, k), -2.0, 2.0), "R_a4": arrays((B, k), 0.0, 5.0)})

    return st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)).flatmap(build)


def _zplus_step_out(fn, x_t, r, w4, R_a4):
    """The student's ``(R_pixels, R_r)`` as float64 tensors, or a Violation saying what is off."""
    t = _layer_tensors(dict(x_t=x_t, r=r, w4=w4, R_a4=R_a4))
    out = _student_call("shallow_step_zplus", _call_torch, fn, t["x_t"], t["r"], t["w4"], t["R_a4"],
                        context=f"\nIt receives torch tensors x_t (B, n), r (B, {t['r'].shape[1]}), "
                                f"w4 (n + {t['r'].shape[1]}, K) and R_a4 (B, K).")
    B, n, m = t["x_t"].shape[0], t["x_t"].shape[1], t["r"].shape[1]
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise Violation(f"shallow_step_zplus should return the pair (R_pixels, R_r), like shallow_step; got "
                        f"{type(out).__name__}")
    R_x, R_r = _tensor(out[0], "R_pixels"), _tensor(out[1], "R_r")
    if tuple(R_x.shape) != (B, n) or tuple(R_r.shape) != (B, m):
        raise Violation(f"wrong split sizes: R_pixels {tuple(R_x.shape)} and R_r {tuple(R_r.shape)}; expected "
                        f"({B}, {n}) (one per pixel) and ({B}, {m}) (one per entry of r_t), pixels first")
    if not (torch.isfinite(R_x).all() and torch.isfinite(R_r).all()):
        raise Violation("NaN or infinity in the relevance: an output k with z_k = 0 must get s_k = 0 (safe_divide)")
    return t, torch.cat([R_x, R_r], -1)


def _shipped_last_step():
    """Layer 4's inputs at the middle step of the shipped Shallow-7 on one class-1 test digit (where the
    ink is), and the relevance R_a4 that f(x) sends to layer 4 through the head (z+)."""
    model = shipped("shallow")
    with torch.no_grad():
        trace = model.steps(class_digits()[:1])
        h = model.head(trace[-1]["a4"])
    R_h = torch.zeros_like(h).scatter(1, h.argmax(1, keepdim=True), h.max(1, keepdim=True).values)
    R_a4 = ref_lrp.zplus(trace[-1]["a4"], thesis_weight(model.head[-1]), R_h)
    step = trace[SEQ // 2]
    return {"x_t": step["x"].double().numpy(), "r": step["r"].double().numpy(),
            "w4": thesis_weight(model.combine).double().numpy(), "R_a4": R_a4.double().numpy()}


def _on_shipped_last_step(q, fn, props):
    """The properties on the real case first; a failure shows how much relevance each part got."""
    real = _shipped_last_step()
    n = real["x_t"].shape[-1]
    for name, prop in props.items():
        try:
            prop(**real)
        except NotImplementedError:
            raise CheckFailed(q, "the function is not implemented yet (it raises NotImplementedError)") from None
        except Violation as v:
            want = torch.cat(reference_zplus_step(**_layer_tensors(real)), -1)
            lines = [v.message, f"property '{name}' fails at layer 4 of the shipped Shallow-7, step {SEQ // 2} of one "
                                f"class-1 test digit (R_a4 = the relevance f(x) sends to layer 4, sum "
                                f"{real['R_a4'].sum():.4g}):",
                     f"  expected: sum R_pixels = {float(want[:, :n].sum()):.4g}, sum R_r = {float(want[:, n:].sum()):.4g}"]
            try:
                _, got = _zplus_step_out(fn, **real)
                lines.append(f"  yours:    sum R_pixels = {float(got[:, :n].sum()):.4g}, "
                             f"sum R_r = {float(got[:, n:].sum()):.4g}")
            except Violation:
                pass
            raise CheckFailed(q, "\n".join(lines)) from None


@check("z+ at Shallow's concatenation")
def shallow_step_zplus(fn, *, max_examples: int = 30):
    """``fn(x_t, r, w4, R_a4) -> (R_pixels, R_r)``: z+ on ``[x_t; r_t]`` with one denominator."""
    q = "z+ at Shallow's concatenation"
    _require_function(q, "shallow_step_zplus", fn, "shallow_step_zplus(x_t, r, w4, R_a4)")

    def diagnose(t, got):
        for variant, why in _zplus_step_mistakes(**t):
            if variant.shape == got.shape and torch.allclose(got, variant.double(), rtol=1e-5, atol=1e-7):
                return why
        return None

    def sizes(x_t, r, w4, R_a4):
        _zplus_step_out(fn, x_t, r, w4, R_a4)

    def positivity(x_t, r, w4, R_a4):
        t, got = _zplus_step_out(fn, x_t, r, w4, R_a4)
        if (got < -1e-9).any():
            raise Violation("negative relevance: pixels and r_t are >= 0 and z+ uses w+ >= 0, so every share is "
                            ">= 0" + (f". Likely: {diagnose(t, got)}" if diagnose(t, got) else ""),
                            expected=torch.cat(reference_zplus_step(**t), -1).numpy(), got=got.numpy())

    def conservation(x_t, r, w4, R_a4):
        t, got = _zplus_step_out(fn, x_t, r, w4, R_a4)
        z = torch.cat([t["x_t"], t["r"]], -1) @ t["w4"].clamp(min=0)
        want = torch.where(z > 0, t["R_a4"], 0.0).sum(-1)
        if not torch.allclose(got.sum(-1), want, rtol=1e-6, atol=1e-6):
            why = diagnose(t, got)
            raise Violation("relevance is not conserved: sum(R_pixels) + sum(R_r) must equal the relevance of the "
                            "outputs of layer 4 that have z_k > 0" + (f". Likely: {why}" if why else ""),
                            expected=want.numpy(), got=got.sum(-1).numpy())

    def agreement(x_t, r, w4, R_a4):
        t, got = _zplus_step_out(fn, x_t, r, w4, R_a4)
        want = torch.cat(reference_zplus_step(**t), -1)
        if not torch.allclose(got, want, rtol=1e-6, atol=1e-8):
            why = diagnose(t, got)
            raise Violation("(R_pixels, R_r) side by side differ from z+ on the concatenation [x_t; r_t]"
                            + (f": {why}" if why else ""), expected=want.numpy(), got=got.numpy())

    props = {"returns (R_pixels, R_r) of the right sizes": sizes, "positivity": positivity,
             "conservation": conservation, "agreement with z+ on [x_t; r_t]": agreement}
    _on_shipped_last_step(q, fn, props)
    return check_properties(q, props, _concat_layers(), max_examples=max_examples)


# --- the per-step profile of a model's explanation ----------------------------------------------------

PROFILE_DIGITS = 12


def _reference_profile(model, images, pixels="zbeta"):
    """``{"emd", "last"}`` of LRP through time (z^beta or z+ at Shallow's concatenation), and the shares."""
    P = step_distribution(variant_explain(model, images, pixels=pixels), model.seq_len)
    Q = step_distribution(images, model.seq_len)
    return {"emd": wasserstein_steps(P, Q), "last": float(P[-1])}, P, Q


def _profile_cases():
    images = class_digits()[:PROFILE_DIGITS]
    return [("the shipped Shallow-7", shipped("shallow"), images, "zbeta"),
            ("the shipped Shallow-7 with shallow_rule=<z+ at the concatenation>", shipped("shallow"), images, "zplus"),
            ("the shipped Deep-7", shipped("deep"), images, "zbeta"),
            ("Shallow-7 with random weights (seed 0)", random_model("shallow", SEQ, 0), images, "zbeta"),
            ("Deep-7 with random weights (seed 0)", random_model("deep", SEQ, 0), images, "zbeta")]


def _profile_guesses(model, images, pixels, P, Q):
    """Values a typical mistake gives for (emd, last), with its explanation."""
    heat = variant_explain(model, images, pixels=pixels)
    mean_P, mean_Q = _mean_of_shares(heat, model.seq_len), _mean_of_shares(images, model.seq_len)
    out = [((float((P - Q).abs().sum()), float(P[-1])),
            "emd: that is sum_t |P_t - Q_t|, without cumulative sums; the earth mover's distance is "
            "sum_t |cumsum(P)_t - cumsum(Q)_t|"),
           ((wasserstein_steps(P, Q), float(P[0])), "last: that is the share of the first step, P[0]; the last "
                                                    "step is P[-1]"),
           ((wasserstein_steps(mean_P, mean_Q), float(mean_P[-1])),
            "you averaged per-image shares; step_shares adds up the population first")]
    if pixels == "zplus":
        zb, _, _ = _reference_profile(model, images, "zbeta")
        out.append(((zb["emd"], zb["last"]), "these are the numbers of z^beta: your step_profile (or your "
                                             "explain_sequence) does not use the shallow_rule it is given"))
    return out


@check("the per-step profile of an explanation")
def step_profile(fn):
    """``fn(model, images, shallow_rule=...) -> {"emd": EMD(P, Q), "last": P[-1]}`` with P the relevance
    shares per step (LRP through time) and Q the pixel-intensity shares of the same images."""
    q = "the per-step profile of an explanation"
    _require_function(q, "step_profile", fn, "step_profile(model, images, shallow_rule=shallow_step)")
    for name, model, images, pixels in _profile_cases():
        where = f"{name} on {len(images)} class-1 test digits"
        args = (model, images.clone()) + ((reference_zplus_step,) if pixels == "zplus" else ())
        try:
            out = _student_call("step_profile", fn, *args)
        except NotImplementedError:
            raise CheckFailed(q, "the function is not implemented yet (it raises NotImplementedError)") from None
        except Violation as v:
            raise CheckFailed(q, f"{where}: {v.message}") from None
        if not isinstance(out, dict) or not {"emd", "last"} <= set(out):
            raise CheckFailed(q, f"{where}: expected a dict {{'emd': number, 'last': number}}, got "
                                 f"{type(out).__name__}" + (f" with keys {sorted(out)}" if isinstance(out, dict) else ""))
        try:
            got = tuple(float(_tensor(out[k], f"step_profile(...)['{k}']").reshape(-1)[0]) for k in ("emd", "last"))
        except (Violation, IndexError) as err:
            raise CheckFailed(q, f"{where}: {getattr(err, 'message', 'expected numbers')}") from None
        want, P, Q = _reference_profile(model, images, pixels)
        if np.allclose(got, (want["emd"], want["last"]), rtol=1e-3, atol=1e-4):
            continue
        for value, why in _profile_guesses(model, images, pixels, P, Q):
            if np.allclose(got, value, rtol=1e-3, atol=1e-4):
                raise CheckFailed(q, f"{where}: {why}")
        raise CheckFailed(q, f"{where}: expected emd = {want['emd']:.4g}, last = {want['last']:.4g}; yours "
                             f"emd = {got[0]:.4g}, last = {got[1]:.4g}.\n  relevance shares P = {_fmt_vec(P)}\n"
                             f"  pixel shares Q     = {_fmt_vec(Q)}\nP = step_shares(explain_sequence(model, "
                             f"images, shallow_rule), T), Q = step_shares(images, T); do the explain_sequence and "
                             f"step_shares checks pass?")
    return passed(q, "the shipped and random Shallow-7 / Deep-7, z^beta and z+ at Shallow's concatenation")


# --- what the two experiments say ---------------------------------------------------------------------

RULE_STATEMENTS = {
    "A": (True, "with z+ at the concatenation almost all of f(x) flows into r_7 and Shallow-7's per-step shares "
                "follow the ink (a small EMD, almost nothing on the last step): the 'last-step heavy' picture came "
                "from the rule."),
    "B": (False, "pixels are >= 0, so z+ (root point in the positive orthant) is a valid Deep Taylor rule for them; "
                 "z^beta uses the extra knowledge that pixels are <= 1 as well. Which one to use is a choice."),
    "C": (False, "a rule only changes how relevance is sent back: the model, its scores h and f(x) are the same, "
                 "and both heatmaps sum to f(x)."),
    "D": (True, "with l = 0, h = 1 the z^beta contribution of a pixel is x_j w_jk+ + (1 - x_j)|w_jk-|: every blank "
                "pixel under a negative weight takes a share of R_k at every step, so less is left for r_t."),
    "E": (True, "Deep's layer 4 sees ReLU features and r_t and uses z+; Shallow's sees pixels and r_t and used "
                "z^beta: at the layer that decides how much relevance flows back in time the two cells were not "
                "explained with the same rule."),
    "F": (False, "one admissible change of rule reverses the ranking of the cells, so neither ranking alone says "
                 "which cell is more explainable: the conclusion depends on the rule."),
}


@check("what changes with the rule at the concatenation")
def rule_swap(answer):
    """Multiple select over ``RULE_STATEMENTS``: answer {'A', 'D', 'E'}."""
    q = "what changes with the rule at the concatenation"
    got = choices.chosen(q, "mc_rule", answer, RULE_STATEMENTS)
    want = {k for k, (truth, _) in RULE_STATEMENTS.items() if truth}
    return choices.judge(q, got, want, {k: text for k, (_, text) in RULE_STATEMENTS.items()})


SANITY_STATEMENTS = {
    "A": (True, "the untrained Shallow-7 already puts much of its relevance on the last steps and the untrained "
                "Deep-7 already spreads it: the difference is there before any training."),
    "B": (False, "a difference that survives randomising the weights cannot show what training produced: the "
                 "model-randomisation test fails for this claim, it does not confirm it."),
    "C": (True, "a property of the explanations that is the same for trained and random weights reflects the "
                "architecture and the rule, not what the model learned (Adebayo et al. 2018)."),
    "D": (False, "that the random models know nothing is the point of the control: an explanation method that "
                 "describes what a model learned must give a different picture for them."),
    "E": (True, "so 'Deep cells spread relevance over the sequence, Shallow cells pile it on the last steps' is "
                "not confirmed as a property of the trained cells."),
}


@check("what the model-randomisation test says")
def sanity(answer):
    """Multiple select over ``SANITY_STATEMENTS``: answer {'A', 'C', 'E'}."""
    q = "what the model-randomisation test says"
    got = choices.chosen(q, "mc_sanity", answer, SANITY_STATEMENTS)
    want = {k for k, (truth, _) in SANITY_STATEMENTS.items() if truth}
    return choices.judge(q, got, want, {k: text for k, (_, text) in SANITY_STATEMENTS.items()})
