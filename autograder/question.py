"""One question layer: what every check needs, written once.

A check is a function decorated with :func:`question`; the title is given once, and the check
receives an :class:`Ask` as its first argument::

    @question("z+ rule", answers="zplus", hint="divide by z_k = sum_j a_j w_jk^+, then multiply by a_j")
    def zplus(ask, fn):
        ...
        return ask.passed("...")

The notebook calls ``check.zplus(zplus)``: the decorator

- fails with "no answer yet: `zplus` is still None" when a required answer is ``None`` or ``...``;
- turns any error escaping the check into a failed check (never a crash); a :class:`~autograder.properties.
  Violation` raised outside a property becomes the failure's reason;
- runs torch on one thread (small matrices; a class graded in parallel would otherwise oversubscribe);
- registers the question and its first hint, for :func:`hints_of` (``check.hint(...)``).

:class:`Ask` gives the check ``call`` (the student's function on deep copies of its inputs, quietly,
named in errors, failing when an input was changed in place), the coercions ``number``, ``array``,
``function`` and ``sympy`` (one ``unwrap`` for every shape ``sympy.solve`` returns), and the
multiple-choice reader of :mod:`autograder.choices`.
"""
from __future__ import annotations

import contextlib
import contextvars
import copy
import functools
import inspect
import io
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy

from . import choices
from .feedback import CheckFailed, describe_exception, not_answered, passed
from .properties import Violation

# --- quiet calls and in-place changes -----------------------------------------------------------


@contextlib.contextmanager
def quiet():
    """No warnings, no floating-point complaints, no output of the student's prints."""
    with np.errstate(all="ignore"), warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def one_torch_thread():
    """Run torch (if loaded) on one thread: these are small matrices, and on a busy machine torch's thread
    pool makes them a hundred times slower than one thread does."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _copy(value):
    try:
        return copy.deepcopy(value)
    except Exception:  # noqa: BLE001 - e.g. a non-leaf tensor: compare against a detached clone instead
        clone = getattr(value, "clone", None)
        return value if clone is None else value.detach().clone()


def _changed(before, after) -> bool:
    """Did ``after`` (what the student's function received) drift from ``before`` (an untouched copy)?"""
    torch = sys.modules.get("torch")
    if isinstance(before, np.ndarray):
        return not (isinstance(after, np.ndarray) and after.shape == before.shape
                    and np.array_equal(after, before, equal_nan=before.dtype.kind in "fc"))
    if torch is not None and isinstance(before, torch.Tensor):
        a, b = after.detach(), before.detach()
        return a.shape != b.shape or not torch.equal(torch.nan_to_num(a), torch.nan_to_num(b))
    if torch is not None and isinstance(before, torch.nn.Module):
        mine, theirs = before.state_dict(), after.state_dict()
        return mine.keys() != theirs.keys() or any(_changed(mine[k], theirs[k]) for k in mine)
    if isinstance(before, (list, tuple)):
        return not isinstance(after, (list, tuple)) or len(after) != len(before) or \
            any(_changed(x, y) for x, y in zip(before, after))
    if isinstance(before, dict):
        return not isinstance(after, dict) or before.keys() != after.keys() or \
            any(_changed(before[k], after[k]) for k in before)
    if hasattr(before, "__dict__") and not callable(before) and type(before) is type(after):
        return _changed(vars(before), vars(after))   # e.g. a network object holding weight arrays
    return False


def _parameter_names(fn, count: int) -> list[str]:
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)]
    except (TypeError, ValueError):
        params = []
    names = params[:count] if params and params[-1:] != ["args"] else []
    return names + [f"argument {i + 1}" for i in range(len(names), count)]


class Remote:
    """A student's function that lives in another process (the kernel, seen from the grader-side judge of
    :mod:`autograder.remote`): :func:`call` hands the whole call over, and that process runs :func:`call`
    on the function itself."""

    def remote_call(self, args: tuple, kwargs: dict, *, name: str | None, context: str):
        raise NotImplementedError

    def remote_probe(self, name: str, args: tuple, kwargs: dict):
        """``module:function`` (a :func:`kernel_side` function) run in that process on the real object."""
        raise NotImplementedError


