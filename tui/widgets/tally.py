"""Tally bars: ayes against nays, with the approval threshold marked."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

PERBILL = 1_000_000_000


def tally_bar(ayes: int, nays: int, width: int, approval: int = PERBILL // 2) -> Text:
    """``██████▌░░░`` in green (ayes) and red (nays); ``│`` marks the approval threshold."""
    width = max(3, width)
    total = ayes + nays
    bar = Text(no_wrap=True)
    mark = min(width - 1, round(width * approval / PERBILL))
    if total == 0:
        cells = ["·"] * width
        cells[mark] = "│"
        bar.append("".join(cells), style="dim")
        return bar
    filled = round(width * ayes / total)
    for i in range(width):
        char = "│" if i == mark else ("█" if i < filled else "░")
        style = "green" if i < filled else "red"
        if i == mark:
            style = f"bold {style}"
        bar.append(char, style=style)
    return bar


class TallyBar(Widget):
    """A wide tally bar with the numbers underneath (proposal detail)."""

    DEFAULT_CSS = """
    TallyBar { height: 2; }
    """

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.ayes = 0
        self.nays = 0
        self.approval = PERBILL // 2
        self.caption = ""

    def update(self, ayes: int, nays: int, approval: int, caption: str) -> None:
        self.ayes, self.nays, self.approval, self.caption = ayes, nays, approval, caption
        self.refresh()

    def render(self) -> Text:
        text = tally_bar(self.ayes, self.nays, self.size.width or 40, self.approval)
        text.append("\n")
        text.append(self.caption)
        return text
