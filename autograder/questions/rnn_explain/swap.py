"""The rule at Shallow's concatenation and the model-randomisation check (issue 12): z+ instead of z^beta
where the pixels meet r_t, the per-step profile (EMD, last-step share) of a model's explanation under either
rule, trained and with random weights, and what the two experiments say (multiple choice)."""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st

from reference import lrp as ref_lrp
from reference.propagation import thesis_weight
from reference.thesis.explain import step_distribution, wasserstein_steps, zbeta_zplus
from reference.torch_functions import InputShare

from ...choices import Choices
from ...feedback import CheckFailed, passed
from ...properties import Violation, arrays, check_properties
from ...question import call, multiple_choice, question
from .lrp import _layer_tensors, _variant_explain
from .models import SEQ, _fmt_vec, _mean_of_shares, _tensor, class_digits, random_model, shipped


def _reference_zplus_step(x_t, r, w4, R_a4):
    """z+ on Shallow's concatenation ``[x_t; r]`` (one denominator), split back into the two parts.

    ``z_k = sum_j x_j w_jk^+ + sum_j r_j w_jk^+``; ``R_j = a_j w_jk^+ R_k / z_k`` for both parts."""
    n = x_t.shape[-1]
    out = ref_lrp.zplus(torch.cat([x_t, r], -1), w4, R_a4)
    return out[..., :n], out[..., n:]


def _zplus_step_mistakes(x_t, r, w4, R_a4):
    """Typical wrong answers of the z+ step at Shallow's concatenation, with what each one does."""
    n = x_t.shape[-1]
    wx, wr = w4[:n], w4[n:]
    R_x, R_r = _reference_zplus_step(x_t, r, w4, R_a4)
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
    out = call(fn, t["x_t"], t["r"], t["w4"], t["R_a4"], name="shallow_step_zplus",
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
            want = torch.cat(_reference_zplus_step(**_layer_tensors(real)), -1)
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


@question("z+ at Shallow's concatenation", answers="shallow_step_zplus",
          hint="z+ does not care that the first inputs are pixels: one denominator over [x_t; r_t], w.clamp(min=0)")
def shallow_step_zplus(ask, fn, *, max_examples: int = 30):
    """``fn(x_t, r, w4, R_a4) -> (R_pixels, R_r)``: z+ on ``[x_t; r_t]`` with one denominator."""
    q = ask.title
    ask.function(fn, "shallow_step_zplus", "shallow_step_zplus(x_t, r, w4, R_a4)")

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
                            expected=torch.cat(_reference_zplus_step(**t), -1).numpy(), got=got.numpy())

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
        want = torch.cat(_reference_zplus_step(**t), -1)
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
    P = step_distribution(_variant_explain(model, images, pixels=pixels), model.seq_len)
    Q = step_distribution(images, model.seq_len)
    return {"emd": wasserstein_steps(P, Q), "last": float(P[-1])}, P, Q


def _profile_cases():
    images = class_digits()[:PROFILE_DIGITS]
    return [("the shipped Shallow-7", shipped("shallow"), images, "zbeta"),
            ("the shipped Shallow-7 with shallow_rule=<another rule: each input a_j gets a_j / sum a of R>",
             shipped("shallow"), images, InputShare()),
            ("the shipped Deep-7", shipped("deep"), images, "zbeta"),
            ("Shallow-7 with random weights (seed 0)", random_model("shallow", SEQ, 0), images, "zbeta"),
            ("Deep-7 with random weights (seed 0)", random_model("deep", SEQ, 0), images, "zbeta")]


def _profile_guesses(model, images, pixels, P, Q):
    """Values a typical mistake gives for (emd, last), with its explanation."""
    heat = _variant_explain(model, images, pixels=pixels)
    mean_P, mean_Q = _mean_of_shares(heat, model.seq_len), _mean_of_shares(images, model.seq_len)
    out = [((float((P - Q).abs().sum()), float(P[-1])),
            "emd: that is sum_t |P_t - Q_t|, without cumulative sums; the earth mover's distance is "
            "sum_t |cumsum(P)_t - cumsum(Q)_t|"),
           ((wasserstein_steps(P, Q), float(P[0])), "last: that is the share of the first step, P[0]; the last "
                                                    "step is P[-1]"),
           ((wasserstein_steps(mean_P, mean_Q), float(mean_P[-1])),
            "you averaged per-image shares; step_shares adds up the population first")]
    if pixels != "zbeta":
        zb, _, _ = _reference_profile(model, images, "zbeta")
        out.append(((zb["emd"], zb["last"]), "these are the numbers of z^beta: your step_profile (or your "
                                             "explain_sequence) does not use the shallow_rule it is given"))
    return out


@question("the per-step profile of an explanation", answers="step_profile",
          hint="P = step_shares(explain_sequence(model, images, shallow_rule), T), Q = step_shares(images, T); "
               "then the EMD of Q2 and the last entry of P")
