"""LRP through the recurrent cells (thesis Sec. 4.4): the z+ rule in torch (the shared
:data:`autograder.lrp_rules.ZPLUS` checker), one time step (z+ on ``[a_features; r]``, split back), the recurrent
layer 5, and the explanation through time against ``reference.thesis.explain.explain`` on the shipped models and
on random cells of several sequence lengths, with a catalogue of mistaken variants (relevance not passed back
through layer 5, chunks in reversed order, the recurrent layer applied to the wrong step, z+ on pixels, all
classes explained at once)."""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st

from reference import lrp as ref_lrp
from reference.propagation import thesis_weight
from reference.thesis.explain import explain as ref_explain
from reference.thesis.explain import zbeta_zplus

from ... import lrp_rules
from ...feedback import CheckFailed, passed
from ...properties import Violation, arrays, check_properties
from ...question import Diagnosis, call, question
from .models import (
    RECURRENT,
    SEQ,
    _fixed_case,
    _fmt_vec,
    _tensor,
    random_model,
    shipped,
    test_digits,
)

# === 3. LRP through one step =======================================================================

def _layer_tensors(ex):
    return {k: torch.as_tensor(v, dtype=torch.float64) for k, v in ex.items()}


@question("z+ rule in torch", answers="zplus",
          hint="the z+ rule in torch: w.clamp(min=0), a division only where z > 0, and no in-place operation on "
               "the arguments")
def zplus(ask, fn, *, max_examples: int = 30):
    """``fn(a, w, R)`` with torch tensors in the thesis orientation: a (B, J) >= 0, w (J, K), R (B, K); checked by
    the shared z+ checker (:mod:`autograder.lrp_rules`) on float64 tensors."""
    ask.function(fn, "zplus", "zplus(a, w, R)")
    return lrp_rules.check_rule(ask.title, lrp_rules.ZPLUS, fn, max_examples=max_examples, backend="torch")


def _step_layers():
    def build(dims):
        B, nf, nr, k = dims
        return st.fixed_dictionaries({"a_features": arrays((B, nf), 0.0, 5.0), "r": arrays((B, nr), 0.0, 5.0),
                                      "w4": arrays((nf + nr, k), -2.0, 2.0), "R_a4": arrays((B, k), 0.0, 5.0)})

    return st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)).flatmap(build)


def _reference_step(a_features, r, w4, R_a4):
    """z+ on the concatenation ``[a_features; r]``, split back into the two parts."""
    a = np.concatenate([a_features, r], -1)
    out = ref_lrp.zplus(a, w4, R_a4)
    n = a_features.shape[-1]
    return out[..., :n], out[..., n:]


def _step_mistakes(a_features, r, w4, R_a4):
    n = a_features.shape[-1]
    both = np.concatenate(_reference_step(a_features, r, w4, R_a4), -1)
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


def _step_probes():
    """Fixed readable layers with both parts of equal size (so that swapped parts are told apart)."""
    rng = np.random.default_rng(7)
    return [(np.round(rng.uniform(0.0, 2.0, (2, 3)), 1), np.round(rng.uniform(0.2, 2.0, (2, 3)), 1),
             np.round(rng.normal(size=(6, 4)), 1), np.round(rng.uniform(0.5, 2.0, (2, 4)), 1))]


def _step_diagnosis(fn):
    """The likely mistake of ``lrp_step``, decided on :func:`_step_probes`, not on a shrunk counterexample."""
    whys = [why for _, why in _step_mistakes(*_step_probes()[0])]
    mistakes = [(why, lambda *args, i=i: _step_mistakes(*args)[i][0]) for i, why in enumerate(whys)]
    return Diagnosis(fn, mistakes, _step_probes(),
                     convert=lambda args: tuple(torch.as_tensor(x, dtype=torch.float64) for x in args),
                     read=lambda out: np.concatenate([_tensor(v, "R").numpy() for v in out], -1))


