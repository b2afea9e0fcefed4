"""One checker for an implemented LRP rule of a dense layer (``lrp_max``, ``deep_taylor``, ``rnn_explain``).

A :class:`Rule` holds the facts of one rule: its arguments (thesis orientation: ``a`` (..., J),
``w`` (J, K), ``R`` (..., K)), the reference relevance, the denominator ``z_k`` (an output whose ``z_k``
is 0 drops its relevance), the catalogue of typical mistakes and the fixed probe inputs on which they
are told apart. :func:`check_rule` checks a student's function with Hypothesis for

- shape and no NaN (with what the rule must accept), positivity, conservation
  ``sum_j R_j = sum_{k: z_k != 0} R_k``, agreement with the reference, the batch dimension,
- and, by calling it through :func:`autograder.question.call`, that it leaves its arguments alone.

**Diagnosis on chosen probes.** Which catalogued mistake a failing function makes is decided once, on
the rule's fixed probe inputs (weights of both signs, a non-trivial box), where the catalogued rules
all differ, never on Hypothesis's shrunk counterexample, where several mistakes coincide (all zeros,
an all-positive ``w``): a hint never names a mistake the student did not make.

:func:`check_edge_cases` runs the rule on fixed readable cases (zero denominators, integer arrays, a
single example as 1-D input). ``backend="torch"`` hands the student float64 tensors instead of arrays.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from reference import lrp as ref_lrp

from .feedback import CheckFailed
from .properties import Violation, check_properties, layers
from .question import Diagnosis, array, call

# --- the rules' building blocks -----------------------------------------------------------------


def safe(R, den):
    """``R / den`` where ``den != 0``, else 0 (an output with a zero denominator drops its relevance)."""
    return np.where(den != 0, R / np.where(den != 0, den, 1.0), 0.0)


def pos(w):
    return np.maximum(w, 0)


def neg(w):
    return np.minimum(w, 0)


def four_line(v_of, a_of=None):
    """A rule ``R_j = sum_k v_jk s_k`` (times ``a_j``) in the four-line style (z, s, c, R) of Montavon's
    tutorial; used to write the catalogue's wrong rules."""
    def rule(*args):
        w_, R_ = args[-2], args[-1]
        vv = v_of(w_)
        s = safe(R_, vv.sum(0) if a_of is None else a_of(args[0]) @ vv)
        c = s @ vv.T
        return c if a_of is None else a_of(args[0]) * c
    return rule


@dataclass
class Rule:
    """The facts of one dense-layer rule."""

    name: str
    argnames: tuple
    reference: Callable            # (*args) -> R_j (numpy)
    denominator: Callable          # (*args) -> z_k, (..., K)
    mistakes: list                 # [(hint, wrong rule (*args) -> R_j)]
    probes: list                   # [(*args)]: fixed generic inputs where the mistakes differ
    strategy: Callable             # () -> Hypothesis strategy of {argname: array}
    accepts: Callable              # (*args) -> "a of shape (B, J), ...; here B, J, K = ..."
    positivity: str = ""           # why every share is >= 0 ("" = not a property of this rule)
    conservation: str = ("sum_j R_j must equal sum_k R_k over the outputs whose denominator z_k is not 0 "
                         "(each such R_k is shared out completely)")
    shape_of_R_hint: str = " That is the shape of R: send the relevance back along the weights (c = s @ v.T)."
    batched: tuple = ("a", "R")    # the arguments that carry the batch dimension
    edge_cases: list = field(default_factory=list)

    def out_shape(self, args):
        ex = dict(zip(self.argnames, args))
        return ex["a"].shape if "a" in ex else ex["R"].shape[:-1] + (ex["w"].shape[0],)


# --- running the student's rule -----------------------------------------------------------------


def _to_backend(args, backend):
    if backend == "numpy":
        return args
    import torch

    return tuple(torch.as_tensor(x, dtype=torch.float64) if isinstance(x, np.ndarray) else x for x in args)


