"""Balances and staking: native and asset balances, what is held and why, stakes, unlocks."""

from __future__ import annotations

from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from ..messages import ChainChanged
from ..views.balances import BalanceView, unlock_action
from .base import Panel

REASONS = {
    "DecentralMl.TrainerStake": "trainer stakes",
    "DecentralMl.TaskReward": "task reward pools (escrow)",
    "DecentralMl.ModelDeposit": "model deposits",
    "DecentralMl.AggregatorBond": "aggregator bonds",
    "DecentralMl.ChallengeBond": "challenge bonds",
    "DecentralMl.ProposalDeposit": "proposal deposits",
    "DecentralMl.Voting": "votes (conviction lock)",
}


class BalancesScreen(Panel):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "transfer", "Transfer", id="balances.transfer"),
        Binding("u", "unlock", "Unlock votes", id="balances.unlock"),
        Binding("r", "reload", "Reload", id="balances.reload", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.view: BalanceView | None = None
        self.best = 0

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="balances"):
            yield Static("loading…", id="native", classes="section")
            yield Static(id="held", classes="section")
            yield Static(id="assets", classes="section")
            yield Static(id="stakes", classes="section")
            yield Static(id="unlocks", classes="section")

    def on_mount(self) -> None:
        self.query_one("#balances", VerticalScroll).focus()
        self.load_if_connected()

    def chain_changed(self, message: ChainChanged) -> None:
        if message.block is not None:
            self.best = message.block
        if message.full or message.money or self.view is None:
            self.request_load()

    def action_reload(self) -> None:
        self.request_load()

    @work(thread=True, exclusive=True, group="balances-load", exit_on_error=False)
    def start_load(self) -> None:
        try:
            _, address = self.backend.account()
            if not address:
                self.app.call_from_thread(
                    self.query_one("#native", Static).update,
                    "no active account: ctrl+o (or ctrl+p → account) to choose one",
                )
                return
            view = self.backend.balance(address)
            self.app.call_from_thread(self.show, view)
        finally:
            self.load_finished()

    def show(self, v: BalanceView) -> None:
        self.view = v
        f = v.token.fmt
        self.query_one("#native", Static).update(
            f"[b]{v.address}[/b]\n"
            f"free {f(v.free)}   transferable [b]{f(v.transferable)}[/b]\n"
            f"held {f(v.reserved)}   frozen {f(v.frozen)}"
        )
        lines = ["[b]Held, frozen and locked[/b]"]
        for item in v.held:
            why = REASONS.get(item.reason, item.reason)
            lines.append(f"  {item.kind:7} {item.token.fmt(item.amount):>24}  {why}")
        if len(lines) == 1:
            lines.append("  nothing")
        self.query_one("#held", Static).update("\n".join(lines))
        lines = ["[b]Assets[/b]"]
        for token, amount in v.assets:
            lines.append(f"  {token.symbol:8} #{token.asset:<4} {token.fmt(amount):>28}")
        if len(lines) == 1:
            lines.append("  none")
        self.query_one("#assets", Static).update("\n".join(lines))
        lines = ["[b]Stakes per task[/b]"]
        for task, stake, token, leaving in v.stakes:
            lines.append(
                f"  task {task:<6} {token.fmt(stake):>24}{'  (leaving)' if leaving else ''}"
            )
        if len(lines) == 1:
            lines.append("  none")
        self.query_one("#stakes", Static).update("\n".join(lines))
        lines = ["[b]Vote locks (unlock schedule)[/b]"]
        for proposal, balance, conviction, unlock_at in sorted(v.unlocks, key=lambda u: u[3]):
            left = unlock_at - self.best
            when = "unlockable now (u)" if left <= 0 and self.best else f"at #{unlock_at}"
            if left > 0 and self.best:
                when += f" (in {left} blocks)"
            lines.append(f"  proposal {proposal:<5} {f(balance):>24}  {conviction:9} {when}")
        if len(lines) == 1:
            lines.append("  none")
        self.query_one("#unlocks", Static).update("\n".join(lines))

    def action_transfer(self) -> None:
        self.open_transfer()

    @work(thread=True, exclusive=True, group="balances-form", exit_on_error=False)
    def open_transfer(self) -> None:
        from .forms import TransferForm

        tokens = [self.backend.info.token, *self.backend.assets()]

        def made(action: Any) -> None:
            if action is not None:
                self.capp.submit_action(action)

        self.app.call_from_thread(self.app.push_screen, TransferForm(tokens), made)

    def action_unlock(self) -> None:
        _, address = self.backend.account()
        if address:
            self.capp.submit_action(unlock_action(address))
