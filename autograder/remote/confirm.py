"""Which test cells the judge's record confirms: read from the instructor's notebook with ``ast``.

In the instructor's (source) notebook, the names bound to the check module (``from
autograder.questions import bptt as check``, ``import autograder.questions.bptt as check``) are
its aliases. A test cell's **required checks** are the calls ``alias.name(...)`` in its source, each
with its literal keyword options (``check.bptt(bptt, batch=True)`` -> ``("bptt", {"batch": True})``).

A test cell keeps its points only when, for every required check, the judge recorded a pass of
that check with exactly those options (:func:`unconfirmed`); what the kernel printed does not count.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field


LITERALS = (type(None), bool, int, float, str)


def recorded(options: dict) -> dict:
    """The keyword options of a check call as the record keeps them (JSON): the literals, and tuples or lists
    of literals as lists (``seq_lens=(4, 14)`` -> ``[4, 14]``); other values are left out, on both sides."""
    def plain(v):
        if type(v) in LITERALS:
            return v
        if type(v) in (tuple, list) and all(type(x) in LITERALS for x in v):
            return list(v)
        return NotImplemented

    return {k: p for k, v in options.items() if (p := plain(v)) is not NotImplemented}


@dataclass(frozen=True)
class Required:
    check: str
    options: dict = field(default_factory=dict, hash=False)

    def __str__(self):
        opts = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"check.{self.check}(...{opts})"


def _parse(source: str):
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def aliases(nb, module: str) -> set[str]:
    """The names the notebook's cells bind to ``module`` (e.g. ``autograder.questions.bptt``)."""
    parent, _, leaf = module.rpartition(".")
    out = set()
    for cell in _code_cells(nb):
        tree = _parse(cell.source)
        for node in ast.walk(tree) if tree else ():
            if isinstance(node, ast.ImportFrom) and node.module == parent and node.level == 0:
                out |= {a.asname or a.name for a in node.names if a.name == leaf}
            elif isinstance(node, ast.Import):
                out |= {a.asname for a in node.names if a.name == module and a.asname}
    return out


def _uses(tree, names: set[str]):
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in names:
            yield node


def used_names(nb, module: str) -> set[str]:
    """Every ``alias.name`` the notebook's cells use, calls or not."""
    names = aliases(nb, module)
    return {node.attr for cell in _code_cells(nb) if (tree := _parse(cell.source)) for node in _uses(tree, names)}


def required_checks(nb, module: str, checks: set[str]) -> dict[str, list[Required]]:
    """``{grade id: [Required]}`` for the test cells (graded, not solution) that call one of ``checks``."""
    names = aliases(nb, module)
    out = {}
    for cell in _code_cells(nb):
        meta = cell.metadata.get("nbgrader", {})
        tree = _parse(cell.source)
        if not meta.get("grade") or meta.get("solution") or tree is None:
            continue
        calls = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    isinstance(node.func.value, ast.Name) and node.func.value.id in names and node.func.attr in checks:
                options = {}
                for kw in node.keywords:
                    try:
                        options[kw.arg] = ast.literal_eval(kw.value)
                    except ValueError:
                        pass   # not a literal: the judge does not record it either
                calls.append(Required(node.func.attr, recorded(options)))
        if calls:
            out[meta["grade_id"]] = calls
    return out


def unconfirmed(required: dict[str, list[Required]], verdicts: list[dict]) -> dict[str, str]:
    """``{grade id: why}`` for the test cells whose checks the record does not confirm."""
    def matching(r: Required):
        return [v for v in verdicts if v.get("check") == r.check and v.get("options") == r.options]

    out = {}
    for gid, calls in required.items():
        reasons = []
        for r in calls:
            seen = matching(r)
            if not seen:
                reasons.append(f"{r}: the check did not reach the grader")
            elif not any(v.get("passed") for v in seen):
                reasons.append(f"{r}: the check failed at the grader ({seen[-1].get('message', '')[:160]})")
        if reasons:
            out[gid] = "; ".join(reasons)
    return out