def output(rule: Rule, fn, args, backend="numpy") -> np.ndarray:
    """The student's relevance for ``args`` as an array, or a :class:`Violation` saying what is wrong."""
    out = call(fn, *_to_backend(args, backend), name=rule.name,
               context=f"\nIt must accept {rule.accepts(*args)}.")
    out = array(out, f"{rule.name}({', '.join(rule.argnames)})")
    want = rule.out_shape(args)
    if out.shape != want:
        R = args[rule.argnames.index("R")]
        hint = ""
        if out.shape == R.shape and R.shape != want:
            hint = rule.shape_of_R_hint
        elif len(want) > 1 and (out.shape == want[1:] or out.shape == want[::-1]):
            hint = " The batch dimension got lost or transposed: keep the shape (..., J)."
        what = "a.shape = " if "a" in rule.argnames else ""
        raise Violation(f"{rule.name} returned shape {out.shape}; expected {what}{want} (one relevance per input "
                        f"neuron j, for each example of the batch).{hint}")
    if not np.all(np.isfinite(out)):
        raise Violation("the relevance contains NaN or infinity: an output k whose denominator z_k is 0 must give "
                        "s_k = 0, not R_k / 0. Divide only where z != 0, e.g. "
                        "s = np.where(z != 0, R / np.where(z != 0, z, 1), 0).", got=out)
    return out


def properties(rule: Rule, fn, backend="numpy") -> dict:
    """``{name: property(**example)}`` of ``rule`` for the student's ``fn``."""
    diagnosis = Diagnosis(fn, rule.mistakes, rule.probes, convert=lambda args: _to_backend(args, backend))

    def args_of(ex):
        return tuple(ex[n] for n in rule.argnames)

    def student(ex):
        return output(rule, fn, args_of(ex), backend)

    def shape_and_finite(**ex):
        student(ex)

    def positivity(**ex):
        out = student(ex)
        if np.any(out < -1e-9):
            raise Violation(diagnosis.explain(f"negative relevance: {rule.positivity}"),
                            expected=rule.reference(*args_of(ex)), got=out)

    def conservation(**ex):
        out = student(ex)
        args = args_of(ex)
        want = (ex["R"] * (rule.denominator(*args) != 0)).sum(-1)
        got = out.sum(-1)
        if not np.allclose(got, want, rtol=1e-6, atol=1e-6):
            raise Violation(diagnosis.explain(f"relevance is not conserved: {rule.conservation}"),
                            expected=want, got=got)

    def agreement(**ex):
        out = student(ex)
        want = rule.reference(*args_of(ex))
        if not np.allclose(out, want, rtol=1e-5, atol=1e-6):
            raise Violation(diagnosis.explain(f"your {rule.name} does not give the rule's relevances"),
                            expected=want, got=out)

    def batch_dimension(**ex):
        out = student(ex)
        for i in range(ex["R"].shape[0]):
            one = {k: (v[i] if k in rule.batched else v) for k, v in ex.items()}
            try:
                row = student(one)
            except Violation as err:
                raise Violation(f"a single example (a of shape ({one['w'].shape[0]},), R of shape "
                                f"({one['w'].shape[1]},)) fails: {err.message} The rule must work for a of shape "
                                f"(..., J).") from None
            if not np.allclose(row, out[i], rtol=1e-6, atol=1e-6):
                raise Violation(f"one example at a time (example {i} without the batch dimension) gives a different "
                                f"answer than row {i} of the batch: the examples of a batch must not mix",
                                expected=out[i], got=row)

    props = {"shape and no NaN": shape_and_finite}
    if rule.positivity:
        props["positivity"] = positivity
    props["conservation"] = conservation
    props[f"agreement with the {rule.name} rule"] = agreement
    props["batch dimension"] = batch_dimension
    return props


def check_rule(title: str, rule: Rule, fn, *, max_examples: int = 40, backend="numpy"):
    """Check ``fn`` against ``rule`` on Hypothesis examples; ``CheckFailed`` at the first broken property."""
    return check_properties(title, properties(rule, fn, backend), rule.strategy(), max_examples=max_examples)