def kernel_side(fn=None, *, returns=None):
    """Mark ``fn(student_object, ...)``, a check's helper that builds and runs a student's class and returns
    plain data (no expected value in it), as run where that object lives. In process it is ``fn`` itself; at
    the grader's judge, where the object is a :class:`Remote`, the call goes to the kernel, which runs its own
    copy of ``fn`` (the grading stub carries ``fn``'s module: :mod:`autograder.remote.stubs`).

    returns: the template of what ``fn`` returns (see :func:`conforming`); what comes back from a kernel is
    the kernel's word, so it is checked against the template before any check reads it, and a kernel that
    sends something else fails the check (a :class:`Violation`), rather than breaking the grader."""
    def mark(fn):
        @functools.wraps(fn)
        def run(obj, *args, **kwargs):
            if isinstance(obj, Remote):
                value = obj.remote_probe(f"{fn.__module__}:{fn.__qualname__}", args, kwargs)
            else:
                value = fn(obj, *args, **kwargs)
            return value if returns is None else conforming(value, returns, fn.__name__)

        run.kernel_side = True
        KERNEL_SIDE.add(fn.__module__)
        return run

    return mark if fn is None else mark(fn)


def conforming(value, template, name: str):
    """``value`` if it has the form of ``template``, else a :class:`Violation` naming where it differs.

    A template is a type (``int`` does not take a bool), ``None``, a tuple of alternatives, ``[item]`` (a list
    of such items) or a dict of templates (``"key?"``: the key may be missing; no other keys)."""
    problem = _unlike(value, template, "the result")
    if problem:
        where, what = problem
        raise Violation(f"{name} sent back something the grader cannot read: {where} {what}")
    return value


def _unlike(value, template, where: str) -> tuple[str, str] | None:
    """``(where, how)`` value and template first differ, or None; of alternatives, the one matched deepest."""
    def kind(expected):
        return where, f"is a {type(value).__name__}, expected {expected}"

    if isinstance(template, tuple):
        problems = [_unlike(value, t, where) for t in template]
        return None if None in problems else max(problems, key=lambda p: len(p[0]))
    if template is None:
        return None if value is None else kind("None")
    if isinstance(template, type):
        ok = isinstance(value, template) and not (template in (int, float) and isinstance(value, bool))
        return None if ok else kind(template.__name__)
    if isinstance(template, list):
        if type(value) is not list:
            return kind("a list")
        return next(filter(None, (_unlike(v, template[0], f"{where}[{i}]") for i, v in enumerate(value))), None)
    if type(value) is not dict:
        return kind("a dict")
    keys = {k.rstrip("?"): k.endswith("?") for k in template}
    unknown = [k for k in value if k not in keys]
    missing = [k for k, optional in keys.items() if not optional and k not in value]
    if unknown or missing:
        return where, f"has the keys {sorted(map(str, value))}, expected {sorted(keys)}"
    return next(filter(None, (_unlike(value[k], template[k if k in template else k + "?"], f"{where}[{k!r}]")
                              for k in value)), None)


#: The modules holding :func:`kernel_side` functions (the grading stub carries them).
KERNEL_SIDE: set[str] = set()


_SHARED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("shared_calls", default=None)


@contextlib.contextmanager
def each_input_once():
    """Within the block, :func:`call` runs a function once per distinct input and hands back copies of that
    first result, for inputs and results of plain data (numbers, strings, arrays, tensors without a graph,
    and tuples, lists and dicts of them). The properties of one example (:func:`autograder.properties.
    check_properties`) then share the student's call instead of each paying for it: at the grader's judge
    every call is a round trip to the kernel. A function that fails is called again each time."""
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def _plain(value):
    """An exact, hashable key of plain data (see :func:`each_input_once`), or None for anything else."""
    torch = sys.modules.get("torch")
    if value is None or isinstance(value, (bool, int, str)):
        return type(value), value
    if isinstance(value, float):
        return float, value.hex()
    if isinstance(value, (np.ndarray, np.generic)):
        return (None if value.dtype.hasobject else
                (type(value), value.dtype.str, value.shape, np.ascontiguousarray(value).tobytes()))
    if torch is not None and isinstance(value, torch.Tensor):
        if value.requires_grad or value.is_sparse or value.device.type != "cpu":
            return None
        return "tensor", str(value.dtype), tuple(value.shape), value.contiguous().numpy().tobytes()
    if isinstance(value, (tuple, list, dict)):
        items = [*value.items()] if isinstance(value, dict) else value
        keys = tuple(_plain(v) for pair in items for v in (pair if isinstance(value, dict) else (pair,)))
        return None if None in keys else (type(value), keys)
    return None


