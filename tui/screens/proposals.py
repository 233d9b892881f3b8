"""Proposals: tally bars, thresholds and time left; detail; voting; new proposals."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Label, Static

from ..messages import ChainChanged
from ..views.proposals import ProposalRow, Thresholds, close_action, vote_action
from ..widgets.status import StatusBar, short
from ..widgets.table import Column, Row, VirtualTable
from ..widgets.tally import TallyBar, tally_bar
from .base import Panel, ReportsWorkerErrors

PERBILL = 1_000_000_000

STATUS_STYLE = {"Ongoing": "cyan", "Passed": "green", "Rejected": "red", "NoQuorum": "yellow"}

COLUMNS = [
    Column("ID", 5, right=True),
    Column("PROPOSAL", 0),
    Column("TALLY", 12),
    Column("AYE", 5, right=True),
    Column("QUORUM", 6, right=True),
    Column("LEFT", 7, right=True),
    Column("STATUS", 8),
]


def time_left(blocks: int, block_time_s: float) -> str:
    if blocks <= 0:
        return "ended"
    seconds = int(blocks * block_time_s)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}"
    return f"{seconds // 86400}d"


def thresholds_of(p: ProposalRow, t: Thresholds) -> tuple[int, int]:
    """(quorum, approval) in perbill for this proposal's kind."""
    if p.safety:
        return t.safety_quorum, t.safety_approval
    return t.standard_quorum, t.standard_approval


def quorum_share(p: ProposalRow, quorum: int, issuance: int) -> float:
    """Turnout as a share of the quorum (>= 1.0: quorum reached)."""
    needed = issuance * quorum // PERBILL
    return p.support / needed if needed else 1.0


