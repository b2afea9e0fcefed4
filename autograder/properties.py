"""Property-based checks of a student's function, with Hypothesis.

A property is a plain function of one generated example that raises :class:`Violation` (or any
``AssertionError``) when the student's code breaks it. :func:`check_properties` runs it on examples
drawn from a strategy, deterministically (``derandomize=True``, no example database, so nothing is
written into a student's folder), lets Hypothesis shrink a failure to a minimal counterexample and
reports that counterexample, the property that broke, and the expected value.

Examples use numbers with one decimal (``-5.0 .. 5.0`` in steps of 0.1) so that a shrunk
counterexample reads like a worked exercise, not like ``1.1754943508222875e-38``.
"""
from __future__ import annotations

import os
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .feedback import CheckFailed, describe_exception, passed

# Hypothesis caches under ./.hypothesis by default: that would be the student's folder. Keep its
# scratch files in the temp directory instead (HYPOTHESIS_STORAGE_DIRECTORY still wins if set).
if not os.getenv("HYPOTHESIS_STORAGE_DIRECTORY"):
    set_hypothesis_home_dir(Path(tempfile.gettempdir()) / f"xai-course-hypothesis-{os.getuid()}")


class Violation(AssertionError):
    """A property does not hold; carries what was expected and what the student's code gave."""

    def __init__(self, message: str, *, expected: Any = None, got: Any = None):
        self.message, self.expected, self.got = message, expected, got
        super().__init__(message)


# --- strategies ------------------------------------------------------------------------------

def decimals(low: float = -5.0, high: float = 5.0, step: float = 0.1) -> st.SearchStrategy[float]:
    """Numbers in [low, high] on a grid of ``step`` (shrinks towards 0, or towards ``low`` if 0 is out)."""
    lo, hi = int(np.ceil(low / step)), int(np.floor(high / step))
    return st.integers(lo, hi).map(lambda k: round(k * step, 10))


def arrays(shape, low=-5.0, high=5.0, step=0.1) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, shape, elements=decimals(low, high, step))


def sizes(low: int = 1, high: int = 5) -> st.SearchStrategy[int]:
    return st.integers(low, high)


def weight_matrices(J, K, low=-2.0, high=2.0) -> st.SearchStrategy[np.ndarray]:
    """Weights ``w`` of shape (J, K), the thesis orientation."""
    return arrays((J, K), low, high)


def nonnegative_activations(shape, high=5.0) -> st.SearchStrategy[np.ndarray]:
    """ReLU outputs: ``a >= 0``."""
    return arrays(shape, 0.0, high)


def nonpositive_biases(K, low=-2.0) -> st.SearchStrategy[np.ndarray]:
    """Biases ``b <= 0``, as Deep Taylor decomposition assumes (the thesis's ``-softplus(b)``)."""
    return arrays((K,), low, 0.0)


def bounded_inputs(shape, low=0.0, high=1.0, step=0.05) -> st.SearchStrategy[np.ndarray]:
    """Inputs in a box ``[low, high]``, e.g. pixel intensities."""
    return arrays(shape, low, high, step)


def layers(J=None, K=None, batch=None, **kw) -> st.SearchStrategy[dict]:
    """A dense ReLU layer example: ``{"a": (B, J) >= 0, "w": (J, K), "R": (B, K) >= 0}``."""

    def build(dims):
        B, j, k = dims
        return st.fixed_dictionaries({"a": nonnegative_activations((B, j)), "w": weight_matrices(j, k),
                                      "R": nonnegative_activations((B, k))})

    dims = st.tuples(st.just(batch) if batch else sizes(1, 3), st.just(J) if J else sizes(1, 5),
                     st.just(K) if K else sizes(1, 5))
    return dims.flatmap(build)


# --- running ---------------------------------------------------------------------------------

def grading_settings(max_examples: int = 40) -> settings:
    """Deterministic, quiet, database-free settings used for every check."""
    return settings(max_examples=max_examples, derandomize=True, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
                    report_multiple_bugs=False, print_blob=False,
                    phases=[Phase.explicit, Phase.generate, Phase.shrink])


def _fmt(value) -> str:
    if hasattr(value, "detach"):   # a torch tensor reads like an array
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return np.array2string(np.round(value, 4), separator=", ", max_line_width=100, threshold=60)
    if isinstance(value, float):
        return f"{value:.4g}"
    return textwrap.shorten(repr(value), 300, placeholder=" ...")


def format_example(example: Mapping[str, Any]) -> str:
    return "\n".join(f"  {k} = {_fmt(v)}".replace("\n", "\n      ") for k, v in example.items())


SHRINK_SECONDS = float(os.environ.get("XAI_SHRINK_SECONDS", "1.5"))


class _BudgetSpent(BaseException):
    """Ends a Hypothesis run past the shrink budget. Not an ``Exception``: Hypothesis lets it through instead of
    taking it for another failure to shrink."""


