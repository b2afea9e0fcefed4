"""Multiple-choice questions: their statements as data, and one reader of what a student wrote.

A question's options are one :class:`Choices` table, ``{key: (text, true?, why)}``, written once, in its
question module: the notebook builder renders the texts into the notebook (``{choices:<question>}``, see
:mod:`autograder.course.build`), the check grades the answer against the truths and explains a wrong or a
missing option with its ``why``.

The reader is the same for every question: ``"B"``, ``"B, C"``, ``"B and C"``, ``"b c"``, ``"BC"``, ``"(B)"``,
``{"B", "C"}``, ``["b", "c"]`` all read as ``{"B", "C"}``; numbered statements read ``3``, ``{1, 3}``,
``"1, 3"`` or ``{"1", "3"}``. Case is folded to the options' case; with ``allow_empty``, ``set()`` /
``"none"`` mean "none of them".
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Option:
    """One option of a multiple-choice question.

    text: what the notebook shows (markdown; ``""`` when the options are named elsewhere, e.g. the networks
    of a figure); true: whether it belongs to the answer; why: the feedback when a student gets it wrong
    (chose it although it is false, or left it out although it is true)."""

    text: str
    true: bool
    why: str


class Choices(Mapping):
    """The options of one multiple-choice question, ``{key: Option}`` in the notebook's order.

    Keys are letters (``"A"``, or ``"a"`` for named networks) or statement numbers (``1``); ``one=True``
    makes it a single choice (exactly one option is true, and the answer names one)."""

    def __init__(self, options: Mapping, *, one: bool = False):
        self.options = {k: v if isinstance(v, Option) else Option(*v) for k, v in options.items()}
        self.one = one
        kinds = {type(k) for k in self.options}
        if not self.options or kinds - {str, int} or len(kinds) != 1:
            raise ValueError(f"expected option keys that are all letters or all numbers, got {list(self.options)}")
        if one and len(self.truth) != 1:
            raise ValueError(f"a single choice has exactly one true option, got {sorted(self.truth)}")

    def __getitem__(self, key):
        return self.options[key]

    def __iter__(self):
        return iter(self.options)

    def __len__(self):
        return len(self.options)

    @property
    def truth(self) -> set:
        return {k for k, o in self.options.items() if o.true}

    @property
    def numbered(self) -> bool:
        return all(isinstance(k, int) for k in self.options)

    @property
    def shown(self) -> bool:
        """Does the notebook show these options' texts (rendered from here)?"""
        return all(o.text for o in self.options.values())

    def markdown(self) -> str:
        """The options as the notebook shows them: ``- **A.** text`` lines, or ``1. text`` for numbers."""
        if not self.shown:
            raise ValueError("these options have no text to show (they are named elsewhere in the notebook)")
        return "\n".join(f"{k}. {o.text}" if self.numbered else f"- **{k}.** {o.text}"
                         for k, o in self.options.items())


def judge(question: str, got: set, table: Choices, facts: Mapping | None = None):
    """Pass when ``got`` is the table's truth (a single choice says why it is right); otherwise name the first
    wrong or missing option with its ``why`` (``why.format(**facts)`` when the explanation quotes numbers
    computed at grading time)."""
    want = table.truth
    if got == want:
        return passed(question, table[next(iter(got))].why if table.one else "")
    extra, missing = sorted(got - want), sorted(want - got)

    def why(key):
        text = table[key].why
        return text.format(**facts) if facts else text

    if table.numbered:
        if extra:
            raise CheckFailed(question, f"statement {extra[0]} is false: {why(extra[0])}")
        raise CheckFailed(question, f"statement {missing[0]} is true too: {why(missing[0])}")
    if extra:
        raise CheckFailed(question, f"not ({extra[0]}): {why(extra[0])}")
    raise CheckFailed(question, f"you missed one: ({missing[0]}) {why(missing[0])}")


def grade(question: str, name: str, answer, table: Choices, *, allow_empty: bool = False, facts=None):
    """Read ``answer`` (one option for a single choice, a set otherwise) and :func:`judge` it.

    facts: a function returning the numbers some ``why`` quote, called only when the answer is wrong."""
    got = {single(question, name, answer, table)} if table.one else \
        chosen(question, name, answer, table, allow_empty=allow_empty)
    return judge(question, got, table, facts() if facts and got != table.truth else None)


def single(question: str, name: str, answer, options: Iterable) -> object:
    """The one option chosen, or ``CheckFailed`` ("choose one option")."""
    got = chosen(question, name, answer, options)
    if len(got) != 1:
        raise CheckFailed(question, f"choose one option (`{name}` names {len(got)})")
    return next(iter(got))
