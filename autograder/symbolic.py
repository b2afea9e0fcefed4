"""Is a student's SymPy answer the reference expression?

Two stages, as a careful human grader would do it:

1. **symbolic**: ``simplify(student - expected) == 0`` (scalars and explicit matrices);
2. **numeric identity test**: substitute random values that satisfy the question's assumptions
   (positive scalars, symmetric positive definite covariances, several concrete sizes for symbolic
   dimensions) into both and compare. This accepts every equivalent form of a matrix expression, e.g.
   ``(w.T*x)*w/(w.T*w)`` and ``w*w.T*x/(w.T*w)``, which symbolic simplification of ``MatrixSymbol``
   products cannot decide.

When the answer is wrong, the reason says why: not a SymPy expression, wrong shape (a missing
transpose), symbols that do not belong to the question, off by a constant factor or sign, a known
mistake from the question's catalogue, or a concrete counterexample.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

import numpy as np
import sympy
from sympy.matrices.expressions import MatrixExpr

from .feedback import CheckFailed, passed

# --- how to draw values ------------------------------------------------------------------------

Sampler = Callable[..., np.ndarray]


#: The decades of the wide draws, one per draw in turn: large, small, very large. An answer that agrees
#: only for values of order one (a truncated series, a clipped or dropped term) is caught by them.
DECADES = ((1.0, 2.0), (-2.0, -1.0), (2.0, 3.0))


def _magnitude(rng, shape, wide, low=0.3, high=3.0):
    """``[low, high]`` for readable counterexamples; for a wide draw (``wide`` = 1, 2, ...) log-uniform
    within that draw's decade of :data:`DECADES`."""
    if wide:
        lo, hi = DECADES[(wide - 1) % len(DECADES)]
        return 10.0 ** rng.uniform(lo, hi, size=shape or None)
    return rng.uniform(low, high, size=shape or None)


def _out(v):
    return float(v) if np.ndim(v) == 0 else v


def real(rng, shape, wide=0):
    if not wide:
        return rng.normal(size=shape) if shape else float(rng.normal())
    return _out(rng.choice([-1.0, 1.0], size=shape or None) * _magnitude(rng, shape, True))


def positive(rng, shape, wide=0):
    return _out(_magnitude(rng, shape, wide))


def nonnegative(rng, shape, wide=0):
    return _out(_magnitude(rng, shape, wide, 0.0, 3.0))


def spd(rng, shape, wide=0):
    """Symmetric positive definite: ``B B^T + 0.5 I`` (times a scale across decades when ``wide``)."""
    n = shape[0]
    B = rng.normal(size=(n, n))
    scale = float(_magnitude(rng, (), wide)) if wide else 1.0
    return scale * (B @ B.T + 0.5 * np.eye(n))


def positive_integer(rng, shape, wide=0):
    high = 100 if wide else 10
    return rng.integers(1, high, size=shape) if shape else int(rng.integers(1, high))


KINDS: dict[str, Sampler] = {"real": real, "positive": positive, "nonnegative": nonnegative, "spd": spd,
                             "positive_integer": positive_integer}


@dataclass
class Domain:
    """What the symbols of a question stand for.

    kinds: symbol name -> one of ``KINDS`` (default: ``positive`` for symbols declared positive,
    otherwise ``real``); dims: dimension symbol name -> sizes to try (default 2, 3 and 4).
    ``trials`` draws of order-one values come first (their counterexamples read well); then ``wide``
    draws with magnitudes across decades and every dimension 2 above its largest size; then, for a
    piecewise answer, up to ``cover`` more draws until every branch of the expected answer was taken.
    """

    kinds: Mapping[str, str] = field(default_factory=dict)
    dims: Mapping[str, Iterable[int]] = field(default_factory=dict)
    trials: int = 6
    seed: int = 1234
    wide: int = 3
    cover: int = 12

    def sampler(self, symbol) -> Sampler:
        kind = self.kinds.get(symbol.name)
        if kind is None:
            kind = "positive" if getattr(symbol, "is_positive", False) else "real"
        if kind not in KINDS:
            raise ValueError(f"Domain: unknown kind {kind!r} for {symbol.name}; expected one of {sorted(KINDS)}")
        return KINDS[kind]


# --- coercion and inspection -----------------------------------------------------------------

def is_matrix(expr) -> bool:
    return isinstance(expr, (MatrixExpr, sympy.MatrixBase))


