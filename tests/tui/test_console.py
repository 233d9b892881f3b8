"""Console behaviour with an in-memory backend: tables, dialogs, bad input, reconnection, training."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from decentralml.core.errors import ExtrinsicFailed
from decentralml.tui.app import ConsoleApp
from decentralml.tui.entry import _command_index, main
from decentralml.tui.screens.forms import TaskWizard
from decentralml.tui.screens.modals import ConfirmScreen, PasswordScreen, VoteScreen
from decentralml.tui.screens.proposals import ProposalsScreen
from decentralml.tui.screens.tasks import TaskDetailScreen, TasksScreen
from decentralml.tui.screens.training import TrainingScreen
from decentralml.tui.widgets.table import VirtualTable
from textual.pilot import Pilot
from textual.widgets import Input, Label

from .fakes import DML, FakeBackend
from .helpers import screen_text, until

Flow = Callable[[ConsoleApp, Pilot[None]], Awaitable[None]]


def run(
    flow: Flow, backend: FakeBackend | None = None, tmp_path: Path | None = None
) -> FakeBackend:
    backend = backend or FakeBackend()
    app = ConsoleApp(backend, events_dir=tmp_path, poll_interval=0.05)

    async def go() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await until(pilot, lambda: getattr(app.screen, "loaded", False), "tasks")
            await flow(app, pilot)

    asyncio.run(go())
    return backend


def tasks_table(app: ConsoleApp) -> VirtualTable:
    return app.screen.query_one("#tasks", VirtualTable)


def test_filter_and_sort_the_task_table() -> None:
    async def flow(app: ConsoleApp, pilot: Pilot[None]) -> None:
        table = tasks_table(app)
        assert len(table.rows) == 14
        await pilot.press("slash", *"running")
        statuses = {str(r.cells[2]) for r in table.rows}
        assert statuses == {"Running"} and len(table.rows) == 4
        await pilot.press("escape")
        assert len(table.rows) == 14 and table.has_focus
        await pilot.press("s", "s", "s")  # id -> status -> reward -> pool
        pools = [app.screen.all[r.key].pool for r in table.rows]  # type: ignore[attr-defined]
        assert pools == sorted(pools)
        await pilot.press("S")
        pools = [app.screen.all[r.key].pool for r in table.rows]  # type: ignore[attr-defined]
        assert pools == sorted(pools, reverse=True)
        await pilot.press("end")
        assert table.cursor == 13
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TaskDetailScreen), "the task detail")
        await until(pilot, lambda: "Participants" in screen_text(app), "participants")

    run(flow)


def test_join_shows_amount_and_fee_and_cancel_sends_nothing() -> None:
    async def flow(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("J")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        text = screen_text(app)
        assert "Join task 0" in text and "Amount: 0.1 DML (staked)" in text
        assert "Estimated fee: 0.00123456789 DML" in text
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, TasksScreen), "back to tasks")
        assert backend.sent == []
        await pilot.press("J")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        await pilot.press("y")
        await until(pilot, lambda: app.screen.all[0].trainers == 1, "the join")  # type: ignore[attr-defined]
        assert "1/5" in [str(c) for c in tasks_table(app).rows[0].cells]

    backend = FakeBackend()
    run(flow, backend)
    assert [a.call for a in backend.sent] == ["join_task"]


def test_a_failed_extrinsic_is_a_notification_with_the_decoded_reason() -> None:
    backend = FakeBackend()
    backend.fail_next = ExtrinsicFailed("DecentralMl", "TaskFull", "The task has no free seat.")

    async def flow(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("J")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        await pilot.press("y")
        await until(pilot, lambda: bool(app._notifications), "a notification")
        messages = [n.message for n in app._notifications]
        assert any("DecentralMl.TaskFull: The task has no free seat." in m for m in messages)
        assert "Traceback" not in screen_text(app)
        assert app.screen.all[0].trainers == 0  # type: ignore[attr-defined]

    run(flow, backend)
    assert backend.sent == []


def test_the_node_going_away_and_coming_back() -> None:
    backend = FakeBackend()

    async def flow(app: ConsoleApp, pilot: Pilot[None]) -> None:
        assert app.status.state == "connected"
        backend.down = True
        await until(pilot, lambda: app.status.state == "reconnecting", "reconnecting")
        assert "reconnecting" in screen_text(app)
        await pilot.press("J")  # an action while the node is away: a notification, no dialog
        await until(pilot, lambda: bool(app._notifications), "a notification")
        assert any("unreachable" in n.message for n in app._notifications)
        assert not isinstance(app.screen, ConfirmScreen)
        backend.down = False
        backend.best = 200
        await until(pilot, lambda: app.status.state == "connected", "connected again")
        await until(pilot, lambda: app.status.best == 200, "the new head")

    run(flow, backend)
    assert backend.sent == []


def test_wrong_password_then_right_password() -> None:
    backend = FakeBackend(account="keyed")

    async def flow(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("J")
        await until(pilot, lambda: isinstance(app.screen, PasswordScreen), "password")
        await pilot.press(*"wrong", "enter")
        await until(pilot, lambda: bool(app._notifications), "a notification")
        assert any("wrong password" in n.message for n in app._notifications)
        assert "wrong" not in screen_text(app).replace("wrong password", "")
        await pilot.press("J")
        await until(pilot, lambda: isinstance(app.screen, PasswordScreen), "password again")
        await pilot.press(*"right", "enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        await pilot.press("y")
        await until(pilot, lambda: bool(backend.sent), "the join")

    run(flow, backend)
    assert [a.call for a in backend.sent] == ["join_task"]


def test_vote_from_the_keyboard_changes_the_tally() -> None:
    async def flow(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("2")
        screen = app.screen
        assert isinstance(screen, ProposalsScreen)
        await until(pilot, lambda: screen.loaded, "proposals")
        table = screen.query_one("#proposals", VirtualTable)
        while table.current_key != 1:
            await pilot.press("down")
        await pilot.press("x")  # nay
        await until(pilot, lambda: isinstance(app.screen, VoteScreen), "the vote dialog")
        await pilot.press(*"-3", "enter")
        assert "malformed amount" in str(app.screen.query_one("#error", Label).render())
        app.screen.query_one("#amount", Input).value = ""
        await pilot.press("3", "ctrl+right", "ctrl+right", "enter")  # Locked3x
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        assert "Vote nay on proposal 1" in screen_text(app)
        assert "Amount: 3 DML (locked)" in screen_text(app)
        await pilot.press("y")
        await until(pilot, lambda: screen.all[1].nays == 6 * DML + 9 * DML, "the tally")

    backend = run(flow)
    assert backend.sent[0].params["conviction"] == "Locked3x"


def test_wizard_validates_inline_and_creates_a_task() -> None:
    async def flow(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("ctrl+p")
        await pilot.press(*"new task")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TaskWizard), "the wizard")
        await pilot.press("ctrl+n")
        app.screen.query_one("#reward", Input).value = "1.2.3"
        await pilot.press("ctrl+s")
        assert "malformed amount" in str(app.screen.query_one("#error", Label).render())
        assert isinstance(app.screen, TaskWizard)
        app.screen.query_one("#reward", Input).value = "2"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        assert "Amount: 6 DML (escrowed)" in screen_text(app)  # 2 DML x 3 rounds
        await pilot.press("y")
        await until(pilot, lambda: 14 in app.screen.all, "the new task")  # type: ignore[attr-defined]

    backend = run(flow)
    assert [a.call for a in backend.sent] == ["create_task"]


def test_training_panel_follows_an_events_file(tmp_path: Path) -> None:
    run_dir = tmp_path / "trainer-3-5Grw"
    run_dir.mkdir()
    events = run_dir / "events.jsonl"
    lines = [
        {
            "ts": 1.0,
            "role": "trainer",
            "account": "5Grw",
            "task": 3,
            "round": r,
            "phase": "submitted",
            "loss": 1.0 / (r + 1),
            "accuracy": 0.5 + r / 10,
            "samples": 100,
            "message": f"round {r} done",
        }
        for r in range(3)
    ]
    events.write_text("".join(json.dumps(x) + "\n" for x in lines))

    async def flow(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("4")
        screen = app.screen
        assert isinstance(screen, TrainingScreen)
        await until(pilot, lambda: screen.monitor is not None and screen.monitor.runs, "the run")
        await until(pilot, lambda: "submitted" in screen_text(app), "the phase")
        run_ = screen.monitor.runs["trainer-3-5Grw"]  # type: ignore[union-attr]
        assert sorted(run_.metrics) == [0, 1, 2] and run_.metrics[2] == (1.0 / 3, 0.7)
        with events.open("a") as fh:  # a role appends: the panel follows without a keypress
            fh.write(
                json.dumps({**lines[0], "round": 3, "phase": "error", "message": "boom"}) + "\n"
            )
        await until(pilot, lambda: run_.phase == "error", "the appended event")
        await until(pilot, lambda: "boom" in screen_text(app), "the log line")

    run(flow, tmp_path=tmp_path)


def test_theme_toggle_and_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")

    async def flow(app: ConsoleApp, pilot: Pilot[None]) -> None:
        assert app.no_color
        dark = app.current_theme.dark
        await pilot.press("ctrl+t")
        assert app.current_theme.dark != dark

    run(flow)


def test_entry_point_routes_console_and_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert _command_index([]) is None
    assert _command_index(["--url", "ws://x", "console"]) == 2
    assert _command_index(["--json", "task", "list"]) == 1
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "console" in out and "task" in out
