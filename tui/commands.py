"""The command palette (ctrl+p): every action of the console, by name."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

# (label, help, action string run on the app, panel to switch to first or None)
COMMANDS: list[tuple[str, str, str, str | None]] = [
    ("Tasks", "show the tasks panel", "switch_mode('tasks')", None),
    ("Proposals", "show the proposals panel", "switch_mode('proposals')", None),
    ("Balances", "show balances, holds, stakes and vote locks", "switch_mode('balances')", None),
    ("Training", "show local role processes and their progress", "switch_mode('training')", None),
    ("Models", "show the model registry and versions", "switch_mode('models')", None),
    ("New task", "create a task (wizard, reward in DML or an asset)", "screen.new_task", "tasks"),
    ("Join task", "join the highlighted task (bonds its stake)", "screen.join", "tasks"),
    ("Leave task", "leave the highlighted task", "screen.leave", "tasks"),
    ("Filter tasks", "filter the task table", "screen.filter", "tasks"),
    ("Sort tasks", "sort the task table by the next column", "screen.sort", "tasks"),
    ("Vote aye", "vote aye on the highlighted proposal", "screen.vote(True)", "proposals"),
    ("Vote nay", "vote nay on the highlighted proposal", "screen.vote(False)", "proposals"),
    (
        "New proposal",
        "version approval, licence, jurisdictions or safety",
        "screen.new_proposal",
        "proposals",
    ),
    ("Close proposal", "close the highlighted proposal (enacts it)", "screen.close", "proposals"),
    ("Transfer", "send DML or an asset", "screen.transfer", "balances"),
    ("Unlock votes", "release expired vote locks", "screen.unlock", "balances"),
    (
        "Register model",
        "upload a model's files to IPFS and register it (wizard)",
        "screen.register",
        "models",
    ),
    ("Start role process", "start a trainer, aggregator or verifier", "screen.start", "training"),
    ("Stop role process", "stop the highlighted role process", "screen.stop", "training"),
    ("Account", "switch the active account", "account", None),
    ("Toggle theme", "light or dark", "toggle_theme", None),
    ("Quit", "leave the console", "quit", None),
]


class ConsoleCommands(Provider):
    def _run(self, action: str, panel: str | None) -> None:
        app: Any = self.app
        if panel is not None and app.current_mode != panel:
            app.switch_mode(panel)
            app.call_after_refresh(app.run_action, action)
        else:
            app.call_later(app.run_action, action)

    def _callback(self, action: str, panel: str | None) -> Callable[[], None]:
        return partial(self._run, action, panel)

    async def discover(self) -> Hits:
        for label, help_, action, panel in COMMANDS:
            yield DiscoveryHit(label, self._callback(action, panel), help=help_)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for label, help_, action, panel in COMMANDS:
            score = matcher.match(f"{label} {help_}")
            if score > 0:
                yield Hit(
                    score, matcher.highlight(label), self._callback(action, panel), help=help_
                )