def check_edge_cases(title: str, rule: Rule, fn, backend="numpy"):
    """The rule's fixed cases, each reported with its inputs, the expected and the given relevance."""
    for what, args in rule.edge_cases:
        want = rule.reference(*args)
        try:
            got = output(rule, fn, args, backend)
        except Violation as err:
            raise CheckFailed(title, f"{what}: {err.message}") from None
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-6, atol=1e-8):
            shown = ", ".join(f"{n} = {np.asarray(x).tolist()}" for n, x in zip(rule.argnames, args))
            raise CheckFailed(title, f"{what}:\n  {shown}\n  expected {np.round(want, 4).tolist()}\n"
                                     f"  yours    {np.round(got, 4).tolist()}")


# --- z+ (alpha1-beta0), the rule of all three assignments -----------------------------------------


def _zplus_probes():
    rng = np.random.default_rng(31)
    w_, R_ = np.round(rng.normal(size=(4, 3)), 2), np.round(rng.uniform(0.5, 2.0, (2, 3)), 2)
    return [(np.round(rng.uniform(0.0, 2.0, (2, 4)), 2), w_, R_)]


ZPLUS = Rule(
    name="zplus", argnames=("a", "w", "R"),
    reference=ref_lrp.zplus,
    denominator=lambda a, w, R: a @ pos(w),
    mistakes=[
        ("you used w where the rule has w^+ = max(0, w): that is LRP-0 (gradient x input), which can give "
         "negative relevance",
         four_line(lambda w_: w_, lambda a_: a_)),
        ("you used w^- = min(0, w); the z+ rule keeps the positive weights w^+ = max(0, w)",
         four_line(neg, lambda a_: a_)),
        ("a_j is missing: R_j = a_j c_j with c_j = sum_k w_jk^+ s_k (multiply by a at the end)",
         lambda a_, w_, R_: safe(R_, a_ @ pos(w_)) @ pos(w_).T),
        ("the denominator must be z_k = sum_j a_j w_jk^+ (the positive part), not sum_j a_j w_jk",
         lambda a_, w_, R_: a_ * (safe(R_, a_ @ w_) @ pos(w_).T)),
        ("that is the w^2 rule; z+ weighs by a_j w_jk^+", lambda a_, w_, R_: ref_lrp.w2(w_, R_)),
    ],
    probes=_zplus_probes(),
    strategy=layers,
    accepts=lambda a, w, R: (f"a of shape (B, J) (a batch of B examples), w of shape (J, K) and R of shape (B, K); "
                             f"here B, J, K = {a.shape[0] if a.ndim > 1 else 1}, {w.shape[0]}, {w.shape[1]}"),
    positivity="with a >= 0, w+ = max(0, w) >= 0 and R >= 0 every R_j is >= 0. Did you use w instead of w+?",
    conservation=("sum_j R_j must equal the sum of R_k over the outputs with z_k > 0 (each such R_k is split "
                  "completely among the inputs: did you multiply by a_j and divide by z_k = sum_j a_j w_jk+?)"),
    shape_of_R_hint=" That is the shape of R: send the relevance back along the weights (c = s @ w+.T) and "
                    "multiply by a.",
    edge_cases=[
        ("all inputs zero", (np.zeros((2, 3)), np.array([[1.0, -1.0], [0.5, 2.0], [-1.0, 1.0]]), np.ones((2, 2)))),
        ("an output with only negative weights", (np.array([[1.0, 2.0]]), np.array([[1.0, -1.0], [2.0, -3.0]]),
                                                  np.array([[3.0, 5.0]]))),
        ("integer arrays", (np.array([[1, 2]]), np.array([[1, 0], [1, 1]]), np.array([[3, 4]]))),
        ("a single example (1-D a and R)", (np.array([1.0, 0.0, 2.0]), np.array([[1.0], [1.0], [-1.0]]),
                                            np.array([6.0]))),
    ],
)
