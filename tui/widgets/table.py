"""A virtual table: renders only the visible lines, so 10,000 rows filter and scroll at once.

Textual's DataTable keeps a widget-side copy of every cell and measures them as rows are
added; replacing 10,000 rows on every keystroke of a filter costs far more than a frame.
This table holds a plain list of rows (tuples of cells) and draws each visible line through
the Line API (``render_line``), so filtering is one list comprehension and a refresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cell = str | Text


@dataclass(frozen=True)
class Column:
    label: str
    width: int
    """Cells are cut to this width; 0 means 'take what is left'."""
    right: bool = False


@dataclass(frozen=True)
class Row:
    key: int
    cells: tuple[Cell, ...]


class VirtualTable(ScrollView, can_focus=True):
    """Rows of cells under a fixed header line, one highlighted cursor row."""

    DEFAULT_CSS = """
    VirtualTable { height: 1fr; background: $surface; }
    VirtualTable > .virtual-table--header { text-style: bold; background: $panel; }
    VirtualTable > .virtual-table--cursor { background: $block-cursor-blurred-background; }
    VirtualTable:focus > .virtual-table--cursor {
        background: $block-cursor-background; color: $block-cursor-foreground;
        text-style: $block-cursor-text-style;
    }
    VirtualTable > .virtual-table--empty { color: $text-muted; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "virtual-table--header",
        "virtual-table--cursor",
        "virtual-table--empty",
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("enter", "select", "Open", id="table.open"),
    ]

    cursor: reactive[int] = reactive(0, always_update=True, repaint=False)

    class Highlighted(Message):
        def __init__(self, table: VirtualTable, key: int | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

    class Selected(Message):
        def __init__(self, table: VirtualTable, key: int) -> None:
            super().__init__()
            self.table = table
            self.key = key

    def __init__(
        self,
        columns: Sequence[Column],
        *,
        empty: str = "nothing here",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = list(columns)
        self.rows: list[Row] = []
        self.empty = empty

    # ---- data -----------------------------------------------------------------------------------
    def set_rows(self, rows: list[Row], *, keep_key: bool = True) -> None:
        """Replace the rows; the cursor stays on the same key when it is still there."""
        old = self.current_key if keep_key else None
        self.rows = rows
        self.virtual_size = Size(self.size.width, len(rows) + 1)
        index = 0
        if old is not None:
            for i, row in enumerate(rows):
                if row.key == old:
                    index = i
                    break
        self.cursor = min(index, max(0, len(rows) - 1))
        self.refresh()

    def replace_row(self, row: Row) -> bool:
        """Update one row in place (live updates); False if its key is not shown."""
        for i, old in enumerate(self.rows):
            if old.key == row.key:
                self.rows[i] = row
                self.refresh()
                return True
        return False

    @property
    def current_key(self) -> int | None:
        if 0 <= self.cursor < len(self.rows):
            return self.rows[self.cursor].key
        return None

    # ---- cursor -------------------------------------------------------------------------------
    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, len(self.rows) - 1)) if self.rows else 0

    def watch_cursor(self, value: int) -> None:
        visible = max(1, self.size.height - 1)
        top = int(self.scroll_offset.y)
        if value < top:
            self.scroll_to(y=value, animate=False, immediate=True)
        elif value >= top + visible:
            self.scroll_to(y=value - visible + 1, animate=False, immediate=True)
        self.refresh()
        self.post_message(self.Highlighted(self, self.current_key))

    def action_cursor(self, delta: int) -> None:
        self.cursor += delta

    def action_page(self, direction: int) -> None:
        self.cursor += direction * max(1, self.size.height - 2)

    def action_jump(self, where: int) -> None:
        self.cursor = 0 if where == 0 else len(self.rows) - 1

    def action_select(self) -> None:
        key = self.current_key
        if key is not None:
            self.post_message(self.Selected(self, key))

    def on_click(self, event: events.Click) -> None:
        if event.y >= 1:
            self.cursor = int(self.scroll_offset.y) + event.y - 1
            if event.chain == 2:
                self.action_select()

    def on_resize(self, _event: events.Resize) -> None:
        self.virtual_size = Size(self.size.width, len(self.rows) + 1)

    # ---- rendering ----------------------------------------------------------------------------
    def _widths(self, width: int) -> list[int]:
        fixed = sum(c.width + 1 for c in self.columns if c.width)
        flex = [c for c in self.columns if not c.width]
        rest = max(4, width - fixed - len(flex))
        return [c.width or rest // max(1, len(flex)) for c in self.columns]

    def _line(self, cells: Sequence[Cell], widths: list[int]) -> Text:
        line = Text(no_wrap=True, overflow="crop")
        for i, (cell, column, width) in enumerate(zip(cells, self.columns, widths, strict=False)):
            text = cell if isinstance(cell, Text) else Text(str(cell))
            if text.cell_len > width:
                text = text.copy()
                text.truncate(width, overflow="ellipsis")
            pad = width - text.cell_len
            if column.right:
                line.append(" " * pad)
                line.append_text(text)
            else:
                line.append_text(text)
                line.append(" " * pad)
            if i < len(self.columns) - 1:
                line.append(" ")
        return line

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        widths = self._widths(width)
        if y == 0:
            style = self.get_component_rich_style("virtual-table--header")
            text = self._line([c.label for c in self.columns], widths)
            return self._strip(text, width, base + style)
        index = int(self.scroll_offset.y) + y - 1
        if not self.rows and y == 1:
            style = self.get_component_rich_style("virtual-table--empty")
            return self._strip(Text(self.empty), width, base + style)
        if index >= len(self.rows):
            return Strip.blank(width, base)
        text = self._line(self.rows[index].cells, widths)
        style = base
        if index == self.cursor:
            style = base + self.get_component_rich_style("virtual-table--cursor")
        return self._strip(text, width, style)

    def _strip(self, text: Text, width: int, style: Style) -> Strip:
        segments = [
            Segment(seg.text, style + seg.style if seg.style else style, seg.control)
            for seg in text.render(self.app.console)
        ]
        return Strip(segments).adjust_cell_length(width, style)