def _names(expr) -> set[str]:
    return {s.name for s in expr.free_symbols}


def coerce(answer, namespace: Mapping[str, object] | None = None):
    """Turn a student's answer into a SymPy object, or raise ``ValueError`` saying why it can't be."""
    if isinstance(answer, str):
        try:
            return sympy.parse_expr(answer, local_dict=dict(namespace or {}))
        except Exception as err:  # noqa: BLE001 - any parse failure is the student's to fix
            raise ValueError(f"could not parse {answer!r} as a SymPy expression ({type(err).__name__}: {err})") from None
    if isinstance(answer, np.ndarray):
        raise ValueError("got a numpy array of numbers; expected a SymPy expression in the question's symbols "
                         "(use the symbols defined in the notebook, not numeric values)")
    if isinstance(answer, sympy.MatrixBase):
        return sympy.ImmutableMatrix(answer)
    if isinstance(answer, (list, tuple)):
        try:
            return sympy.ImmutableMatrix(answer)
        except Exception:  # noqa: BLE001
            raise ValueError(f"got a {type(answer).__name__} that is not a vector of expressions") from None
    if isinstance(answer, (sympy.Basic, sympy.MatrixBase)):
        return answer
    try:
        return sympy.sympify(answer, strict=True)
    except (sympy.SympifyError, TypeError):
        raise ValueError(f"got a {type(answer).__name__}; expected a SymPy expression") from None


_SIZED = (sympy.MatrixSymbol, sympy.Identity, sympy.ZeroMatrix, sympy.OneMatrix)


def _dims(expr) -> set:
    """Symbols that appear as matrix dimensions (of ``MatrixSymbol``, ``Identity``, ``ZeroMatrix``...)."""
    out = set()
    for m in [*expr.atoms(*_SIZED), *([expr] if is_matrix(expr) else [])]:  # a mutable Matrix is unhashable
        for d in m.shape:
            out |= getattr(d, "free_symbols", set())
    return out


# --- numeric evaluation ----------------------------------------------------------------------

def _draw(expected, student, domain: Domain, rng: np.random.Generator, trial: int = 0, wide: int = 0):
    """One random substitution: dims -> ints (cycling through the sizes, smallest first, so that a
    counterexample is small; a wide draw: 2 above the largest), then every symbol -> a value of its kind
    (``wide`` = k > 0: magnitudes in the k-th decade of :data:`DECADES`).

    Returns the substitution as ``{name: value}`` plus the dims used.
    """
    dim_syms = {s.name: s for s in _dims(expected) | _dims(student)}
    dims = {}
    for name in sorted(dim_syms):
        sizes = sorted(domain.dims.get(name, (2, 3, 4)))
        dims[name] = int(sizes[-1] + 2 if wide else sizes[trial % len(sizes)])
    values = {}
    for expr in (expected, student):
        sized = expr.subs({dim_syms[n]: v for n, v in dims.items()}) if dims else expr
        for s in sorted((sized.free_symbols - set(dim_syms.values())) | set(sized.atoms(sympy.MatrixSymbol)), key=lambda s: s.name):
            if s.name in values or s.name in dims:
                continue
            shape = tuple(int(d) for d in s.shape) if isinstance(s, sympy.MatrixSymbol) else ()
            values[s.name] = domain.sampler(s)(rng, shape, wide)
    return dims, values


def _substitute(expr, dims: Mapping[str, int], values: Mapping[str, object]):
    """``expr`` with dimension sizes and symbol values (name -> float array) put in."""
    if dims:
        expr = expr.subs({s: dims[s.name] for s in _dims(expr) if s.name in dims})
    repl = {}
    for s in expr.free_symbols | set(expr.atoms(sympy.MatrixSymbol)):
        if s.name not in values:
            continue
        v = values[s.name]
        repl[s] = sympy.ImmutableMatrix(np.atleast_2d(v).reshape(s.shape)) if isinstance(s, sympy.MatrixSymbol) \
            else sympy.Float(v)
    return expr.xreplace(repl)


def evaluate(expr, dims: Mapping[str, int], values: Mapping[str, object]) -> np.ndarray:
    """Evaluate ``expr`` with dimension sizes and symbol values given by name -> float array."""
    out = _substitute(expr, dims, values)
    if hasattr(out, "doit"):
        out = out.doit()
    if is_matrix(out):
        out = sympy.Matrix(out).evalf()
        arr = np.array(out.tolist(), dtype=complex)
    else:
        arr = np.array(complex(sympy.N(out)))
    if np.all(np.abs(arr.imag) < 1e-9):
        arr = arr.real
    return arr