def call(fn, *args, name: str | None = None, context: str = "", **kwargs):
    """``fn(*args, **kwargs)`` on deep copies, quietly; the caller's arguments are never touched.

    A student's error becomes a :class:`Violation` naming the function (``NotImplementedError`` passes
    through: "not implemented yet"); an argument changed in place is a :class:`Violation` saying which.
    Inside :func:`each_input_once` a call with the same plain inputs as an earlier one returns a copy of its
    result."""
    shared = _SHARED.get()
    key = None if shared is None else _plain((args, kwargs, name, context))
    if key is not None and (id(fn), key) in shared:
        return _copy(shared[id(fn), key][1])
    out = _call(fn, args, kwargs, name=name, context=context)
    if key is not None and _plain(out) is not None:
        shared[id(fn), key] = (fn, _copy(out))   # fn kept alive, so that its id stays its own
    return out


def _call(fn, args: tuple, kwargs: dict, *, name: str | None, context: str):
    if isinstance(fn, Remote):   # the one point where a grader-side check reaches the student's code
        return fn.remote_call(args, kwargs, name=name, context=context)
    name = name or getattr(fn, "__name__", "function")
    given = [_copy(a) for a in args]
    given_kw = {k: _copy(v) for k, v in kwargs.items()}
    try:
        with quiet():
            out = fn(*given, **given_kw)
    except NotImplementedError:
        raise
    except Exception as err:  # noqa: BLE001 - a student's error is feedback
        raise Violation(f"your {name} raised {describe_exception(err)}{context}") from None
    labels = _parameter_names(fn, len(args))
    for label, before, after in [*zip(labels, args, given), *((k, kwargs[k], given_kw[k]) for k in kwargs)]:
        if _changed(before, after):
            raise Violation(f"your {name} changed its argument `{label}` in place (e.g. w[w < 0] = 0, "
                            f"w.clamp_(min=0) or a *= ...): the next cells would run on the changed values. "
                            f"Compute new arrays instead (np.maximum(w, 0), w.clamp(min=0)).")
    return out


# --- coercions ---------------------------------------------------------------------------------

def _kind(value) -> str:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        return f"a torch tensor of shape {tuple(value.shape)}"
    if isinstance(value, np.ndarray):
        return f"a numpy array of shape {value.shape}"
    article = "an" if type(value).__name__[:1].lower() in "aeiou" else "a"
    return f"{article} {type(value).__name__}"


def blank(value) -> bool:
    return value is None or value is Ellipsis


def number(value, name: str) -> float:
    """One finite number (a Python or numpy number, a 0-d or one-element array or tensor)."""
    if isinstance(value, (list, tuple, dict, set, str)) or callable(value):
        raise Violation(f"`{name}` should be one number, got {_kind(value)}")
    try:
        arr = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value, dtype=float)
    except (TypeError, ValueError):
        raise Violation(f"`{name}` should be a number, got {_kind(value)}") from None
    if arr.size != 1:
        raise Violation(f"`{name}` should be one number, got an array of shape {arr.shape}")
    x = float(arr.reshape(()))
    if not np.isfinite(x):
        raise Violation(f"`{name}` is {x}: expected a finite number")
    return x


