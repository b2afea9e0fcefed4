"""Multiple-choice answers: read what a student wrote as a set of option keys, or say why not.

One reader for every question: ``"B"``, ``"B, C"``, ``"B and C"``, ``"b c"``, ``"BC"``, ``"(B)"``,
``{"B", "C"}``, ``["b", "c"]`` all read as ``{"B", "C"}``; numbered statements read ``3``, ``{1, 3}``,
``"1, 3"`` or ``{"1", "3"}``. Case is folded to the options' case; with ``allow_empty``, ``set()`` /
``"none"`` mean "none of them".
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from .feedback import CheckFailed, not_answered, passed

EMPTY = ("", "none", "{}", "set()", "[]", "()")
_JOINERS = {"and", "or", "und", "et", "y", "plus"}


def _tokens(text: str, keys: dict[str, object], fold) -> list[str]:
    """Option keys in a string: words are keys, joiners ("and") are skipped, "AC" is two letters."""
    out = []
    for token in re.findall(r"[A-Za-z0-9]+", text):
        if token.lower() in _JOINERS and fold(token) not in keys:
            continue
        if fold(token) in keys:
            out.append(fold(token))
        elif token.isalpha() and all(fold(c) in keys for c in token):
            out += [fold(c) for c in token]
        else:
            out.append(token)  # reported as an unknown option
    return out


def chosen(question: str, name: str, answer, options: Iterable, *, allow_empty: bool = False) -> set:
    """The set of option keys in ``answer``; ``CheckFailed`` naming the problem otherwise.

    ``options``: the keys (letters such as ``"A"``, or statement numbers such as ``1``)."""
    options = list(options)
    numbered = all(isinstance(o, int) for o in options)
    keys = {str(o): o for o in options}
    letters = [str(o) for o in options]
    fold = str.lower if all(k == k.lower() for k in letters) else str.upper
    kind = "statement numbers" if numbered else "option letters"
    example = "{" + ", ".join(repr(o) for o in options[:2]) + "}"
    if answer is None or answer is Ellipsis:
        raise not_answered(question, name)
    if numbered and isinstance(answer, int) and not isinstance(answer, bool):
        answer = {answer}
    if isinstance(answer, str):
        items = [] if answer.strip().lower() in EMPTY else _tokens(answer, keys, fold)
    elif isinstance(answer, (set, frozenset, list, tuple)):
        items = []
        for item in answer:
            if numbered and isinstance(item, int) and not isinstance(item, bool):
                items.append(str(item))
            elif isinstance(item, str):
                items += _tokens(item, keys, fold)
            else:
                raise CheckFailed(question, f"`{name}` should contain {kind} such as {options[0]!r}, got {item!r}")
    else:
        raise CheckFailed(question, f"`{name}` should be {kind}, e.g. {options[0]!r} or {example}; "
                                    f"got {type(answer).__name__}")
    unknown = sorted(set(items) - set(keys))
    if unknown:
        if numbered:
            raise CheckFailed(question, f"there is no statement {unknown[0]}; the statements are numbered "
                                        f"{letters[0]} to {letters[-1]}")
        raise CheckFailed(question, f"unknown option(s) {', '.join(unknown)}; the options are {', '.join(letters)}")
    if not items and not allow_empty:
        raise CheckFailed(question, f"`{name}` is empty: choose at least one of {', '.join(letters)}")
    return {keys[i] for i in items}


def judge(question: str, got: set, want: set, why: Mapping):
    """Pass when ``got == want``; otherwise name the first wrong or missing option with its explanation."""
    if got == want:
        return passed(question)
    extra, missing = sorted(got - want), sorted(want - got)
    if extra:
        raise CheckFailed(question, f"not ({extra[0]}): {why[extra[0]]}")
    raise CheckFailed(question, f"you missed one: ({missing[0]}) {why[missing[0]]}")


def statements(question: str, name: str, answer, table: Mapping, *, allow_empty: bool = False, numbered_text=False):
    """Grade a multiple select over ``table = {key: (true?, why)}``."""
    got = chosen(question, name, answer, table, allow_empty=allow_empty)
    want = {k for k, (truth, _) in table.items() if truth}
    if numbered_text and got != want:
        extra, missing = sorted(got - want), sorted(want - got)
        if extra:
            raise CheckFailed(question, f"statement {extra[0]} is false: {table[extra[0]][1]}")
        raise CheckFailed(question, f"statement {missing[0]} is true too: {table[missing[0]][1]}")
    return judge(question, got, want, {k: why for k, (_, why) in table.items()})


def single(question: str, name: str, answer, options: Iterable) -> object:
    """The one option chosen, or ``CheckFailed`` ("choose one option")."""
    got = chosen(question, name, answer, options)
    if len(got) != 1:
        raise CheckFailed(question, f"choose one option (`{name}` names {len(got)})")
    return next(iter(got))