_PIECEWISE = (sympy.Max, sympy.Min, sympy.Heaviside, sympy.Abs, sympy.sign)


def _pieces(expr) -> list:
    """The ``Piecewise`` parts of ``expr``, with ``Max``, ``Min``, ``Abs``, ... written as ``Piecewise``."""
    if not expr.has(sympy.Piecewise, *_PIECEWISE):
        return []
    try:
        expr = expr.rewrite(sympy.Piecewise)
    except Exception:  # a matrix expression SymPy cannot rewrite: its explicit Piecewise atoms only
        pass
    return sorted(expr.atoms(sympy.Piecewise), key=sympy.default_sort_key)


def _branches(pieces, dims, values) -> set:
    """``(piece, branch)`` pairs taken at these values: the first condition that holds, per piece."""
    taken = set()
    for i, piece in enumerate(pieces):
        for j, (_, cond) in enumerate(piece.args):
            try:
                holds = bool(_substitute(cond, dims, values))
            except TypeError:   # a condition that does not reduce to a truth value here
                break
            if holds:
                taken.add((i, j))
                break
    return taken


def _close(a, b, rtol=1e-6, atol=1e-8) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


# --- the verdict ------------------------------------------------------------------------------

@dataclass
class Mistake:
    """A typical wrong answer for a question and the hint it deserves."""

    expr: object
    hint: str


@dataclass
class Verdict:
    ok: bool
    reason: str = ""


