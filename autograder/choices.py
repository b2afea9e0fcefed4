"""Multiple-choice answers: read what a student wrote as a set of option keys, or say why not.

Accepted forms: ``"A"``, ``"A, C"``, ``{"A", "C"}``, ``["a", "c"]`` (case is folded to the options'
case); with ``allow_empty``, ``set()`` / ``"none"`` mean "none of them".
"""
from __future__ import annotations

import re
from typing import Iterable, Mapping

from .feedback import CheckFailed, not_answered

EMPTY = ("", "none", "{}", "set()", "[]", "()")


def chosen(question: str, name: str, answer, options: Iterable[str], *, allow_empty: bool = False) -> set[str]:
    """The set of option keys in ``answer``; ``CheckFailed`` naming the problem otherwise."""
    options = list(options)
    fold = str.lower if all(o == o.lower() for o in options) else str.upper
    example = "{" + ", ".join(repr(o) for o in options[:2]) + "}"
    if answer is None or answer is Ellipsis:
        raise not_answered(question, name)
    if isinstance(answer, str):
        items = [] if answer.strip().lower() in EMPTY else [fold(c) for c in re.findall(r"[A-Za-z]", answer)]
    elif isinstance(answer, (set, frozenset, list, tuple)):
        items = []
        for item in answer:
            if not isinstance(item, str):
                raise CheckFailed(question, f"`{name}` should contain option letters such as {options[0]!r}, "
                                            f"got {item!r}")
            items += [fold(c) for c in re.findall(r"[A-Za-z]", item)]
    else:
        raise CheckFailed(question, f"`{name}` should be option letters, e.g. {options[0]!r} or {example}; "
                                    f"got {type(answer).__name__}")
    unknown = sorted(set(items) - set(options))
    if unknown:
        raise CheckFailed(question, f"unknown option(s) {', '.join(unknown)}; the options are {', '.join(options)}")
    if not items and not allow_empty:
        raise CheckFailed(question, f"`{name}` is empty: choose at least one of {', '.join(options)}")
    return set(items)


def judge(question: str, got: set, want: set, why: Mapping[str, str]):
    """Pass when ``got == want``; otherwise name the first wrong or missing option with its explanation."""
    from .feedback import passed

    if got == want:
        return passed(question)
    extra, missing = sorted(got - want), sorted(want - got)
    if extra:
        raise CheckFailed(question, f"not ({extra[0]}): {why[extra[0]]}")
    raise CheckFailed(question, f"you missed one: ({missing[0]}) {why[missing[0]]}")
