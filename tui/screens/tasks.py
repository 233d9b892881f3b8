"""Tasks: a filterable, sortable table of every task, a detail view, the wizard, join and leave."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Input, Label, Static

from ..backend import Backend
from ..host import host
from ..messages import ChainChanged
from ..views.common import Token
from ..views.tasks import TaskDetail, TaskRow, task_action
from ..widgets.status import StatusBar, short
from ..widgets.table import Column, Row, VirtualTable
from .base import Panel, ReportsWorkerErrors

STATUS_STYLE = {
    "Open": "cyan",
    "Running": "green",
    "Completed": "dim",
    "Cancelled": "dim red",
    "Expired": "dim yellow",
}

SORTS: list[tuple[str, Callable[[TaskRow], Any]]] = [
    ("id", lambda t: t.id),
    ("status", lambda t: (t.status, t.id)),
    ("reward", lambda t: (t.reward_per_round, t.id)),
    ("pool", lambda t: (t.pool, t.id)),
    ("trainers", lambda t: (t.trainers, t.id)),
    ("model", lambda t: (t.model, t.id)),
]

COLUMNS = [
    Column("ID", 6, right=True),
    Column("MODEL", 5, right=True),
    Column("STATUS", 9),
    Column("REWARD/ROUND", 14, right=True),
    Column("ROUND", 7, right=True),
    Column("TRAINERS", 8, right=True),
    Column("STAKE", 11, right=True),
    Column("POOL", 0, right=True),
]


class TasksScreen(Panel):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="tasks.filter"),
        Binding("s", "sort", "Sort", id="tasks.sort"),
        Binding("S", "reverse", "Reverse", id="tasks.reverse", show=False),
        Binding("n", "new_task", "New task", id="tasks.new"),
        Binding("J", "join", "Join", id="tasks.join"),
        Binding("L", "leave", "Leave", id="tasks.leave"),
        Binding("r", "reload", "Reload", id="tasks.reload", show=False),
        Binding("escape", "clear_filter", "Clear filter", id="tasks.clear", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.all: dict[int, TaskRow] = {}
        self.cells: dict[int, Row] = {}
        self.search: dict[int, str] = {}
        self.ordered: list[int] = []
        self.sort_index = 0
        self.descending = False
        self.tokens: dict[int | None, Token] = {}
        self.loaded = False

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="task-bar", classes="bar"):
            yield Input(placeholder="/ filter: id, status, model, sponsor, asset…", id="filter")
        yield VirtualTable(COLUMNS, empty="loading tasks…", id="tasks")
        yield Label("", id="task-summary", classes="summary")

    def on_mount(self) -> None:
        self.query_one("#tasks", VirtualTable).focus()
        self.load_if_connected()

    # ---- loading ------------------------------------------------------------------------------
    def chain_changed(self, message: ChainChanged) -> None:
        if message.full or not self.loaded:
            self.request_load()
        elif message.tasks:
            self.load_some(sorted(message.tasks))

    def action_reload(self) -> None:
        self.request_load()

    @work(thread=True, exclusive=True, group="tasks-load", exit_on_error=False)
    def start_load(self) -> None:
        try:
            tokens: dict[int | None, Token] = {None: self.backend.info.token}
            for token in self.backend.assets():
                tokens[token.asset] = token
            rows = self.backend.tasks()
            self.app.call_from_thread(self._loaded, rows, tokens)
        finally:
            self.load_finished()

    @work(thread=True, group="tasks-patch", exit_on_error=False)
    def load_some(self, ids: list[int]) -> None:
        rows = [self.backend.task(i) for i in ids]
        self.app.call_from_thread(self._patched, [r for r in rows if r is not None])

    def _token(self, asset: int | None) -> Token:
        return self.tokens.get(asset) or Token(f"#{asset}", 0, asset)

    def _row(self, t: TaskRow) -> Row:
        token = self._token(t.asset)
        return Row(
            t.id,
            (
                str(t.id),
                str(t.model),
                Text(t.status, style=STATUS_STYLE.get(t.status, "")),
                token.fmt(t.reward_per_round),
                f"{min(t.next_round, t.total_rounds)}/{t.total_rounds}",
                f"{t.trainers}/{t.max_trainers}",
                token.fmt(t.stake),
                token.fmt(t.pool),
            ),
        )

    def _index(self, t: TaskRow) -> None:
        self.all[t.id] = t
        self.cells[t.id] = self._row(t)
        token = self._token(t.asset)
        self.search[t.id] = (
            f"{t.id} #{t.id} {t.status} model {t.model} m{t.model} {t.sponsor} {token.symbol} "
            f"{t.aggregation} {' '.join(t.jurisdictions)} {t.privacy}"
        ).lower()

    def _loaded(self, rows: list[TaskRow], tokens: dict[int | None, Token]) -> None:
        self.tokens = tokens
        self.all, self.cells, self.search = {}, {}, {}
        for t in rows:
            self._index(t)
        self.loaded = True
        self.query_one("#tasks", VirtualTable).empty = "no tasks match"
        self._resort()

    def _patched(self, rows: list[TaskRow]) -> None:
        added = False
        table = self.query_one("#tasks", VirtualTable)
        for t in rows:
            added = added or t.id not in self.all
            self._index(t)
            if not added:
                table.replace_row(self.cells[t.id])
        if added:
            self._resort()

    # ---- filter and sort ------------------------------------------------------------------------
    def _resort(self) -> None:
        _, key = SORTS[self.sort_index]
        self.ordered = sorted(self.all, key=lambda i: key(self.all[i]), reverse=self.descending)
        self._apply_filter()

    def _apply_filter(self) -> None:
        query = self.query_one("#filter", Input).value.strip().lower()
        if query:
            terms = query.split()
            keys = [i for i in self.ordered if all(term in self.search[i] for term in terms)]
        else:
            keys = self.ordered
        cells = self.cells
        self.query_one("#tasks", VirtualTable).set_rows([cells[i] for i in keys])
        name, _ = SORTS[self.sort_index]
        arrow = "↓" if self.descending else "↑"
        self.query_one("#task-summary", Label).update(
            f"{len(keys):,} of {len(self.all):,} tasks · sort {name} {arrow} · "
            "enter details · n new · J join · L leave"
        )

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self._apply_filter()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#tasks", VirtualTable).focus()

    def action_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        self.query_one("#filter", Input).value = ""
        self.query_one("#tasks", VirtualTable).focus()

    def action_sort(self) -> None:
        self.sort_index = (self.sort_index + 1) % len(SORTS)
        self._resort()

    def action_reverse(self) -> None:
        self.descending = not self.descending
        self._resort()

    # ---- actions ------------------------------------------------------------------------------
    def _current(self) -> TaskRow | None:
        key = self.query_one("#tasks", VirtualTable).current_key
        return None if key is None else self.all.get(key)

    def on_virtual_table_selected(self, event: VirtualTable.Selected) -> None:
        task = self.all.get(event.key)
        if task is not None:
            self.app.push_screen(TaskDetailScreen(task, self._token(task.asset)))

    def action_join(self) -> None:
        task = self._current()
        if task is not None:
            self.capp.submit_action(task_action("join_task", task, self._token(task.asset)))

    def action_leave(self) -> None:
        task = self._current()
        if task is not None:
            self.capp.submit_action(task_action("leave_task", task, self._token(task.asset)))

    def action_new_task(self) -> None:
        self.open_wizard()

    @work(thread=True, exclusive=True, group="tasks-wizard", exit_on_error=False)
    def open_wizard(self) -> None:
        from .forms import TaskWizard

        models = [
            (m.id, m.name) for m in self.backend.models() if m.status in ("Active", "Flagged")
        ]
        tokens = [self.backend.info.token, *self.backend.assets()]

        def created(action: Any) -> None:
            if action is not None:
                self.capp.submit_action(action)

        self.app.call_from_thread(self.app.push_screen, TaskWizard(models, tokens), created)


class TaskDetailScreen(ReportsWorkerErrors):
    """One task: terms, the running round, participants, updates and rewards."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "app.pop_screen", "Back", id="detail.back"),
        Binding("J", "join", "Join", id="detail.join"),
        Binding("L", "leave", "Leave", id="detail.leave"),
        Binding("t", "train", "Train", id="detail.train"),
    ]

    def __init__(self, task: TaskRow, token: Token) -> None:
        super().__init__()
        self.task_row = task
        self.token = token

    def compose(self) -> ComposeResult:
        yield StatusBar()
        with VerticalScroll(id="detail"):
            yield Static(id="terms", classes="section")
            yield Static(id="round", classes="section")
            yield Static(id="participants", classes="section")
            yield Static(id="updates", classes="section")
            yield Static(id="verifiers", classes="section")
        yield Footer()

    def on_mount(self) -> None:
        self._show_terms(self.task_row)
        self.query_one("#round", Static).update("loading…")
        self.load()

    def on_chain_changed(self, message: ChainChanged) -> None:
        if message.full or self.task_row.id in message.tasks:
            self.load()

    @work(thread=True, exclusive=True, group="task-detail", exit_on_error=False)
    def load(self) -> None:
        detail = self.backend.task_detail(self.task_row.id)
        if detail is not None:
            self.app.call_from_thread(self._show, detail)

    @property
    def backend(self) -> Backend:
        return host(self.app).backend

    def _show_terms(self, t: TaskRow) -> None:
        f = self.token.fmt
        lines = [
            f"[b]Task {t.id}[/b]  model {t.model}  [{STATUS_STYLE.get(t.status, '')}]{t.status}[/]",
            f"sponsor {t.sponsor}",
            f"reward {f(t.reward_per_round)} per round x {t.total_rounds}   pool left {f(t.pool)}",
            f"stake {f(t.stake)}   trainers {t.trainers} "
            f"(min {t.min_trainers}, max {t.max_trainers})",
            f"rounds of {t.round_length} blocks, challenge window {t.challenge_window}, "
            f"aggregation {t.aggregation}",
            f"jurisdictions {' '.join(t.jurisdictions) or 'anywhere'}   "
            f"aggregator {short(t.aggregator) if t.aggregator else 'none'}",
            f"privacy {t.privacy}",
        ]
        self.query_one("#terms", Static).update("\n".join(lines))

    def _show(self, d: TaskDetail) -> None:
        self.task_row = d.task
        self._show_terms(d.task)
        f = self.token.fmt
        if d.round is None:
            round_text = f"[b]Round[/b] none running (next {d.task.next_round})"
        else:
            r = d.round
            status = r.get("status")
            status = next(iter(status)) if isinstance(status, dict) else status
            round_text = (
                f"[b]Round {r.get('index')}[/b] {status}  opened #{r.get('opened_at')}  "
                f"commit by #{r.get('deadline')}  reveal by #{r.get('reveal_end')}\n"
                f"  committed {r.get('commitments')} of {r.get('expected')}  "
                f"revealed {r.get('submissions')}"
            )
        if d.pending is not None:
            pend = d.pending
            status = pend.get("status")
            status = next(iter(status)) if isinstance(status, dict) else status
            agg = pend.get("aggregate") or {}
            round_text += (
                f"\n[b]Pending round {pend.get('index')}[/b] {status}  "
                f"aggregated #{agg.get('submitted_at', '?')}"
            )
        total = d.task.reward_per_round * d.task.total_rounds
        round_text += f"\n[b]Rewards[/b] paid {f(d.paid_out)} of {f(total)}"
        if d.privacy_spent is not None:
            who = "per trainer" if d.task.privacy_terms.mode == "dp-sgd" else "the aggregate"
            round_text += (
                f"\n[b]Privacy[/b] {d.task.privacy_terms.describe(d.privacy_spent)} "
                f"(at most, {who})"
            )
        self.query_one("#round", Static).update(round_text)
        lines = [f"[b]Participants[/b] ({len(d.participants)})"]
        for p in d.participants:
            leaving = " leaving" if p.leaving else ""
            lines.append(
                f"  {short(p.trainer)}  stake {f(p.stake)}  from round {p.first_round}{leaving}"
            )
        self.query_one("#participants", Static).update("\n".join(lines))
        lines = [f"[b]Updates this round[/b] ({len(d.updates)})"]
        for u in d.updates:
            flagged = ""
            if u.flags:
                confirmed = d.threshold and u.flags >= d.threshold
                flagged = (
                    "  [red]free rider (confirmed)[/]"
                    if confirmed
                    else f"  [yellow]reported by {u.flags}[/]"
                )
            lines.append(
                f"  {short(u.trainer)}  round {u.round}  {u.samples} samples  "
                f"loss {u.loss:.4f}  acc {u.accuracy:.3f}  {u.cid[:16]}…{flagged}"
            )
        self.query_one("#updates", Static).update("\n".join(lines))
        self.query_one("#verifiers", Static).update("\n".join(attestation_lines(d)))

    def action_join(self) -> None:
        self.app.submit_action(task_action("join_task", self.task_row, self.token))  # type: ignore[attr-defined]

    def action_leave(self) -> None:
        self.app.submit_action(task_action("leave_task", self.task_row, self.token))  # type: ignore[attr-defined]

    def action_train(self) -> None:
        self.app.switch_mode("training")


def attestation_lines(d: TaskDetail) -> list[str]:
    """The verifiers section: who is bonded and how they attested the running aggregate."""
    agree = sum(1 for a in d.attestations if a.agrees)
    disagree = len(d.attestations) - agree
    head = f"[b]Verifiers[/b] ({len(d.verifiers)} bonded, {d.threshold} decide)"
    if d.pending is not None and d.pending.get("aggregate"):
        head += f"   attestations: [green]{agree} agree[/]  "
        head += f"[red]{disagree} disagree[/]" if disagree else "0 disagree"
    lines = [head]
    attested = {a.verifier: a.agrees for a in d.attestations}
    for v in d.verifiers:
        verdict = attested.get(v)
        text = "not attested" if verdict is None else ("agrees" if verdict else "[red]DISAGREES[/]")
        lines.append(f"  {short(v)}  {text}")
    return lines