def array(value, name: str, *, shape: tuple | None = None, detached: bool = False, tensor: bool = False,
          needed: str = "") -> np.ndarray:
    """A float array from numbers, a numpy array or a torch tensor.

    shape: the exact shape required (``(1, n)`` where ``(n,)`` is required fails); detached: a tensor that
    still requires grad fails; tensor: only a torch tensor is accepted. ``needed`` says why (what the
    next cells do with it)."""
    torch = sys.modules.get("torch")
    why = f" ({needed})" if needed else ""
    is_tensor = torch is not None and isinstance(value, torch.Tensor)
    if tensor and not is_tensor:
        raise Violation(f"`{name}` should be a torch tensor{'' if shape is None else f' of shape {shape}'}, "
                        f"got {_kind(value)}{why}")
    if is_tensor and detached and value.requires_grad:
        raise Violation(f"`{name}` still requires grad: return it detached (x.detach()), a plain tensor of "
                        f"shape {tuple(value.shape) if shape is None else shape}{why}")
    try:
        arr = np.asarray(value.detach().cpu().numpy() if is_tensor else value, dtype=float)
    except Exception:  # noqa: BLE001
        raise Violation(f"`{name}` should be an array of numbers, got {_kind(value)}") from None
    if shape is not None and arr.shape != tuple(shape):
        hint = ""
        if arr.size == int(np.prod(shape)):
            hint = f": the same numbers, but the next cells index it as shape {tuple(shape)} (reshape it)"
        raise Violation(f"`{name}` has shape {arr.shape}; expected {tuple(shape)}{why}{hint}")
    return arr


def function(value, name: str, signature: str = "") -> Callable:
    """A callable; a number or anything else gets "expected a function ..., got a float"."""
    if not callable(value):
        raise Violation(f"expected a function {signature or f'`{name}`'}, got {_kind(value)}")
    return value


