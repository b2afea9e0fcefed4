"""How a check tells a student the outcome.

Checks are written with :func:`autograder.question.question`. A failed check raises :class:`CheckFailed`, an ``AssertionError`` (so nbgrader scores the cell 0)
whose notebook rendering is the message alone, not a wall of autograder frames.
"""
from __future__ import annotations

import textwrap


class CheckFailed(AssertionError):
    """A wrong, incomplete or missing answer. The message says what is wrong and how to look."""

    def __init__(self, question: str, reason: str):
        self.question = question
        self.reason = reason.strip()
        super().__init__(f"{question}: {self.reason}")

    def _render_traceback_(self):  # IPython shows these lines instead of the traceback
        lines = [f"\x1b[31m✗ {self.question}\x1b[0m"]
        lines += ["  " + line for line in self.reason.splitlines()]
        return lines


class Passed(str):
    """The ✓ message of a passed check. :func:`passed` prints it once; as the value of a notebook cell it
    displays nothing, so a check cell does not echo it a second time as ``Out[..]``."""

    def _ipython_display_(self):
        pass


def passed(question: str, detail: str = "") -> Passed:
    message = Passed(f"✓ {question}" + (f": {detail}" if detail else ""))
    print(message)
    return message


def not_answered(question: str, name: str) -> CheckFailed:
    return CheckFailed(question, f"no answer yet: `{name}` is still None (or `...`). "
                                 f"Fill in the cell above and run it, then run this check again.")


def describe_exception(err: BaseException) -> str:
    if isinstance(err, NotImplementedError):
        return "the function is not implemented yet (it raises NotImplementedError)"
    text = f"{type(err).__name__}: {err}"
    return textwrap.shorten(text, width=400, placeholder=" ...")

