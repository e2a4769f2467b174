"""A benchmark's result: one Markdown table with a title and a line on how it was measured."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class Table:
    title: str
    how: str
    columns: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(cell) for cell in cells])

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", self.how, ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        if self.notes:
            lines.append("")
            lines += [f"* {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


def verdict(met: bool, detail: str = "") -> str:
    """The last column of a row that has a target."""
    word = "met" if met else "**missed**"
    return f"{word} ({detail})" if detail else word
