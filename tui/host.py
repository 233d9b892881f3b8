"""What a panel may ask of the console app, as a protocol (so screens never import the app).

:class:`~decentralml.tui.app.ConsoleApp` implements it (mypy checks that in ``tui/app.py``);
a screen reaches it through Textual's own ``self.app`` with :func:`host`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, cast

from decentralml.core.types import Receipt
from textual.app import App

from .backend import Backend
from .views.actions import Action


class ConsoleHost(Protocol):
    """The console's services a panel uses: the backend, the connection, the confirm flow."""

    backend: Backend

    @property
    def connected(self) -> bool:
        """The chain is connected (a panel opened later loads at once)."""
        ...

    def submit_action(
        self, action: Action, on_done: Callable[[Receipt], None] | None = None
    ) -> None: ...

    def unlock_then(self, then: Callable[[], object], purpose: str = "") -> None: ...

    def report(self, error: BaseException) -> None: ...


def host(app: App[Any]) -> ConsoleHost:
    """The running console app (``self.app`` of a screen or widget) as a :class:`ConsoleHost`."""
    return cast(ConsoleHost, app)