def unwrap(value, name: str, *, scalar: bool, namespace=None):
    """A student's SymPy answer without its wrappers, or a :class:`Violation` saying why it is not one.

    Accepted: an expression or a string; what ``sympy.solve`` returns (``[x]``, ``{lam: x}``,
    ``[{lam: x}]`` from ``dict=True``, a 1-element tuple); a 1x1 matrix for a scalar; a SymPy ``Array``,
    a numpy object array or a list of components for a vector; a 0-d array."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        raise Violation(f"`{name}` is a torch tensor; expected a SymPy expression in the question's symbols "
                        f"(use the notebook's SymPy symbols and sp.Matrix, not torch)")
    if isinstance(value, str):
        try:
            value = sympy.parse_expr(value, local_dict=dict(namespace or {}))
        except Exception as err:  # noqa: BLE001 - any parse failure is the student's to fix
            raise Violation(f"could not parse {value!r} as a SymPy expression ({type(err).__name__}: {err})") from None
    if isinstance(value, (list, tuple)) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0]                       # sympy.solve(..., dict=True) -> [{lam: x}]
    if isinstance(value, dict):
        if len(value) != 1:
            raise Violation(f"`{name}` is a dict ({value!r:.120}); expected an expression. If it came from "
                            f"sympy.solve, pick the value: `sol[lam]`.")
        value = next(iter(value.values()))
    if isinstance(value, (list, tuple)) and len(value) > 1 and all(isinstance(v, dict) for v in value):
        raise Violation(f"`{name}` holds {len(value)} solutions; pick the one the question asks for")
    if isinstance(value, sympy.Equality):
        raise Violation(f"`{name}` is an equation ({value}); expected the expression itself (its right-hand "
                        f"side, solved for the unknown)")
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            value = value.item()
        elif value.dtype == object:
            value = sympy.Matrix(value.tolist()) if value.ndim == 2 else sympy.Matrix(list(value.ravel()))
        else:
            raise Violation("got a numpy array of numbers; expected a SymPy expression in the question's symbols "
                            "(use the symbols defined in the notebook, not numeric values)")
    if isinstance(value, sympy.NDimArray):
        value = sympy.Matrix(value.tolist()) if value.rank() == 2 else sympy.Matrix(list(value))
    if isinstance(value, (list, tuple)) and scalar and len(value) == 1:
        value = value[0]                       # sympy.solve(eq, lam) -> [x]
    elif isinstance(value, (list, tuple)) and not scalar:
        try:
            value = sympy.ImmutableMatrix(value)  # a list of components is a column vector
        except Exception:  # noqa: BLE001
            raise Violation(f"`{name}` is a {type(value).__name__} that is not a vector of expressions; "
                            f"expected a column vector, e.g. sp.Matrix([..., ..., ...])") from None
    elif isinstance(value, (list, tuple)):
        raise Violation(f"`{name}` is a {type(value).__name__} of {len(value)} entries; expected one expression")
    if isinstance(value, sympy.MatrixBase) and scalar and value.shape == (1, 1):
        value = value[0, 0]                    # w.T * x is a 1x1 matrix
    if isinstance(value, sympy.MatrixBase):
        value = sympy.ImmutableMatrix(value)
    if isinstance(value, (sympy.Basic, sympy.MatrixBase)):
        return value
    if isinstance(value, (bool, np.bool_)) or callable(value):
        raise Violation(f"`{name}` is {_kind(value)}; expected a SymPy expression")
    try:
        return sympy.sympify(value, strict=True)
    except (sympy.SympifyError, TypeError):
        raise Violation(f"`{name}` is {_kind(value)}; expected a SymPy expression") from None


# --- diagnosis on chosen probes ----------------------------------------------------------------


class Diagnosis:
    """Which catalogued mistake does a student's function make? Decided once, lazily, by calling it on fixed,
    readable probe inputs where the catalogued mistakes all differ, never on Hypothesis's shrunk
    counterexample, where several mistakes coincide (all zeros, ``W_hh = 0``): a hint never names a mistake
    the student did not make.

    mistakes: ``[(hint, wrong(*probe) -> array)]``; probes: ``[(*args)]``; convert: what the student's
    function receives for a probe (e.g. tensors); read: the student's output as an array (default
    :func:`array`); rtol, atol: how close counts as a match (float32 code needs more than float64). A mistake
    is named only when the student's function matches it on every probe."""

    def __init__(self, fn, mistakes, probes, *, convert=None, read=None, rtol: float = 1e-6, atol: float = 1e-8):
        self.fn, self.mistakes, self.probes = fn, list(mistakes), list(probes)
        self.convert = convert or (lambda args: args)
        self.read = read or (lambda out: array(out, "probe"))
        self.rtol, self.atol = rtol, atol
        self._hint = None

    def hint(self) -> str:
        if self._hint is None:
            self._hint = self._find()
        return self._hint

    def _find(self) -> str:
        outs = []
        for args in self.probes:
            try:
                outs.append((args, np.asarray(self.read(call(self.fn, *self.convert(args))), float)))
            except Exception:  # noqa: BLE001, S112 - a probe the student's code cannot take tells nothing
                continue
        if not outs:
            return ""
        for hint, wrong in self.mistakes:
            try:
                with quiet():
                    alts = [np.asarray(wrong(*args), float) for args, _ in outs]
            except Exception:  # noqa: BLE001, S112 - a catalogue entry that does not apply
                continue
            if all(alt.shape == out.shape and np.all(np.isfinite(alt))
                   and np.allclose(out, alt, rtol=self.rtol, atol=self.atol) for alt, (_, out) in zip(alts, outs)):
                return hint
        return ""

    def explain(self, message: str) -> str:
        hint = self.hint()
        return f"{hint}\n({message})" if hint else message


# --- the object a check receives --------------------------------------------------------------


@dataclass
class Ask:
    """What a check needs, bound to its question's title."""

    title: str

    def fail(self, reason: str):
        raise CheckFailed(self.title, reason)

    def passed(self, detail: str = ""):
        return passed(self.title, detail)

    call = staticmethod(call)
    number = staticmethod(number)
    array = staticmethod(array)
    function = staticmethod(function)
    blank = staticmethod(blank)

    def sympy(self, value, name: str, *, scalar: bool, namespace=None):
        return unwrap(value, name, scalar=scalar, namespace=namespace)

    def statements(self, answer, table: choices.Choices, name: str, **kw):
        """Grade a multiple-choice answer against its :class:`~autograder.choices.Choices` table."""
        return choices.grade(self.title, name, answer, table, **kw)


# --- the decorator and the registry of questions ------------------------------------------------

@dataclass
class Entry:
    title: str
    check: str
    hint: str


_REGISTRY: dict[str, list[Entry]] = {}