def _step_out(fn, a_features, r, w4, R_a4):
    t = _layer_tensors(dict(a_features=a_features, r=r, w4=w4, R_a4=R_a4))
    out = call(fn, t["a_features"], t["r"], t["w4"], t["R_a4"], name="lrp_step",
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


@question("LRP through one time step", answers="lrp_step",
          hint="z+ on the concatenation [a_features; r] with layer 4's weights, then split the result back into its two parts")
def lrp_step(ask, fn, *, max_examples: int = 30):
    """``fn(a_features, r, w4, R_a4) -> (R_features, R_r)``: z+ on the concatenation ``[a_features; r]``."""
    q = ask.title
    ask.function(fn, "lrp_step", "lrp_step(a_features, r, w4, R_a4)")

    diagnosis = _step_diagnosis(fn)

    def diagnose(got, ex):
        return diagnosis.hint() or None

    def split_sizes(a_features, r, w4, R_a4):
        _step_out(fn, a_features, r, w4, R_a4)

    def positivity(a_features, r, w4, R_a4):
        R_f, R_r = _step_out(fn, a_features, r, w4, R_a4)
        if (R_f < -1e-9).any() or (R_r < -1e-9).any():
            raise Violation("negative relevance: every input of layer 4 is a ReLU output (>= 0) and z+ uses w+ >= 0",
                            expected=np.concatenate(_reference_step(a_features, r, w4, R_a4), -1),
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
        want = np.concatenate(_reference_step(a_features, r, w4, R_a4), -1)
        got = np.concatenate([R_f, R_r], -1)
        if not np.allclose(got, want, rtol=1e-6, atol=1e-8):
            why = diagnose(got, dict(a_features=a_features, r=r, w4=w4, R_a4=R_a4))
            raise Violation("(R_features, R_r) side by side differ from z+ on the concatenation [a_features; r]"
                            + (f": {why}" if why else ""), expected=want, got=got)

    props = {"returns (R_features, R_r) of the right sizes": split_sizes, "positivity": positivity,
             "conservation": conservation, "agreement with z+ on [a_features; r]": agreement}
    return check_properties(q, props, _step_layers(), max_examples=max_examples)


# --- the recurrent layer ---------------------------------------------------------------------------

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


@question("LRP through the recurrent layer 5", answers="lrp_recurrent",
          hint="z+ through layer 5 in the thesis orientation: the weight from a4 (J units) to r (K units) has shape (J, K)")
def lrp_recurrent(ask, fn):
    """``fn(model, a4_prev, R_r) -> R_a4_prev``: z+ through layer 5 in the thesis orientation."""
    q = ask.title
    ask.function(fn, "lrp_recurrent", "lrp_recurrent(model, a4_prev, R_r)")
    for name, model, t, a4_prev, R_r in _recurrent_cases():
        where = f"{name}, from r_{t} back to a4_{t - 1}"
        try:
            got = _tensor(call(fn, model, a4_prev, R_r, name="lrp_recurrent"), "lrp_recurrent(model, a4_prev, R_r)")
        except Violation as v:
            hint = ""
            if "raised" in v.message and ("shape" in v.message or "size" in v.message):
                J, K = model.recur.in_features, model.recur.out_features
                hint = (f"\ntorch's nn.Linear stores W5 as (out, in) = ({K}, {J}); the thesis's w5 goes from a4 "
                        f"(j, {J} units) to r (k, {K} units) and has shape (J, K) = ({J}, {K}): use "
                        f"model.recur.weight.T")
            raise CheckFailed(q, f"{where}: {v.message}{hint}") from None
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

def _variant_explain(model, images, *, recurrent=True, reverse=False, rows=False, pixels="zbeta", target="max",
                    shift=False):
    """LRP through time like ``reference.thesis.explain.explain``, optionally with one typical mistake.
    ``pixels``: "zbeta" or "zplus" for the layer that sees the pixels, or a rule ``(x_t, r, w4, R_a4) ->
    (R_x, R_r)`` for Shallow's layer 4."""
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
        if shallow and callable(pixels):   # a rule handed to the student's function: (x_t, r, w4, R) -> parts
            R_f, R_r = pixels(s["features"], s["r"], w4, R)
        else:
            R_in = zbeta_zplus(inp, w4, R, n, 0.0, 1.0) if shallow and pixels == "zbeta" else ref_lrp.zplus(inp, w4, R)
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
    out = call(fn, model, images, name="explain_sequence",
               context=f"\n(on a {model.cell.capitalize()} cell with model.seq_len = {model.seq_len}, "
                       f"model.width = {model.width}, images of shape {tuple(images.shape)})")
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
            v = _variant_explain(model, images, **flags).double()
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


@question("LRP through the whole sequence", answers="explain_sequence",
          hint="start from the winning score alone, go back through the head, then loop over the steps backwards: split at layer 4, explain the chunk, send r's share through layer 5 to the step before")
def explain_sequence(ask, fn, *, thorough: bool = False):
    """``fn(model, images) -> (B, 28, 28)``: on the shipped Deep-7 and Shallow-7 and on random cells
    (SEQ = 4, 7, 14) against ``reference.thesis.explain.explain``."""
    q = ask.title
    ask.function(fn, "explain_sequence", "explain_sequence(model, images)")
    props = _explain_properties(fn)
    images = test_digits()[0][[0, 1, 2, 5, 14] if thorough else [2, 5, 14]]
    for cell in ("deep", "shallow"):
        name = f"the shipped {cell.capitalize()}-7 on {len(images)} test digits"
        for prop_name, prop in props.items():
            _fixed_case(q, prop, {"model": shipped(cell), "images": images, "name": name}, [f"property '{prop_name}'"])
    generated = {name: _on_generated(prop) for name, prop in props.items()}
    return check_properties(q, generated, _generated_cases(thorough), max_examples=12 if thorough else 6)