def step_profile(ask, fn):
    """``fn(model, images, shallow_rule=...) -> {"emd": EMD(P, Q), "last": P[-1]}`` with P the relevance
    shares per step (LRP through time) and Q the pixel-intensity shares of the same images."""
    q = ask.title
    ask.function(fn, "step_profile", "step_profile(model, images, shallow_rule=shallow_step)")
    for name, model, images, pixels in _profile_cases():
        where = f"{name} on {len(images)} class-1 test digits"
        args = (model, images.clone()) + ((pixels,) if callable(pixels) else ())
        try:
            out = call(fn, *args, name="step_profile")
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
    return passed(q, "the shipped and random Shallow-7 / Deep-7, and the shallow_rule it is given")


# --- what the two experiments say ---------------------------------------------------------------------

_RULE_STATEMENTS = Choices({
    "A": (r"With $z^+$ at the concatenation almost all of $f(\boldsymbol x)$ reaches $\boldsymbol r_{T-1}$ and "
          "Shallow-7's relevance per step follows the ink: the \"last-step heavy\" picture came from the rule.",
          True, "with z+ at the concatenation almost all of f(x) flows into r_7 and Shallow-7's per-step shares "
                "follow the ink (a small EMD, almost nothing on the last step): the 'last-step heavy' picture "
                "came from the rule."),
    "B": (r"$z^+$ is not allowed on pixels: only $z^\beta$ is a valid Deep Taylor rule for the input layer.",
          False, "pixels are >= 0, so z+ (root point in the positive orthant) is a valid Deep Taylor rule for "
                 "them; z^beta uses the extra knowledge that pixels are <= 1 as well. Which one to use is a "
                 "choice."),
    "C": ("Swapping the rule changed Shallow-7's scores, so the two explanations explain different models.",
          False, "a rule only changes how relevance is sent back: the model, its scores h and f(x) are the same, "
                 "and both heatmaps sum to f(x)."),
    "D": (r"Under $z^\beta$, blank pixels under negative weights take a share of every $R_k$ at every step, so "
          r"less relevance flows into $\boldsymbol r_t$.",
          True, "with l = 0, h = 1 the z^beta contribution of a pixel is x_j w_jk+ + (1 - x_j)|w_jk-|: every "
                "blank pixel under a negative weight takes a share of R_k at every step, so less is left for r_t."),
    "E": (r"At the layer where the step's input meets $\boldsymbol r_t$, Deep was explained with $z^+$ and Shallow "
          r"with $z^\beta$: the comparison of section 6 changed two things at once, the cell and the rule.",
          True, "Deep's layer 4 sees ReLU features and r_t and uses z+; Shallow's sees pixels and r_t and used "
                "z^beta: at the layer that decides how much relevance flows back in time the two cells were not "
                "explained with the same rule."),
    "F": ("The $z^+$ result shows that Shallow cells are more explainable than Deep cells.",
          False, "one admissible change of rule reverses the ranking of the cells, so neither ranking alone says "
                 "which cell is more explainable: the conclusion depends on the rule."),
})


@multiple_choice("what changes with the rule at the concatenation", answers="mc_rule",
                 hint="compare the two rows of Shallow-7 in the table above, and what z^beta does with a blank pixel",
                 choices=_RULE_STATEMENTS)
def rule_swap(answer):
    """Multiple select over the rule statements."""


_SANITY_STATEMENTS = Choices({
    "A": ("The untrained Shallow-7 already puts much of its relevance on the last steps and the untrained Deep-7 "
          "already spreads it: the difference is there before any training.",
          True, "the untrained Shallow-7 already puts much of its relevance on the last steps and the untrained "
                "Deep-7 already spreads it: the difference is there before any training."),
    "B": ("The test confirms the thesis: the two trained cells learned to use time differently.",
          False, "a difference that survives randomising the weights cannot show what training produced: the "
                 "model-randomisation test fails for this claim, it does not confirm it."),
    "C": ("A property of the explanations that is the same for trained and random weights reflects the "
          "architecture and the rule, not what the model learned.",
          True, "a property of the explanations that is the same for trained and random weights reflects the "
                "architecture and the rule, not what the model learned (Adebayo et al. 2018)."),
    "D": ("The random models predict at chance, so their explanations are meaningless and the test says nothing "
          "about the trained ones.",
          False, "that the random models know nothing is the point of the control: an explanation method that "
                 "describes what a model learned must give a different picture for them."),
    "E": ('So "Deep cells spread relevance over the sequence, Shallow cells pile it on the last steps" is not '
          "confirmed as a property of the trained cells.",
          True, "so 'Deep cells spread relevance over the sequence, Shallow cells pile it on the last steps' is "
                "not confirmed as a property of the trained cells."),
})


@multiple_choice("what the model-randomisation test says", answers="mc_sanity",
                 hint="which of the per-step statistics change when the weights are random?",
                 choices=_SANITY_STATEMENTS)
def sanity(answer):
    """Multiple select over the sanity statements."""
