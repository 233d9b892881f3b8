"""Training: local role processes with live per-round loss and accuracy, phase and logs."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from decentralml.core.errors import InputError
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, RichLog

from ..training import RoleMonitor, RoleRun, default_roles_dir
from ..widgets.table import Column, Row, VirtualTable
from .base import Panel

COLUMNS = [
    Column("RUN", 0),
    Column("ROLE", 10),
    Column("TASK", 5, right=True),
    Column("ROUND", 5, right=True),
    Column("PHASE", 11),
    Column("STATE", 10),
]

PHASE_STYLE = {"error": "red", "rejected": "red", "challenged": "yellow", "done": "dim"}


class TrainingScreen(Panel):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "start", "Start role", id="training.start"),
        Binding("k", "stop", "Stop", id="training.stop"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.monitor: RoleMonitor | None = None
        self.selected: str | None = None

    def compose_body(self) -> ComposeResult:
        from textual_plotext import PlotextPlot  # plotext costs ~0.15 s: only for this panel

        with Vertical(id="training"):
            yield VirtualTable(COLUMNS, empty="no role processes (t: start one)", id="runs")
            with Horizontal(id="training-lower"):
                yield PlotextPlot(id="plot")
                with Vertical(id="training-side"):
                    yield Label("", id="phase")
                    yield RichLog(id="log", max_lines=500, wrap=True, markup=False)

    def on_mount(self) -> None:
        root = getattr(self.app, "events_dir", None) or default_roles_dir()
        self.monitor = RoleMonitor(root)
        self._draw_plot(None)
        self.query_one("#runs", VirtualTable).focus()
        self.poll()
        self.set_interval(1.0, self.poll)

    @work(thread=True, exclusive=True, group="training-poll", exit_on_error=False)
    def poll(self) -> None:
        if self.monitor is None:
            return
        changed = self.monitor.poll()
        if changed or (not self.query_one("#runs", VirtualTable).rows and self.monitor.runs):
            self.app.call_from_thread(self._refresh, changed)

    def _row(self, run: RoleRun) -> Row:
        last = run.last
        return Row(
            hash(run.key) & 0x7FFFFFFF,
            (
                run.key,
                run.role,
                str(last.task) if last else "",
                "" if last is None or last.round is None else str(last.round),
                Text(run.phase, style=PHASE_STYLE.get(run.phase, "")),
                run.state,
            ),
        )

    def _keys(self) -> dict[int, str]:
        assert self.monitor is not None
        return {hash(k) & 0x7FFFFFFF: k for k in self.monitor.runs}

    def _refresh(self, changed: list[str]) -> None:
        assert self.monitor is not None
        table = self.query_one("#runs", VirtualTable)
        table.set_rows([self._row(run) for run in self.monitor.runs.values()])
        if self.selected is None and self.monitor.runs:
            self.selected = next(iter(self.monitor.runs))
            self._show(self.selected, full=True)
        elif self.selected in changed:
            self._show(self.selected, full=False)

    def on_virtual_table_highlighted(self, event: VirtualTable.Highlighted) -> None:
        if event.table.id != "runs" or event.key is None:
            return
        key = self._keys().get(event.key)
        if key is not None and key != self.selected:
            self.selected = key
            self._show(key, full=True)

    def _show(self, key: str, *, full: bool) -> None:
        assert self.monitor is not None
        run = self.monitor.runs[key]
        log = self.query_one("#log", RichLog)
        if full:
            log.clear()
            self._shown = 0
        shown = getattr(self, "_shown", 0)
        for event in run.events[shown:] if shown <= len(run.events) else run.events:
            stamp = time.strftime("%H:%M:%S", time.localtime(event.ts))
            where = "" if event.round is None else f" r{event.round}"
            log.write(f"{stamp}{where} {event.phase}: {event.message}")
        self._shown = len(run.events)
        last = run.last
        phase = run.phase if last is None else f"{last.role} task {last.task}: {run.phase}"
        spent = "" if run.epsilon is None else f"   DP-SGD epsilon spent {run.epsilon:.2f}"
        self.query_one("#phase", Label).update(f"{phase} ({run.state}){spent}")
        self._draw_plot(run)

    def _draw_plot(self, run: RoleRun | None) -> None:
        from textual_plotext import PlotextPlot

        plot = self.query_one("#plot", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("loss / accuracy per round")
        if run is not None and run.metrics:
            rounds = sorted(run.metrics)
            losses = [(r, run.metrics[r][0]) for r in rounds if run.metrics[r][0] is not None]
            accs = [(r, run.metrics[r][1]) for r in rounds if run.metrics[r][1] is not None]
            if losses:
                plt.plot(
                    [r for r, _ in losses], [v for _, v in losses], label="loss", marker="braille"
                )
            if accs:
                plt.plot(
                    [r for r, _ in accs], [v for _, v in accs], label="accuracy", marker="braille"
                )
            plt.xlabel("round")
        plot.refresh()

    # ---- actions ------------------------------------------------------------------------------
    def action_start(self) -> None:
        from .forms import RoleRequest, StartRoleForm

        def chosen(request: Any) -> None:
            if isinstance(request, RoleRequest):
                # A keystore account's role signs in its own process: it needs the password,
                # asked here (once per console session) and handed over in its environment.
                purpose = f"start a {request.role} process for task {request.task}"
                self.capp.unlock_then(lambda: self.start_role(request), purpose)

        self.app.push_screen(StartRoleForm(), chosen)

    @work(thread=True, group="training-start", exit_on_error=False)
    def start_role(self, request: Any) -> None:
        assert self.monitor is not None
        spec, _ = self.backend.account()
        if not spec:
            raise InputError("choose an account first (ctrl+o)")
        if self.backend.locked():  # the password dialog was skipped or failed
            raise InputError(f"the key of {spec} is locked: nothing was started")
        url = str(getattr(self.backend, "url", ""))
        run = self.monitor.start(
            request.role,
            request.task,
            spec,
            request.data,
            url,
            password=self.backend.role_password(),
        )
        self.app.call_from_thread(
            self.notify, f"started {run.key} (pid {run.process.pid if run.process else '?'})"
        )
        self.app.call_from_thread(self._refresh, [run.key])

    def action_stop(self) -> None:
        if self.monitor is not None and self.selected is not None:
            if self.monitor.stop(self.selected):
                self.notify(f"stopping {self.selected}")
            else:
                self.notify(
                    "that run was not started by this console, or has ended", severity="warning"
                )

    def on_unmount(self) -> None:
        if self.monitor is not None:
            self.monitor.stop_all()
