"""Read ``sympy.srepr`` text back into an expression without ``eval`` or ``sympify``.

``srepr`` writes an expression as nested constructor calls: ``Add(Mul(Integer(2), Symbol('x',
real=True)), pi)``. :func:`read` parses that text with :func:`ast.parse` and builds the expression
itself, accepting only

* calls of SymPy's own classes, by name (subclasses of ``Basic``, ``MatrixBase`` or ``NDimArray``
  defined in ``sympy``: ``Add``, ``Symbol``, ``tanh``, ``ImmutableDenseMatrix``, ``ExprCondPair``,
  ...), and ``Function('f')(...)`` for an undefined function;
* SymPy's named constants as bare names (``pi``, ``E``, ``I``, ``oo``, ``nan``, ``true``, ...);
* as arguments: those, integer and float literals (with a sign), ``True``/``False``/``None``,
  lists and tuples of arguments, and keyword arguments whose values are such literals;
* string literals only as the name of ``Symbol``, ``Dummy``, ``Wild``, ``Function`` and ``Str``
  and as the digits of ``Float`` (checked to be a number): every other constructor would hand a
  string to ``sympify``, which evaluates it.

The constructors evaluate as they do when the student builds the expression, so the result equals
the original (``==``), not only prints the same. Anything else (attribute access, a name that is not
SymPy's, a subscript, a lambda, deeper nesting than ``MAX_DEPTH``, text longer than ``MAX_CHARS``) is
a :class:`SreprError` saying what was refused.
"""
from __future__ import annotations

import ast
import functools
import re

import sympy
from sympy.core.function import AppliedUndef
from sympy.tensor.array import NDimArray

MAX_CHARS = 4 << 20
MAX_DEPTH = 200
NAMED = frozenset({"Symbol", "Dummy", "Wild", "Function", "Str"})   # constructors whose string is a name
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|nan)")


class SreprError(ValueError):
    """The text is not an ``srepr`` this reader accepts."""


KINDS = (sympy.Basic, sympy.MatrixBase, NDimArray)


@functools.cache
def _classes() -> dict:
    """SymPy's classes by name (the top-level name first; then every subclass defined in ``sympy``)."""
    out, todo = {}, list(KINDS)
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if str(getattr(cls, "__module__", None)).startswith("sympy.") and not cls.__name__.startswith("_") \
                and not issubclass(cls, AppliedUndef):   # Function('f') makes those: a name, not a class of SymPy's
            out.setdefault(cls.__name__, cls)
    out.update({n: v for n in dir(sympy) if isinstance(v := getattr(sympy, n), type) and issubclass(v, KINDS)})
    return out


def _constructor(name: str):
    if name == "Function":
        return sympy.Function
    return _classes().get(name)


def _constant(name: str):
    value = getattr(sympy, name, None)
    return value if isinstance(value, sympy.Basic) and not isinstance(value, type) else None


def _literal(node):
    """An int, float, bool or None literal (a sign allowed), else a SreprError."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand)
        if isinstance(value, bool) or value is None:
            raise SreprError("a sign in front of True, False or None")
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (bool, int, float))):
        return node.value
    raise SreprError(f"not a literal: {ast.dump(node)[:80]}")


def _build(node, depth: int):
    if depth > MAX_DEPTH:
        raise SreprError(f"nested deeper than {MAX_DEPTH}")
    if isinstance(node, ast.Name):
        value = _constant(node.id)
        if value is None:
            raise SreprError(f"{node.id!r} is not one of SymPy's named constants")
        return value
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_build(e, depth + 1) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Call):
        return _call(node, depth)
    return _literal(node)


def _call(node: ast.Call, depth: int):
    if isinstance(node.func, ast.Call):   # Function('f')(x): an undefined function, applied
        func = _call(node.func, depth + 1)
        if not isinstance(func, sympy.core.function.UndefinedFunction):
            raise SreprError("only Function('name') may be applied to arguments")
        name = "Function('...')"
    elif isinstance(node.func, ast.Name):
        name = node.func.id
        func = _constructor(name)
        if func is None:
            raise SreprError(f"{name!r} is not a SymPy constructor")
    else:
        raise SreprError(f"a call of {ast.dump(node.func)[:80]}")
    if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
        raise SreprError("* or ** in a call")
    args = []
    for i, arg in enumerate(node.args):
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            if i == 0 and name in NAMED:
                args.append(arg.value)
            elif i == 0 and name == "Float" and NUMBER.fullmatch(arg.value):
                args.append(arg.value)
            else:
                raise SreprError(f"a string argument to {name} (only the name of a symbol or function, and a "
                                 f"Float's digits, may be text)")
        else:
            args.append(_build(arg, depth + 1))
    kwargs = {k.arg: _literal(k.value) for k in node.keywords}
    try:
        return func(*args, **kwargs)
    except SreprError:
        raise
    except Exception as err:  # noqa: BLE001 - a constructor refusing its arguments: the text is not valid
        raise SreprError(f"{name}(...) refused its arguments: {type(err).__name__}: {str(err)[:200]}") from None


def read(text: str):
    """The SymPy object that ``sympy.srepr`` wrote as ``text`` (see the module docstring)."""
    if not isinstance(text, str):
        raise SreprError(f"expected text, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise SreprError(f"{len(text)} characters, more than {MAX_CHARS}")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        raise SreprError(f"not an expression: {type(err).__name__}: {str(err)[:200]}") from None
    try:
        return _build(tree.body, 0)
    except RecursionError:
        raise SreprError("nested too deeply") from None
