"""The DecentralML console: a Textual app that holds the services and nothing else.

Panels (screens, one per mode): tasks, proposals, balances, training, models. The app
follows the chain in a thread worker (best/finalized heads every ``poll_interval`` seconds,
events of each new block) and tells every panel what changed (:class:`ChainChanged`).
Every action goes through :meth:`ConsoleApp.submit_action`: fee estimate (worker), a
confirmation dialog with amount and fee, submission (worker), a notification with the
receipt or the decoded failure.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from decentralml.core.errors import DecentralMLError, ExtrinsicFailed, KeystoreError
from decentralml.core.types import Receipt
from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState, get_current_worker

from .backend import Backend, PasswordNeeded, touched
from .commands import ConsoleCommands
from .messages import ChainChanged
from .screens.balances import BalancesScreen
from .screens.modals import ConfirmScreen, PasswordScreen
from .screens.models import ModelsScreen
from .screens.proposals import ProposalsScreen
from .screens.tasks import TasksScreen
from .screens.training import TrainingScreen
from .views.actions import Action, shortfall
from .widgets.status import Status

if TYPE_CHECKING:
    from .host import ConsoleHost

log = logging.getLogger(__name__)

MAX_CATCH_UP = 30
"""Blocks whose events are read to patch the panels; after a longer gap they reload."""

PANELS = ("tasks", "proposals", "balances", "training", "models")


def describe(error: BaseException) -> tuple[str, str]:
    """(title, message) for a notification: the decoded reason, never a traceback."""
    if isinstance(error, ExtrinsicFailed):
        where = f"{error.pallet}.{error.error}" if error.pallet else error.error
        return "Transaction failed", f"{where}: {error.docs}" if error.docs else where
    if isinstance(error, KeystoreError):
        return "Account", str(error)
    if isinstance(error, DecentralMLError):
        return type(error).__name__, str(error)
    return "Unexpected error", f"{type(error).__name__}: {error}"


class ConsoleApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "DecentralML"
    MODES: ClassVar[dict[str, str | Callable[[], Screen[None]]]] = {
        "tasks": TasksScreen,
        "proposals": ProposalsScreen,
        "balances": BalancesScreen,
        "training": TrainingScreen,
        "models": ModelsScreen,
    }
    DEFAULT_MODE = "tasks"
    COMMANDS = App.COMMANDS | {ConsoleCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "switch_mode('tasks')", "Tasks", id="panel.tasks"),
        Binding("2", "switch_mode('proposals')", "Votes", id="panel.proposals"),
        Binding("3", "switch_mode('balances')", "Funds", id="panel.balances"),
        Binding("4", "switch_mode('training')", "Train", id="panel.training"),
        Binding("5", "switch_mode('models')", "Models", id="panel.models"),
        Binding("ctrl+t", "toggle_theme", "Theme", id="app.theme", show=False),
        Binding("ctrl+o", "account", "Account", id="app.account", show=False),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    status: reactive[Status] = reactive(Status(), always_update=True)

    def __init__(
        self,
        backend: Backend,
        *,
        events_dir: Path | None = None,
        poll_interval: float = 1.0,
        follow: bool = True,
        theme: str | None = None,
    ) -> None:
        super().__init__()
        self.backend = backend
        self.events_dir = events_dir
        self.poll_interval = poll_interval
        self.follow = follow
        self.thresholds_cache = None
        if theme:
            self.theme = theme
        self.set_reactive(ConsoleApp.status, Status(url=getattr(backend, "url", "")))

    # ---- start-up and following the chain ---------------------------------------------------
    def on_mount(self) -> None:
        # After the first frame: connecting decodes the runtime metadata (about a second of
        # CPU under the GIL), which would otherwise delay the first paint.
        self.call_after_refresh(self.follow_chain)

    @work(thread=True, exclusive=True, group="heads", exit_on_error=False)
    def follow_chain(self) -> None:
        worker = get_current_worker()
        connected = False
        last: int | None = None
        while not worker.is_cancelled:
            try:
                if not connected:
                    info = self.backend.connect()
                    connected = True
                    spec, address = self.backend.account()
                    self._set_status(
                        chain=info.chain, state="connected", account=spec, address=address
                    )
                    self.post_message(ChainChanged(None, full=True))
                    last = None
                heads = self.backend.heads()
                if heads.best != last:
                    self._set_status(best=heads.best, finalized=heads.finalized, state="connected")
                    if last is not None:
                        self._new_blocks(last, heads.best)
                    last = heads.best
                else:
                    self._set_status(finalized=heads.finalized, state="connected")
            except Exception as exc:  # the node went away: say so and try again
                log.debug("chain follow failed: %s", exc)
                was = connected
                connected = False
                self._set_status(state="reconnecting" if was or last is not None else "connecting")
            if not self.follow:
                return
            deadline = time.monotonic() + self.poll_interval
            while time.monotonic() < deadline and not worker.is_cancelled:
                time.sleep(0.05)

    def _new_blocks(self, last: int, best: int) -> None:
        if best - last > MAX_CATCH_UP:  # a long outage or stall: reload everything
            self.post_message(ChainChanged(best, full=True))
            return
        first = last + 1
        events = []
        for number in range(first, best + 1):
            events += self.backend.events(number)
        tasks, proposals, models, money = touched(events)
        self.post_message(
            ChainChanged(
                best,
                tasks=frozenset(tasks),
                proposals=frozenset(proposals),
                models=frozenset(models),
                money=money,
            )
        )

    def _set_status(self, **changes: object) -> None:
        def apply() -> None:
            fields = {**self.status.__dict__, **changes}
            self.status = Status(**fields)

        with contextlib.suppress(RuntimeError):  # the app is shutting down
            self.call_from_thread(apply)

    def on_chain_changed(self, message: ChainChanged) -> None:
        """Every open panel hears about every change (those in the background too)."""
        for mode in PANELS:
            for screen in self._screen_stacks.get(mode, []):
                screen.post_message(message.copy())

    # ---- actions ------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.status.state == "connected"

    def submit_action(
        self, action: Action, on_done: Callable[[Receipt], None] | None = None
    ) -> None:
        """Estimate the fee, confirm amount and fee with the user, submit, report."""
        self._estimate(action, on_done)

    @work(thread=True, exclusive=True, group="action", exit_on_error=False)
    def _estimate(self, action: Action, on_done: Callable[[Receipt], None] | None) -> None:
        try:
            fee = self.backend.estimate(action)
        except PasswordNeeded:
            self.call_from_thread(
                self.unlock_then, lambda: self.submit_action(action, on_done), action.title
            )
            return
        # Before the dialog: can the account pay the amount (in its token) and the fee?
        problem = shortfall(
            action, fee, self.backend.funds(action.token.asset), self.backend.info.token
        )
        if problem is not None:
            self.call_from_thread(
                self.notify,
                f"{action.title}: {problem}. Nothing was sent.",
                title="Insufficient balance",
                severity="error",
                timeout=8,
            )
            return

        def decided(ok: bool | None) -> None:
            if ok:
                self._execute(action, on_done)
            else:
                self.notify(f"{action.title}: cancelled, nothing was sent", timeout=3)

        self.call_from_thread(
            self.push_screen, ConfirmScreen(action, fee, self.backend.info.token), decided
        )

    def unlock_then(self, then: Callable[[], object], purpose: str = "") -> None:
        """Run ``then`` once the active account's key is unlocked (asks for its password).

        Dev keys and unlocked keys run ``then`` at once. A wrong password is a notification
        and ``then`` does not run; escape cancels.
        """
        if not self.backend.locked():
            then()
            return
        spec, _ = self.backend.account()

        def got(password: str | None) -> None:
            if password:
                self._unlock(password, then)
            else:
                self.notify(f"{purpose or 'unlock'}: cancelled, nothing was sent", timeout=3)

        self.push_screen(PasswordScreen(spec, purpose), got)

    # The description replaces Textual's default (the method's arguments, password included),
    # which Textual writes to its log (TEXTUAL_LOG, devtools).
    @work(
        thread=True,
        exclusive=True,
        group="unlock",
        exit_on_error=False,
        description="unlock the active account",
    )
    def _unlock(self, password: str, then: Callable[[], object]) -> None:
        self.backend.unlock_account(password)
        self.call_from_thread(then)

    @work(thread=True, exclusive=True, group="action", exit_on_error=False)
    def _execute(self, action: Action, on_done: Callable[[Receipt], None] | None) -> None:
        self.call_from_thread(self.notify, f"{action.title}: sending…", timeout=3)
        receipt = self.backend.execute(action)
        token = self.backend.info.token
        self.call_from_thread(
            self.notify,
            f"{action.title}: included in block #{receipt.block_number}, "
            f"fee {token.fmt(receipt.fee)}",
            title="Done",
        )
        tasks, proposals, models, money = touched(list(receipt.events))
        self.post_message(
            ChainChanged(
                receipt.block_number,
                tasks=frozenset(tasks),
                proposals=frozenset(proposals),
                models=frozenset(models),
                money=money or True,
            )
        )
        if on_done is not None:
            self.call_from_thread(on_done, receipt)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker failures become notifications."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.report(event.worker.error)

    def report(self, error: BaseException) -> None:
        title, message = describe(error)
        log.info("%s: %s", title, message)
        self.notify(message, title=title, severity="error", timeout=8)

    # ---- app-wide actions -------------------------------------------------------------------
    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"

    def action_account(self) -> None:
        from .screens.modals import AccountScreen

        def chosen(spec: str | None) -> None:
            if spec:
                self._switch_account(spec)

        self.push_screen(AccountScreen(self.backend.account()[0]), chosen)

    @work(thread=True, exclusive=True, group="account", exit_on_error=False)
    def _switch_account(self, spec: str) -> None:
        spec, address = self.backend.set_account(spec)
        self._set_status(account=spec, address=address)
        self.post_message(ChainChanged(None, money=True))

    def on_unmount(self) -> None:
        self.backend.close()


if TYPE_CHECKING:

    def _is_a_host(app: ConsoleApp) -> ConsoleHost:
        """mypy: the app gives panels everything ``ConsoleHost`` promises."""
        return app