def find_counterexample(prop: Callable[..., None], strategy: st.SearchStrategy[dict],
                        max_examples: int = 40, *, shrink_seconds: float | None = None):
    """Run ``prop(**example)`` on generated examples; return ``None`` or ``(shrunk example, error)``.

    Shrinking stops after ``shrink_seconds`` (default ``SHRINK_SECONDS``, env ``XAI_SHRINK_SECONDS``)
    from the first failure: the next candidate ends the run (before the student's code runs on it), and
    the smallest failure found so far is reported. (Answering "passes" instead would let the shrinker go
    on drawing candidates, which costs as much as running them for nested strategies.) A failing check
    thus answers in about generation time + the budget, whatever the student wrote.
    """
    budget = SHRINK_SECONDS if shrink_seconds is None else shrink_seconds
    failures: list = []
    first_failure: list[float] = []

    @grading_settings(max_examples)
    @given(strategy)
    def run(example):
        if first_failure and time.perf_counter() - first_failure[0] > budget:
            raise _BudgetSpent
        try:
            prop(**example)
        except Exception as err:  # every error of the student's code is a failure
            failures.append((example, err))
            first_failure[:] = first_failure or [time.perf_counter()]
            raise

    try:
        run()
    except _BudgetSpent:
        return failures[-1]
    except Exception:  # the last failure recorded is the smallest one
        if failures:
            return failures[-1]
        raise
    return None


def check_properties(question: str, props: Mapping[str, Callable[..., None]],
                     strategy: st.SearchStrategy[dict], *, max_examples: int = 40) -> str:
    """Check each named property on examples from ``strategy``; raise ``CheckFailed`` at the first broken one.

    The properties are checked one after another, each on all examples, so that a failure names the first
    property that breaks anywhere, shrunk on its own. A derandomized run draws the same examples for every
    property, so a single run that checks all of them on each example decides first whether any breaks:
    a right answer pays Hypothesis's drawing once instead of once per property.
    """
    if len(props) > 1 and find_counterexample(_all_of(props), strategy, max_examples, shrink_seconds=0) is None:
        return _passed(question, props, max_examples)
    for name, prop in props.items():
        found = find_counterexample(prop, strategy, max_examples)
        if found is None:
            continue
        example, err = found
        if isinstance(err, NotImplementedError):
            raise CheckFailed(question, "the function is not implemented yet (it raises NotImplementedError)")
        lines = [f"property '{name}' fails on this (smallest) example:", format_example(example)]
        if isinstance(err, Violation):
            lines.insert(0, err.message)
            if err.expected is not None:
                lines.append(f"  expected: {_fmt(err.expected)}".replace("\n", "\n" + " " * 12))
            if err.got is not None:
                lines.append(f"  yours:    {_fmt(err.got)}".replace("\n", "\n" + " " * 12))
            try:  # rounded arrays can look alike: say how far apart they are
                gap = np.abs(np.asarray(err.got, float) - np.asarray(err.expected, float))
                if gap.size and np.all(np.isfinite(gap)):
                    lines.append(f"  largest difference {gap.max():.3g} at index {np.unravel_index(gap.argmax(), gap.shape)}")
            except (TypeError, ValueError):
                pass
        elif isinstance(err, AssertionError):
            lines.insert(0, str(err) or "assertion failed")
        else:
            lines.insert(0, f"your code raised {describe_exception(err)}")
        raise CheckFailed(question, "\n".join(lines))
    return _passed(question, props, max_examples)


def _all_of(props: Mapping[str, Callable[..., None]]) -> Callable[..., None]:
    from .question import each_input_once   # question builds on this module

    def every(**example):
        with each_input_once():   # the properties of one example share the student's calls
            for prop in props.values():
                prop(**example)
    return every


def _passed(question: str, props, max_examples: int) -> str:
    names = ", ".join(props)
    return passed(question, f"{names} {'holds' if len(props) == 1 else 'hold'} on {max_examples} generated examples")


# --- helpers for writing properties ----------------------------------------------------------

def as_array(value, what: str) -> np.ndarray:
    """A student's return value as a float array, or a Violation naming what was expected."""
    try:
        arr = np.asarray(value.detach().numpy() if hasattr(value, "detach") else value, dtype=float)
    except Exception:  # noqa: BLE001
        raise Violation(f"{what}: expected an array of numbers, got {type(value).__name__}") from None
    return arr


def assert_close(got, expected, what: str, *, rtol=1e-5, atol=1e-6) -> None:
    got, expected = as_array(got, what), np.asarray(expected, dtype=float)
    if got.shape != expected.shape:
        raise Violation(f"{what}: wrong shape {got.shape}, expected {expected.shape}", expected=expected, got=got)
    if not np.all(np.isfinite(got)):
        raise Violation(f"{what}: contains NaN or infinity (a division by zero?)", expected=expected, got=got)
    if not np.allclose(got, expected, rtol=rtol, atol=atol):
        raise Violation(f"{what}: does not match the expected value", expected=expected, got=got)
