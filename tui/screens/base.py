"""What every panel shares: the status bar on top, the footer below, access to the app."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from ..messages import ChainChanged
from ..services import Backend
from ..widgets.status import StatusBar

if TYPE_CHECKING:
    from ..app import ConsoleApp


class Panel(Screen[None]):
    """A panel: ``compose_body`` between the status bar and the footer."""

    @property
    def capp(self) -> ConsoleApp:
        return cast("ConsoleApp", self.app)

    @property
    def backend(self) -> Backend:
        return self.capp.backend

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_chain_changed(self, message: ChainChanged) -> None:
        self.chain_changed(message)

    def chain_changed(self, message: ChainChanged) -> None:
        """Patch what changed; override."""
