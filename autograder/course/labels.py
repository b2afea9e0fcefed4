"""Readable names for grade cells: the question number and the first words of its text.

The notebooks introduce each question in Markdown as ``**Q<n> (<points> points...).** <text>``
(several questions may share a cell; one whose text begins on the next line takes its section's
``## <n>. <title>``). Walking the notebook in order, each grade cell takes the
first question introduced since the previous grade cell; a grade cell with none new belongs to
the question before it (a question checked by two cells). A notebook without such markers falls
back to its grade ids.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

MARKER = re.compile(r"\*\*Q(\d+)\b[^*]*\*\*[.:]?\s*(.*)")
TITLE_CHARS = 60


@dataclass(frozen=True)
class Label:
    grade_id: str
    number: str        # "Q3", or "" when the notebook names no question
    title: str         # the first words of the question's text

    def __str__(self) -> str:
        return f"{self.number} {self.title}".strip() if self.number else self.grade_id


def _title(text: str) -> str:
    """The question's text up to its first full stop or colon, cut to ``TITLE_CHARS``."""
    text = re.split(r"(?<=[^.\s])(?<!e\.g)(?<!i\.e)[.:](?:\s|$)", text.strip(), maxsplit=1)[0].strip()
    return text if len(text) <= TITLE_CHARS else text[:TITLE_CHARS - 1].rstrip() + "…"


def labels(nb) -> dict[str, Label]:
    """``{grade_id: Label}`` for every grade cell of the notebook ``nb`` (nbformat node)."""
    out, pending, last, section = {}, [], None, ""
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            if pending:
                last = pending.pop(0)
            gid = meta["grade_id"]
            out[gid] = Label(gid, *last) if last else Label(gid, "", "")
        elif cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("## "):
                    section = _title(re.sub(r"^##\s+(\d+\.\s*)?", "", line))
                found = MARKER.search(line)
                if found:   # a question whose text starts on the next line is named by its section
                    pending.append((f"Q{found.group(1)}", _title(found.group(2)) or section))
    return out