class ProposalsScreen(Panel):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "vote(True)", "Aye", id="proposals.aye"),
        Binding("x", "vote(False)", "Nay", id="proposals.nay"),
        Binding("p", "new_proposal", "Propose", id="proposals.new"),
        Binding("c", "close", "Close", id="proposals.close"),
        Binding("o", "only_open", "Open only", id="proposals.open"),
        Binding("r", "reload", "Reload", id="proposals.reload", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.all: dict[int, ProposalRow] = {}
        self.thresholds = Thresholds()
        self.issuance = 0
        self.best = 0
        self.only_open = False
        self.loaded = False

    def compose_body(self) -> ComposeResult:
        yield VirtualTable(COLUMNS, empty="loading proposals…", id="proposals")
        yield Label("", id="proposal-summary", classes="summary")

    def on_mount(self) -> None:
        self.query_one("#proposals", VirtualTable).focus()
        self.load_if_connected()

    def chain_changed(self, message: ChainChanged) -> None:
        if message.block is not None:
            self.best = message.block
        if message.full or not self.loaded:
            self.request_load()
        elif message.proposals:
            self.load_some(sorted(message.proposals))
        elif message.block is not None and self.loaded:
            self._redraw()  # time left moves with every block

    def action_reload(self) -> None:
        self.request_load()

    @work(thread=True, exclusive=True, group="proposals-load", exit_on_error=False)
    def start_load(self) -> None:
        try:
            thresholds = self.backend.thresholds()
            issuance = self.backend.total_issuance()
            best = self.backend.heads().best
            rows = self.backend.proposals()
            self.app.call_from_thread(self._loaded, rows, thresholds, issuance, best)
        finally:
            self.load_finished()

    @work(thread=True, group="proposals-patch", exit_on_error=False)
    def load_some(self, ids: list[int]) -> None:
        rows = [self.backend.proposal(i) for i in ids]
        self.app.call_from_thread(self._patched, [r for r in rows if r is not None])

    def _loaded(self, rows: list[ProposalRow], t: Thresholds, issuance: int, best: int) -> None:
        self.thresholds, self.issuance, self.best = t, issuance, max(best, self.best)
        self.all = {p.id: p for p in rows}
        self.loaded = True
        self.query_one("#proposals", VirtualTable).empty = "no proposals (p: propose)"
        self._redraw()

    def _patched(self, rows: list[ProposalRow]) -> None:
        for p in rows:
            self.all[p.id] = p
        self._redraw()
        for screen in self.app.screen_stack:
            if isinstance(screen, ProposalDetailScreen) and screen.proposal.id in self.all:
                screen.show(self.all[screen.proposal.id], self.thresholds, self.issuance, self.best)

    def row(self, p: ProposalRow) -> Row:
        quorum, approval = thresholds_of(p, self.thresholds)
        share = quorum_share(p, quorum, self.issuance)
        return Row(
            p.id,
            (
                str(p.id),
                p.summary,
                tally_bar(p.ayes, p.nays, 12, approval),
                f"{p.approval() * 100:.0f}%" if p.ayes + p.nays else "-",
                Text(f"{min(share, 9.99) * 100:.0f}%", style="green" if share >= 1 else "yellow"),
                time_left(p.ends_at - self.best, self.backend.info.block_time_s)
                if p.status == "Ongoing"
                else "-",
                Text(p.status, style=STATUS_STYLE.get(p.status, "")),
            ),
        )

    def _redraw(self) -> None:
        rows = sorted(self.all.values(), key=lambda p: (p.status != "Ongoing", -p.id))
        if self.only_open:
            rows = [p for p in rows if p.status == "Ongoing"]
        self.query_one("#proposals", VirtualTable).set_rows([self.row(p) for p in rows])
        ongoing = sum(1 for p in self.all.values() if p.status == "Ongoing")
        self.query_one("#proposal-summary", Label).update(
            f"{ongoing} ongoing of {len(self.all)} · a aye · x nay · p propose · c close · "
            "enter details"
        )

    def _current(self) -> ProposalRow | None:
        key = self.query_one("#proposals", VirtualTable).current_key
        return None if key is None else self.all.get(key)

    def on_virtual_table_selected(self, event: VirtualTable.Selected) -> None:
        p = self.all.get(event.key)
        if p is not None:
            screen = ProposalDetailScreen(p)
            self.app.push_screen(screen)
            screen.show(p, self.thresholds, self.issuance, self.best)

    def action_only_open(self) -> None:
        self.only_open = not self.only_open
        self._redraw()

    def action_vote(self, aye: bool) -> None:
        p = self._current()
        if p is not None:
            open_vote(self.capp, p, aye)

    def action_close(self) -> None:
        p = self._current()
        if p is not None:
            self.capp.submit_action(close_action(p))

    def action_new_proposal(self) -> None:
        self.open_wizard()

    @work(thread=True, exclusive=True, group="proposals-wizard", exit_on_error=False)
    def open_wizard(self) -> None:
        from .forms import ProposalWizard

        models = [(m.id, m.name) for m in self.backend.models()]
        deposit = self.backend.thresholds().proposal_deposit

        def made(action: Any) -> None:
            if action is not None:
                self.capp.submit_action(action)

        wizard = ProposalWizard(models, deposit, self.backend.info.token)
        self.app.call_from_thread(self.app.push_screen, wizard, made)


def open_vote(app: Any, p: ProposalRow, aye: bool) -> None:
    from .modals import VoteChoice, VoteScreen

    if p.status != "Ongoing":
        app.notify(f"proposal {p.id} is {p.status}: voting is closed", severity="warning")
        return

    def chosen(choice: VoteChoice | None) -> None:
        if choice is not None:
            app.submit_action(vote_action(p, choice.aye, choice.balance, choice.conviction))

    app.push_screen(VoteScreen(p, app.backend.info.token, aye), chosen)


class ProposalDetailScreen(ReportsWorkerErrors):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "app.pop_screen", "Back", id="pdetail.back"),
        Binding("a", "vote(True)", "Aye", id="pdetail.aye"),
        Binding("x", "vote(False)", "Nay", id="pdetail.nay"),
        Binding("c", "close", "Close", id="pdetail.close"),
    ]

    def __init__(self, proposal: ProposalRow) -> None:
        super().__init__()
        self.proposal = proposal
        self._pending: tuple[ProposalRow, Thresholds, int, int] | None = None
        self._ready = False

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with VerticalScroll(id="detail"):
            yield Static(id="head", classes="section")
            yield TallyBar(id="tally")
            yield Static(id="numbers", classes="section")
        yield Footer()

    def on_mount(self) -> None:
        self._ready = True
        if self._pending is not None:
            self.show(*self._pending)

    def show(self, p: ProposalRow, t: Thresholds, issuance: int, best: int) -> None:
        self.proposal = p
        if not self._ready:
            self._pending = (p, t, issuance, best)
            return
        token = getattr(self.app, "backend").info.token  # noqa: B009
        quorum, approval = thresholds_of(p, t)
        share = quorum_share(p, quorum, issuance)
        block_time = getattr(self.app, "backend").info.block_time_s  # noqa: B009
        self.query_one("#head", Static).update(
            f"[b]Proposal {p.id}[/b]  {p.kind}  "
            f"[{STATUS_STYLE.get(p.status, '')}]{p.status}[/]\n{p.summary}\n"
            f"proposer {short(p.proposer)}  deposit {token.fmt(p.deposit)}"
        )
        self.query_one("#tally", TallyBar).update(
            p.ayes,
            p.nays,
            approval,
            f"ayes {token.fmt(p.ayes)}   nays {token.fmt(p.nays)}",
        )
        needed = issuance * quorum // PERBILL
        self.query_one("#numbers", Static).update(
            f"approval {p.approval() * 100:.1f}% (needs {approval * 100 / PERBILL:.2f}%)\n"
            f"turnout {token.fmt(p.support)} of quorum {token.fmt(needed)} "
            f"({'reached' if share >= 1 else 'not reached'})\n"
            f"created #{p.created_at}  ends #{p.ends_at}  "
            f"({time_left(p.ends_at - best, block_time) if p.status == 'Ongoing' else 'closed'})"
        )

    def action_vote(self, aye: bool) -> None:
        open_vote(self.app, self.proposal, aye)

    def action_close(self) -> None:
        self.app.submit_action(close_action(self.proposal))  # type: ignore[attr-defined]