def compare(student, expected, domain: Domain | None = None, *, mistakes: Iterable[Mistake] = (),
            namespace: Mapping[str, object] | None = None, allowed: Iterable[str] | None = None) -> Verdict:
    """Decide whether ``student`` equals ``expected`` and, if not, say why.

    allowed: the symbol names an answer may use (default: those of ``expected`` and its dimensions).
    """
    domain = domain or Domain()
    if student is None or student is Ellipsis:
        return Verdict(False, "no answer yet (the variable is still None)")
    try:
        student = coerce(student, namespace)
    except ValueError as err:
        return Verdict(False, str(err))

    # Symbols are the question's by name, whatever assumptions the student declared them with
    # (also the dimension symbols inside a MatrixSymbol's shape).
    by_name = {s.name: s for s in expected.free_symbols | _dims(expected) if isinstance(s, sympy.Symbol)}
    renamed = {s: by_name[s.name] for s in student.free_symbols | _dims(student)
               if isinstance(s, sympy.Symbol) and s.name in by_name and s != by_name[s.name]}
    if renamed:
        student = student.xreplace(renamed)

    # Kind and shape.
    if is_matrix(expected) != is_matrix(student):
        want = f"a matrix of shape {tuple(expected.shape)}" if is_matrix(expected) else "a scalar"
        got = f"a matrix of shape {tuple(student.shape)}" if is_matrix(student) else "a scalar"
        return Verdict(False, f"expected {want}, got {got}")
    if is_matrix(expected):
        es, ss = tuple(expected.shape), tuple(student.shape)
        if any(sympy.simplify(a - b) != 0 for a, b in zip(es, ss)):
            for m in mistakes:  # a catalogued mistake of another shape (A^T A for A A^T)
                if is_matrix(m.expr) and tuple(m.expr.shape) == ss and compare(student, m.expr, domain).ok:
                    return Verdict(False, f"wrong shape: expected {es}, got {ss}. {m.hint}")
            hint = " (a row where a column is expected: a missing or extra transpose?)" if es == ss[::-1] else ""
            return Verdict(False, f"wrong shape: expected {es}, got {ss}{hint}")

    # Symbols that do not belong.
    mistakes = list(mistakes)
    if allowed is not None:
        allowed_names = set(allowed)
    else:  # the question's symbols, and those of catalogued mistakes (so their hint can be reached)
        allowed_names = set().union(*(_names(e) | {s.name for s in _dims(e)}
                                      for e in [expected, *(m.expr for m in mistakes if hasattr(m.expr, "free_symbols"))]))
    extra = sorted(_names(student) - allowed_names)
    if extra:
        return Verdict(False, f"your answer uses {', '.join(extra)}, which the question does not define; "
                              f"expected an expression in {', '.join(sorted(allowed_names)) or 'numbers only'}")

    # Stage 1: symbolic.
    try:
        if not is_matrix(expected) or isinstance(expected, sympy.MatrixBase):
            raw = sympy.Matrix(student) - sympy.Matrix(expected) if is_matrix(expected) else student - expected
            # simplify() has no time limit: big or transcendental differences go to the numeric stage
            diff = sympy.simplify(raw) if sympy.count_ops(raw) <= 60 else sympy.expand(raw)
            if (is_matrix(expected) and diff.is_zero_matrix) or (not is_matrix(expected) and diff == 0):
                return Verdict(True, "equal (symbolically)")
    except Exception:  # noqa: BLE001 - fall through to the numeric test
        pass

    # Stage 2: numeric identity test.
    rng = np.random.default_rng(domain.seed)
    first_bad = None
    ratios = []
    pieces = _pieces(expected)
    every_branch = {(i, j) for i, piece in enumerate(pieces) for j in range(len(piece.args))}
    taken: set = set()
    plan = [(k, 0) for k in range(domain.trials)] + [(k, k + 1) for k in range(domain.wide)]
    extra = domain.cover if pieces else 0
    while plan:
        trial, wide = plan.pop(0)
        dims, values = _draw(expected, student, domain, rng, trial, wide)
        try:
            want = evaluate(expected, dims, values)
        except (OverflowError, ZeroDivisionError, ValueError, TypeError):
            want = np.array(np.nan)   # the reference itself overflows or is undefined here
        if not np.all(np.isfinite(want)):
            continue   # a draw where the reference is undefined (0/0, overflow) decides nothing
        taken |= _branches(pieces, dims, values)
        try:
            got = evaluate(student, dims, values)
        except Exception as err:  # noqa: BLE001
            return Verdict(False, f"your expression cannot be evaluated: {type(err).__name__}: {err}")
        if not _close(got, want):
            first_bad = first_bad or (dims, values, want, got)
        mask = np.abs(want) > 1e-9
        if got.shape == want.shape and mask.any():
            ratios.append(np.ravel(got[mask] / want[mask]))
        if not plan and extra and not every_branch <= taken:   # a branch never taken yet: draw more
            plan.append((extra, extra % 3))   # order one, then wide decades in turn
            extra -= 1
    if first_bad is None:
        return Verdict(True, "equal (identical on random values satisfying the assumptions)")

    # Diagnose.
    for m in mistakes:
        try:
            if all(_close(evaluate(student, d, v), evaluate(m.expr, d, v))
                   for d, v in (_draw(expected, m.expr, domain, np.random.default_rng(domain.seed + k), k)
                                for k in range(3))):
                return Verdict(False, m.hint)
        except Exception:  # noqa: BLE001 - a catalogue entry that does not apply
            continue
    if ratios:
        r = np.concatenate(ratios)
        if np.allclose(r, r[0], rtol=1e-6):
            c = float(r[0])
            if np.isclose(c, -1):
                return Verdict(False, "your answer has the wrong sign (it is -1 times the expected one)")
            nice = sympy.nsimplify(c, rational=True, tolerance=1e-8)
            return Verdict(False, f"your answer is {nice} times the expected one: a constant factor is off "
                                  f"(check factors of 2 from differentiating squares)")
    dims, values, want, got = first_bad
    where = ", ".join(f"{k}={v}" for k, v in dims.items())
    return Verdict(False, "not equal to the expected expression. Counterexample"
                          + (f" (with {where})" if where else "") + ":\n"
                          + "\n".join(f"  {k} = {np.round(np.asarray(v), 3).tolist()}" for k, v in values.items())
                          + f"\n  expected {np.round(want, 4).tolist()}\n  your answer gives {np.round(got, 4).tolist()}")


def equivalent(a, b, domain: Domain | None = None, **kwargs) -> bool:
    """True when ``a`` and ``b`` are the same expression (symbolically or on random values)."""
    return compare(a, b, domain, **kwargs).ok


def check(question: str, student, expected, domain: Domain | None = None, **kwargs) -> str:
    """Raise :class:`CheckFailed` with the reason unless ``student`` equals ``expected``."""
    verdict = compare(student, expected, domain, **kwargs)
    if not verdict.ok:
        raise CheckFailed(question, verdict.reason)
    return passed(question)