def question(title: str, *, answers: str | tuple | None = None, hint: str = "", choices=None):
    """Decorate ``check(ask, *answers, **options)``.

    answers: the notebook's names of the required answers (default: the check's parameter names), used in
    "no answer yet: `name` is still None"; hint: the first hint, without the solution (``check.hint``);
    choices: a multiple-choice question's :class:`~autograder.choices.Choices`, which the notebook builder
    renders (``check.<name>.choices``)."""
    names = (answers,) if isinstance(answers, str) else tuple(answers or ())

    def wrap(fn):
        params = list(inspect.signature(fn).parameters.values())[1:]
        required = [p.name for p in params if p.default is p.empty and p.kind == p.POSITIONAL_OR_KEYWORD]
        labels = list(names) + required[len(names):]

        @functools.wraps(fn)
        def run(*args, **kwargs):
            ask = Ask(title)
            bound = dict(zip(required, args))
            bound.update({k: v for k, v in kwargs.items() if k in required})
            for param, label in zip(required, labels):
                if param in bound and blank(bound[param]):
                    raise not_answered(title, label)
            try:
                with one_torch_thread():
                    return fn(ask, *args, **kwargs)
            except CheckFailed:
                raise
            except NotImplementedError:
                raise CheckFailed(title, "the function is not implemented yet (it raises NotImplementedError)") from None
            except Violation as err:
                raise CheckFailed(title, err.message) from None
            except Exception as err:  # noqa: BLE001 - a student's error is feedback, not a crash
                raise CheckFailed(title, f"checking your answer raised an error: {describe_exception(err)}") from None

        # drop the `ask` parameter from what the notebook sees
        run.__signature__ = inspect.signature(fn).replace(parameters=params)
        run.title = title
        run.choices = choices
        run.answers = tuple(labels)   # what the grading stub of the check repeats
        _REGISTRY.setdefault(fn.__module__, []).append(Entry(title, fn.__name__, hint))
        return run

    return wrap


def multiple_choice(title: str, *, answers: str, choices, hint: str = "", allow_empty: bool = False, facts=None):
    """Decorate a body-less ``def name(answer): "docstring"``: a question whose check grades ``answer`` against
    ``choices`` (a :class:`~autograder.choices.Choices` table of text, truth and why), read by the one
    multiple-choice reader of :mod:`autograder.choices`.

    allow_empty: "none of them" is a valid answer; facts: a function returning the numbers some ``why``
    quote (called only when the answer is wrong)."""
    def wrap(fn):
        def check(ask, answer):
            return ask.statements(answer, choices, answers, allow_empty=allow_empty, facts=facts)

        functools.update_wrapper(check, fn)
        del check.__wrapped__   # the signature is check's own, (ask, answer)
        return question(title, answers=answers, hint=hint, choices=choices)(check)

    return wrap


def entries(module: str) -> list[Entry]:
    """The questions registered by ``module`` (and its submodules), in order."""
    return [e for m, es in _REGISTRY.items() if m == module or m.startswith(module + ".") for e in es]


def hints_of(module: str, order=None):
    """``hint(question)`` for an assignment module: the first hint of a question, by check name, title or
    number (1-based, in the module's order, or in ``order``, a list of check names); ``hint()`` lists them."""

    def hint(which=None) -> str:
        listed = entries(module)
        if order is not None:
            rank = {name: i for i, name in enumerate(order)}
            listed = sorted(listed, key=lambda e: rank.get(e.check, len(rank)))
        if which is None:
            text = "\n".join(f"{i}. {e.title} (check.{e.check})" for i, e in enumerate(listed, 1))
            print(text)
            return text
        if isinstance(which, int) and not isinstance(which, bool):
            if not 1 <= which <= len(listed):
                raise ValueError(f"there are {len(listed)} questions here, numbered 1 to {len(listed)}")
            entry = listed[which - 1]
        else:
            key = which if isinstance(which, str) else getattr(which, "title", which)   # a name, a title or a check
            found = [e for e in listed if str(key).strip().lower() in (e.check.lower(), e.title.lower())]
            if not found:
                raise ValueError(f"no question {which!r} here; call hint() to list them")
            entry = found[0]
        text = f"Hint for '{entry.title}': {entry.hint}"
        print(text)
        return text

    return hint
