"""The Deep cell (thesis Sec. 4.3.2, Fig. 4.6): the chunks x_t of Table 4.1, the parameter count of Table 4.3 part
by part (layer 1', layer 4 on ``[a1; r_t]``, layer 5, the head), and the forward pass against the shipped Deep-7
checkpoint (its weights copied into the student's layers), with a catalogue of typical mistakes (row-wise chunks,
``[r_t; a1]``, ``r`` not carried, a missing ReLU)."""
from __future__ import annotations

import numpy as np
import torch

from reference.thesis import TABLE_4_3

from ...feedback import CheckFailed, passed
from ...question import question
from . import probe
from .models import RECURRENT, SEQ, WIDTHS, _fmt_vec, shipped, test_digits
from .probe import PARTS

# === 1. x_t for each sequence length (Table 4.1) ====================================================

@question("x_t for each sequence length (Table 4.1)", answers="xt_shape",
          hint="the image is cut column-wise into SEQ chunks of equal width: how many rows and columns does one chunk keep?")
def xt_shapes(ask, answer):
    """``{1: (28, 28), 4: (28, 7), 7: (28, 4), 14: (28, 2)}``."""
    q = ask.title
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

LABELS = {"features": ["layer 1'"], "combine": ["layer 4"], "recur": ["layer 5"],
          "head": ["layer 4'", "the output layer 6"]}


def _expected_layers(seq: int) -> dict:
    """(in, out) of the weighted layers of each part of the Deep cell for ``seq`` (Fig. 4.6)."""
    D = 28 * WIDTHS[seq]
    return {"features": [(D, 512)], "combine": [(512 + RECURRENT, 256)], "recur": [(256, RECURRENT)],
            "head": [(256, 64), (64, 10)]}


def _layer_issues(part, got, want, seq):
    """Readable differences between the student's layers of ``part`` (as :mod:`.probe` describes them) and the
    expected ones."""
    issues = []
    labels = LABELS[part]
    shapes = [(m["shape"][1], m["shape"][0]) for m in got]
    if len(got) != len(want):
        listed = ", ".join(f"{i} -> {o}" for i, o in shapes) or "none"
        wanted = ", ".join(f"{i} -> {o}" for i, o in want)
        issues.append(f"`{part}` should hold {len(want)} weighted layer(s) ({' and '.join(labels)}: {wanted}); "
                      f"yours has {len(got)} ({listed})")
        return issues
    D = 28 * WIDTHS[seq]
    for m, (i_want, o_want), label in zip(got, want, labels):
        o_got, i_got = m["shape"]
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
        if m["bias"] is None:
            issues.append(f"{label} has no bias: every layer of the thesis has the bias -softplus(b) "
                          f"(use NegBiasLinear, or nn.Linear with its bias)")
        elif m["bias"][1] != o_got:
            issues.append(f"{label}'s bias `{m['bias'][0]}` has {m['bias'][1]} entries, expected one per unit ({o_got})")
    return issues


def _breakdown(seq):
    D = 28 * WIDTHS[seq]
    rows = [("layer 1'", D, 512), ("layer 4 on [a1; r_t]", 512 + RECURRENT, 256), ("layer 5", 256, RECURRENT),
            ("layer 4'", 256, 64), ("output layer 6", 64, 10)]
    lines = [f"  {name:<22} {i:>4} x {o:<4} + {o:<4} = {i * o + o:>7}" for name, i, o in rows]
    return "Table 4.3, part by part:\n" + "\n".join(lines) + f"\n  {'total':<22} {'':>23}{TABLE_4_3['deep'][seq]:>7}"


def structure_issues(described: dict, seq=SEQ):
    """Differences between the parts of a model (as :func:`.probe.describe` gives them) and the Deep cell (empty
    when the layers are right)."""
    missing = [p for p in PARTS if described["parts"][p] is None]
    if missing:
        return [f"your model has no part named {', '.join(f'`{m}`' for m in missing)}: keep the thesis's four "
                f"parts as attributes: self.features (layer 1'), self.combine (layer 4), self.recur (layer 5), "
                f"self.head (layers 4' and 6)"]
    want = _expected_layers(seq)
    issues = []
    for part in PARTS:
        issues += _layer_issues(part, described["parts"][part]["layers"], want[part], seq)
    return issues


@question("Deep cell: parameters (Table 4.3)", answers="DeepRNN",
          hint="count each layer of Fig. 4.6 as inputs x units + units (its bias); layer 4 reads the concatenation "
               "[a1; r_t]")
