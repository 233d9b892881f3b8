"""What every panel shares: the status bar on top, the footer below, access to the app."""

from __future__ import annotations

import contextlib
from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from ..backend import Backend
from ..host import ConsoleHost, host
from ..messages import ChainChanged
from ..widgets.status import StatusBar


class ReportsWorkerErrors(Screen[None]):
    """A screen whose failed workers become notifications.

    ``Worker.StateChanged`` does not bubble, so a screen's worker errors never reach
    ``ConsoleApp.on_worker_state_changed`` by themselves: hand them over here.
    """

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            report = getattr(self.app, "report", None)
            if report is not None:
                report(event.worker.error)


class Panel(ReportsWorkerErrors):
    """A panel: ``compose_body`` between the status bar and the footer."""

    @property
    def capp(self) -> ConsoleHost:
        return host(self.app)

    @property
    def backend(self) -> Backend:
        return self.capp.backend

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    _loading = False
    _pending = False

    def request_load(self) -> None:
        """A full reload, at most one at a time (a request during a load runs after it)."""
        if self._loading:
            self._pending = True
            return
        self._loading, self._pending = True, False
        self.start_load()

    def start_load(self) -> Any:
        """Start the panel's full-load worker, which calls :meth:`load_done` at its end."""
        self.load_done()

    def load_finished(self) -> None:
        """From the load worker's thread: the load is over (whatever its outcome)."""
        with contextlib.suppress(RuntimeError):  # the app is shutting down
            self.app.call_from_thread(self.load_done)

    def load_done(self) -> None:
        self._loading = False
        if self._pending:
            self.request_load()

    def load_if_connected(self) -> None:
        """First load of a panel opened after start-up (before, the connection triggers it)."""
        if self.capp.connected:
            self.chain_changed(ChainChanged(None, full=True))

    def on_chain_changed(self, message: ChainChanged) -> None:
        self.chain_changed(message)

    def chain_changed(self, message: ChainChanged) -> None:
        """Patch what changed; override."""
