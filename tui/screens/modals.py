"""Modal dialogs: confirmation with amount and fee, password, account, vote, transfer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from decentralml.core.errors import DecentralMLError
from decentralml.core.types import parse_amount
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from ..views.actions import Action
from ..views.common import Token
from ..views.proposals import CONVICTION_LABELS, ProposalRow, conviction_weight


class ConfirmScreen(ModalScreen[bool]):
    """Anything that spends or locks funds: what, how much, the estimated fee. y / n."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "Confirm", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "Cancel", id="confirm.no"),
    ]

    def __init__(self, action: Action, fee: int, native: Token) -> None:
        super().__init__()
        self.action_ = action
        self.fee = fee
        self.native = native

    def compose(self) -> ComposeResult:
        a = self.action_
        with Vertical(id="dialog", classes="dialog"):
            yield Label(a.title, classes="dialog-title")
            for line in a.details:
                yield Label(line, classes="detail")
            if a.amount:
                yield Label(f"Amount: {a.token.fmt(a.amount)} ({a.effect})", id="amount")
            yield Label(f"Estimated fee: {self.native.fmt(self.fee)}", id="fee")
            with Horizontal(classes="buttons"):
                yield Button("Confirm (y)", variant="primary", id="yes")
                yield Button("Cancel (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, ok: bool) -> None:
        self.dismiss(ok)


class PasswordScreen(ModalScreen[str | None]):
    """A keystore password, masked; it goes to the unlock worker and nowhere else."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="password.cancel")
    ]

    def __init__(self, account: str, purpose: str = "") -> None:
        super().__init__()
        self.account = account
        self.purpose = purpose

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Password of {self.account}", classes="dialog-title")
            if self.purpose:
                yield Label(f"to unlock the key for: {self.purpose}", classes="detail")
            yield Input(password=True, id="password", placeholder="password")
            yield Label(
                "the key stays unlocked in this console until you switch accounts",
                classes="hint",
            )
            yield Label("enter: unlock   escape: cancel", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class AccountScreen(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="account.cancel")
    ]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Active account", classes="dialog-title")
            yield Input(self.current, id="account", placeholder="keystore name or //Bob")
            yield Label("a keystore account name, or a dev key (dev chains only)", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class VoteChoice:
    aye: bool
    balance: int
    conviction: int


class VoteScreen(ModalScreen[VoteChoice | None]):
    """Aye or nay, amount and conviction, all from the keyboard.

    ``ctrl+a``/``ctrl+n`` pick the side, ``ctrl+left``/``ctrl+right`` the conviction (or the
    select with tab), enter in the amount field submits.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="vote.cancel"),
        # priority: the amount field would take these keys otherwise
        Binding("ctrl+a", "side(True)", "Aye", id="vote.aye", priority=True),
        Binding("ctrl+n", "side(False)", "Nay", id="vote.nay", priority=True),
        Binding("ctrl+right", "conviction(1)", "Conviction +", id="vote.more", priority=True),
        Binding("ctrl+left", "conviction(-1)", "Conviction -", id="vote.less", priority=True),
    ]

    def __init__(self, proposal: ProposalRow, token: Token, aye: bool = True) -> None:
        super().__init__()
        self.proposal = proposal
        self.token = token
        self.aye = aye
        self.level = 1

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Vote on proposal {self.proposal.id}", classes="dialog-title")
            yield Label(self.proposal.summary, classes="detail")
            yield Static(id="side")
            yield Input(placeholder=f"amount in {self.token.symbol}", id="amount")
            yield Select(
                [(label, i) for i, label in enumerate(CONVICTION_LABELS)],
                value=self.level,
                allow_blank=False,
                id="conviction",
            )
            yield Label("", id="error", classes="error")
            yield Label(
                "ctrl+a aye  ctrl+n nay  ctrl+←/→ conviction  enter vote  esc cancel",
                classes="hint",
            )

    def on_mount(self) -> None:
        self._show_side()
        self.query_one("#amount", Input).focus()

    def _show_side(self) -> None:
        side = "[b green]AYE[/]" if self.aye else "[b red]NAY[/]"
        self.query_one("#side", Static).update(f"Side: {side}")

    def action_side(self, aye: bool) -> None:
        self.aye = aye
        self._show_side()

    def action_conviction(self, delta: int) -> None:
        select = self.query_one("#conviction", Select)
        value = select.value
        current = value if isinstance(value, int) else 1
        select.value = max(0, min(6, current + delta))

    def on_select_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, int):
            self.level = event.value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            balance = parse_amount(event.value, self.token.decimals)
            if balance <= 0:
                raise DecentralMLError("the amount must be positive")
        except DecentralMLError as exc:
            self.query_one("#error", Label).update(str(exc))
            return
        self.dismiss(VoteChoice(self.aye, balance, self.level))

    def action_cancel(self) -> None:
        self.dismiss(None)


__all__ = [
    "AccountScreen",
    "ConfirmScreen",
    "PasswordScreen",
    "VoteChoice",
    "VoteScreen",
    "conviction_weight",
]