def deep_cell_parameters(ask, DeepRNN, seq_lens=(SEQ,)):
    """``DeepRNN(seq_len=7)`` has 271946 trainable parameters (and 314954 / 243274 for SEQ = 4 / 14)."""
    q = ask.title
    for seq in seq_lens:
        model = probe.describe(DeepRNN, seq)
        if model.get("failed"):
            raise CheckFailed(q, model["failed"])
        got, want = model["parameters"], TABLE_4_3["deep"][seq]
        issues = structure_issues(model, seq)
        if got == want and not issues:
            continue
        lines = [f"your Deep-{seq} cell has {got} trainable parameters; Table 4.3 says {want}"
                 + (f" (difference {got - want:+d})" if got != want else "")]
        if got == want:
            lines[0] += ", but its layers are not the thesis's"
        lines += ["- " + s for s in issues]
        inside = sum(p["count"] for p in model["parts"].values() if p is not None)
        if got != inside and not any("no part named" in s for s in issues):
            lines.append(f"- {got - inside} parameters sit outside the four parts features, combine, recur, head")
        lines.append(_breakdown(seq))
        raise CheckFailed(q, "\n".join(lines))
    what = ", ".join(f"Deep-{s}: {TABLE_4_3['deep'][s]}" for s in seq_lens)
    return passed(q, f"{what}, layer by layer as in Fig. 4.6")


# --- the forward pass against the shipped Deep-7 ------------------------------------------------

def _variant_forward(ref, images, *, columns=True, flatten_rows=True, order="fr", carry=True, relu_r=True,
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


def _scores(q, run: dict, images, n_images) -> torch.Tensor:
    """The scores of one run of :func:`.probe.run_with_weights`, or the failed check that says why there are none."""
    if run.get("not_implemented"):
        raise CheckFailed(q, "forward is not written yet (it raises NotImplementedError)")
    if "raised" in run:
        raise CheckFailed(q, f"model(images) with images of shape {tuple(images.shape)} (B, 28, 28) raised "
                             f"{run['raised']}")
    if "returned" in run:
        raise CheckFailed(q, f"forward should return the raw scores h as a tensor (B, 10), got {run['returned']}")
    out = run["scores"].to(images.dtype)
    if tuple(out.shape) != (n_images, 10):
        raise CheckFailed(q, f"forward returned shape {tuple(out.shape)} for {n_images} images; expected (B, 10) = "
                             f"({n_images}, 10): the head's output at the last step")
    return out


@question("Deep cell: forward pass (shipped Deep-7)", answers="DeepRNN",
          hint="per step: cut chunk t, flatten it row by row, layer 1', concatenate [a1; r_t], layer 4, then layer 5 gives the next r; the head reads the last step's a4")
def deep_cell_forward(ask, DeepRNN, n_images: int = 12):
    """Copy the shipped Deep-7 weights into ``DeepRNN()`` and compare the raw scores h on test digits."""
    q = ask.title
    ref = shipped("deep")
    images = test_digits()[0][:n_images].clone()
    run = probe.run_with_weights(DeepRNN, ref, images)
    if run.get("failed"):
        raise CheckFailed(q, run["failed"])
    issues = structure_issues(run)
    if issues or "transfer" in run:
        raise CheckFailed(q, "fix the layers first (see the parameter check above):\n- "
                             + "\n- ".join(issues or [f"the shipped weights do not fit them: {run['transfer']}"]))
    want = ref(images).detach()
    out = _scores(q, run["eval"], images, n_images)
    if not torch.allclose(out, _scores(q, run["again"], images, n_images)):
        raise CheckFailed(q, "in eval mode your forward pass gives different results on the same images: use "
                             "nn.Dropout modules (model.eval() switches them off), not F.dropout(..., training=True)")
    if not torch.allclose(out, want, rtol=1e-4, atol=1e-4):
        for flags, why in FORWARD_MISTAKES:
            if torch.allclose(out, _variant_forward(ref, images, **flags), rtol=1e-4, atol=1e-4):
                raise CheckFailed(q, f"with the shipped Deep-7 weights your scores differ from the model's: {why}")
        k = int((out - want).abs().amax(1).argmax())
        raise CheckFailed(q, f"with the shipped Deep-7 weights copied into your layers, your scores h differ on test "
                             f"digit {k}:\n  expected {_fmt_vec(want[k], 10)}\n  yours    {_fmt_vec(out[k], 10)}\n"
                             f"Per step: x_t = columns t*w..(t+1)*w flattened row by row, a1 = relu(layer1'(x_t)), "
                             f"a4 = relu(layer4([a1; r_t])), r_(t+1) = relu(layer5(a4)) with r_0 = 0; "
                             f"h = head(a4) at the last step.")
    if torch.allclose(_scores(q, run["train"], images, n_images), out):
        raise CheckFailed(q, "in training mode your model gives the same scores as in eval mode: the Deep cell "
                             "applies dropout 0.5 to a1 (after layer 1') and to a4_T before the head (nn.Dropout(0.5))")
    return passed(q, f"the shipped Deep-7 weights give the model's scores on {n_images} test digits")


