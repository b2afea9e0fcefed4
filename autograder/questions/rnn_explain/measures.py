"""Where the relevance goes (thesis Fig. 4.7-4.9): the share of each time step, the earth mover's distance between
relevance and pixel intensity per step for the shipped Shallow-7 and Deep-7 on the class-1 test digits, and the
interpretation (multiple choice)."""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st

from reference.thesis.explain import step_distribution, wasserstein_steps

from ...choices import Choices
from ...feedback import CheckFailed, passed
from ...properties import Violation, arrays, check_properties
from ...question import call, multiple_choice, number, question
from .models import (
    _fixed_case,
    _fmt_vec,
    _mean_of_shares,
    _reference_class_measures,
    _tensor,
)

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


@question("relevance per time step", answers="step_shares",
          hint="add up the values of the whole population per chunk of columns, then divide by the total")
def step_shares(ask, fn, *, max_examples: int = 25):
    """``fn(values, seq_len) -> (seq_len,)``: the share of the (positive) total of a population in each chunk."""
    q = ask.title
    ask.function(fn, "step_shares", "step_shares(values, seq_len)")

    def shares(columns, seq_len, rows):
        values = _images_from(columns, rows)
        out = call(fn, values, seq_len, name="step_shares")
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


@question("earth mover's distance to the pixel distribution", answers="emd",
          hint="use your step_shares on the class-1 heatmaps and on the images; the distance in steps adds up the absolute differences of the cumulative shares")
def emd(ask, answer, *, tol: float = 0.01):
    """``{"shallow": EMD, "deep": EMD}`` between relevance and pixel-intensity shares per step, class 1."""
    q = ask.title
    if not isinstance(answer, dict) or set(answer) != {"shallow", "deep"}:
        raise CheckFailed(q, "expected a dict {'shallow': number, 'deep': number}")
    m = _reference_class_measures()
    for cell in ("shallow", "deep"):
        got = number(answer[cell], f"emd['{cell}']")
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

# The explanations quote the shipped models' shares of the last step, computed when an answer is wrong.
LAST_STEPS_OPTIONS = Choices({
    "A": ("Shallow-7", True, "Shallow-7 piles the class-1 relevance on the last step, where a 1 has almost no ink"),
    "B": ("Deep-7", False, "Deep-7 puts {deep:.1%} of the class-1 relevance on the last step; look at your per-step "
                           "plot again"),
    "C": ("both", False, "look at the last step in your per-step plot: Deep-7 puts only {deep:.1%} there"),
    "D": ("neither", False, "one of them puts {most:.0%} of the class-1 relevance on the last step, where a 1 has "
                            "almost no ink"),
}, one=True)


def _last_step_shares() -> dict:
    m = _reference_class_measures()
    deep, shallow = float(m["deep"][-1]), float(m["shallow"][-1])
    return {"deep": deep, "shallow": shallow, "most": max(deep, shallow)}


@multiple_choice("which model piles relevance on the last steps", answers="mc_last_steps",
                 hint="look at the last step in your per-step plot of the two models",
                 choices=LAST_STEPS_OPTIONS, facts=_last_step_shares)
def last_steps_model(answer):
    """Single choice over ``LAST_STEPS_OPTIONS``."""


_STATEMENTS = Choices({
    "A": (r"In Deep, layer 4 splits the relevance of $\boldsymbol a^{(4)}_t$ between $\boldsymbol a^{(1)}_t$ and "
          r"$\boldsymbol r_t$; the share of $\boldsymbol r_t$ goes through layer 5 to $\boldsymbol a^{(4)}_{t-1}$ "
          "and on to the earlier chunks.",
          True, "in Deep, layer 4 splits the relevance of a4_t between a1 and r_t; r_t's share goes through layer "
                "5 to a4_(t-1) and on to the earlier chunks: that is the path your loop follows."),
    "B": ("Shallow has no recurrent connection, so none of its relevance can reach the earlier chunks.",
          False, "Shallow has the recurrent layer 5 too (Fig. 4.4a), and some relevance does reach the earlier "
                 "chunks: look at Shallow's shares of steps 5 and 6."),
    "C": (r"Both explanations conserve relevance: each heatmap sums to $f(\boldsymbol x)$; the two models differ "
          "in where the relevance goes, not in how much there is.",
          True, "z+ and z^beta conserve relevance at every layer and step: both heatmaps sum to f(x); the models "
                "differ in where the relevance goes."),
    "D": ("Deep's relevance sits mostly on the last chunk, because the decision is taken at the last step.",
          False, "Deep's class-1 relevance follows the ink, which lies in the middle chunks, not in the last one."),
    "E": ("For class 1, Deep's relevance per step follows the pixel-intensity distribution (a small EMD); "
          "Shallow's does not.",
          True, "compare the earth mover's distances: Deep-7's per-step shares follow the pixel-intensity shares, "
                "Shallow-7's do not."),
    "F": ("The difference between the heatmaps is explained by a difference in test accuracy.",
          False, "the two models reach about the same test accuracy (as in the thesis's Table 4.5): accuracy does "
                 "not tell where the relevance goes."),
})


@multiple_choice("true statements about Shallow and Deep", answers="mc_statements",
                 hint="check each statement against your heatmaps, your per-step plot and your distances",
                 choices=_STATEMENTS)
def statements(answer):
    """Multiple select over the statements about Shallow and Deep."""

