"""The status bar: chain, best and finalized block, connection state and the active account."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widget import Widget


@dataclass(frozen=True)
class Status:
    chain: str = "…"
    best: int | None = None
    finalized: int | None = None
    state: str = "connecting"
    """'connecting', 'connected', 'reconnecting'"""
    account: str = ""
    address: str = ""
    url: str = ""


def short(address: str) -> str:
    return address if len(address) <= 13 else f"{address[:6]}…{address[-4:]}"


class StatusBar(Widget):
    """One line at the top of every panel; follows ``app.status``."""

    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; color: $foreground; }
    StatusBar.-down { background: $error 40%; }
    """

    def __init__(self, status: Status | None = None) -> None:
        super().__init__()
        self.status = status or Status()

    def on_mount(self) -> None:
        if hasattr(self.app, "status"):
            self.watch(self.app, "status", self._follow, init=True)

    def _follow(self, status: Status) -> None:
        self.status = status
        self.set_class(status.state != "connected", "-down")
        self.refresh()

    def render(self) -> Text:
        s = self.status
        marks = {"connected": ("●", "green"), "connecting": ("○", "yellow")}
        mark, colour = marks.get(s.state, ("✕", "red"))
        parts = Text(no_wrap=True, overflow="ellipsis")
        parts.append(f" {s.chain} ", style="bold")
        parts.append("│ ")
        best = "-" if s.best is None else f"#{s.best:,}"
        fin = "-" if s.finalized is None else f"#{s.finalized:,}"
        parts.append(f"{best} (fin {fin}) ")
        parts.append("│ ")
        parts.append(f"{mark} {s.state} ", style=colour)
        parts.append("│ ")
        if s.account:
            parts.append(f"{s.account} {short(s.address)}", style="bold")
        else:
            parts.append("no account (ctrl+p: account)", style="italic")
        return parts
