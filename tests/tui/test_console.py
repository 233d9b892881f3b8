"""Console behaviour with an in-memory backend: tables, dialogs, bad input, reconnection, training."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from decentralml.core.errors import ExtrinsicFailed
from decentralml.tui.app import ConsoleApp
from decentralml.tui.entry import _command_index, main
from decentralml.tui.screens.forms import ModelWizard, StartRoleForm, TaskWizard
from decentralml.tui.screens.modals import ConfirmScreen, PasswordScreen, VoteScreen
from decentralml.tui.screens.proposals import ProposalsScreen
from decentralml.tui.screens.tasks import TaskDetailScreen, TasksScreen
from decentralml.tui.screens.training import TrainingScreen
from decentralml.tui.views.actions import LOCKED, Action, Funds, shortfall
from decentralml.tui.views.common import NATIVE
from decentralml.tui.widgets.table import VirtualTable
from textual.pilot import Pilot
from textual.widgets import Input, Label, Select

from .fakes import DCC, DML, FakeBackend
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


# ---- registering a model, passwords, balance checks ---------------------------------------------
def model_files(tmp_path: Path) -> tuple[Path, Path]:
    arch, weights = tmp_path / "model.json", tmp_path / "weights.npz"
    arch.write_text('{"layers": [64, 32, 10]}')
    weights.write_bytes(b"\x93NUMPY fake weights")
    return arch, weights


def error_text(app: ConsoleApp) -> str:
    return str(app.screen.query_one("#error", Label).render())


async def open_model_wizard(app: ConsoleApp, pilot: Pilot[None]) -> ModelWizard:
    await pilot.press("5")
    await until(pilot, lambda: getattr(app.screen, "loaded", False), "models")
    await pilot.press("n")
    await until(pilot, lambda: isinstance(app.screen, ModelWizard), "the model wizard")
    assert isinstance(app.screen, ModelWizard)
    return app.screen


async def fill_model_wizard(
    app: ConsoleApp, pilot: Pilot[None], arch: Path, weights: Path
) -> ModelWizard:
    """The wizard with a name and both files filled in (the rest left at its defaults)."""
    wizard = await open_model_wizard(app, pilot)
    wizard.query_one("#name", Input).value = "m"
    wizard.query_one("#architecture", Input).value = str(arch)
    wizard.query_one("#weights", Input).value = str(weights)
    return wizard


def test_register_a_model_with_inline_validation(tmp_path: Path) -> None:
    arch, weights = model_files(tmp_path)

    async def flow(app: ConsoleApp, pilot: Pilot[None]) -> None:
        wizard = await open_model_wizard(app, pilot)
        await pilot.press(*"my-mlp", "enter")
        wizard.query_one("#architecture", Input).value = str(tmp_path / "missing.jso")
        await pilot.press("n")  # the check runs as the path is typed
        assert "no readable file" in error_text(app) and "missing.json" in error_text(app)
        await pilot.press("enter")  # refused: the focus stays on the bad field
        assert wizard.query_one("#architecture", Input).has_focus
        wizard.query_one("#architecture", Input).value = str(arch)
        await pilot.pause()
        assert error_text(app) == ""
        await pilot.press("enter")
        wizard.query_one("#weights", Input).value = str(weights)
        await pilot.press("enter")  # -> step 2, licence: SPDX or custom terms, then the id
        assert wizard.query_one("#terms", Select).has_focus
        await pilot.press("tab")
        spdx = wizard.query_one("#spdx", Input)
        assert spdx.has_focus and spdx.value == "Apache-2.0"
        spdx.value = "Apache-9.9"
        await pilot.pause()
        assert "not an SPDX licence id" in error_text(app) and "Apache-2.0" in error_text(app)
        spdx.value = "mit"
        await pilot.pause()
        assert error_text(app) == ""
        await pilot.press("ctrl+n")  # -> step 3: flags and jurisdictions
        codes = wizard.query_one("#jurisdictions", Input)
        codes.value = "DE XX"
        await pilot.pause()
        assert "not an ISO 3166-1 alpha-2 country code: XX" in error_text(app)
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ModelWizard)  # refused, nothing uploaded or sent
        assert backend.uploads == []
        codes.value = "de fr"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        await until(pilot, lambda: "Estimated fee" in screen_text(app), "the fee")
        text = screen_text(app)
        assert "Register model 'my-mlp'" in text and "Amount: 10 DML (held as deposit" in text
        assert "licence MIT; commercial use no, attribution yes" in text
        assert "jurisdictions DE FR" in text
        await pilot.press("y")
        await until(pilot, lambda: 2 in app.screen.all, "the new model in the table")  # type: ignore[attr-defined]
        table = app.screen.query_one("#models", VirtualTable)
        assert "my-mlp" in [str(r.cells[1]) for r in table.rows]

    backend = FakeBackend()
    run(flow, backend)
    assert backend.uploads == [arch, weights]
    (action,) = backend.sent
    assert action.call == "register_model"
    assert action.params["licence"]["terms"] == {"Spdx": "0x" + b"MIT".hex()}
    assert action.params["licence"]["commercial_use"] is False
    assert action.params["jurisdictions"] == [["0x" + b"DE".hex(), "0x" + b"FR".hex()]]
    assert action.params["architecture"]["size"] == arch.stat().st_size


def test_ipfs_down_registers_nothing(tmp_path: Path) -> None:
    arch, weights = model_files(tmp_path)
    backend = FakeBackend()
    backend.ipfs_down = True

    async def flow(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await fill_model_wizard(app, pilot, arch, weights)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: any("unreachable" in n.message for n in app._notifications), "n")
        assert not isinstance(app.screen, ConfirmScreen)
        assert "Traceback" not in screen_text(app)

    run(flow, backend)
    assert backend.sent == []


def test_insufficient_balance_is_refused_before_the_dialog() -> None:
    backend = FakeBackend()
    backend.funds_ = Funds(transferable=DML // 20, total=DML // 20, asset=DML // 100)

    async def flow(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("J")  # task 0: stake 0.1 DML
        await until(pilot, lambda: bool(app._notifications), "a notification")
        messages = [n.message for n in app._notifications]
        assert any(
            "insufficient balance: have 0.05 DML, need 0.1 DML (+ fee 0.00123456789 DML)" in m
            for m in messages
        ), messages
        assert not isinstance(app.screen, ConfirmScreen)
        table = tasks_table(app)
        while table.current_key != 4:  # task 4: reward and stake in asset 1 (DCC)
            await pilot.press("down")
        app.clear_notifications()
        await pilot.press("J")
        await until(pilot, lambda: bool(app._notifications), "a notification")
        messages = [n.message for n in app._notifications]
        assert any("insufficient DCC balance: have 0.01 DCC, need 0.1 DCC" in m for m in messages)
        assert backend.funds_asked == [None, 1]

    run(flow, backend)
    assert backend.sent == []


def test_shortfall_rules() -> None:
    fee = 10
    spend = Action("t", "Balances", "transfer_keep_alive", {}, amount=100, effect="transferred")
    assert shortfall(spend, fee, Funds(110, 110), NATIVE) is None
    assert shortfall(spend, fee, Funds(109, 500), NATIVE) == (
        "insufficient balance: have 0.000000000109 DML, need 0.0000000001 DML "
        "(+ fee 0.00000000001 DML)"
    )
    vote = Action("v", "DecentralMl", "vote", {}, amount=400, effect=LOCKED)
    assert shortfall(vote, fee, Funds(20, 400), NATIVE) is None  # a lock may overlap holds
    assert "have 0.000000000399 DML (free and held), need 0.0000000004 DML" in str(
        shortfall(vote, fee, Funds(20, 399), NATIVE)
    )
    assert shortfall(vote, fee, Funds(9, 400), NATIVE) is not None  # the fee is paid from free
    stake = Action("j", "DecentralMl", "join_task", {}, amount=50, token=DCC, effect="staked")
    assert shortfall(stake, fee, Funds(10, 10, asset=50), NATIVE) is None
    assert "need fee" in str(shortfall(stake, fee, Funds(9, 9, asset=50), NATIVE))
    no_amount = Action("c", "DecentralMl", "close_proposal", {})
    assert shortfall(no_amount, fee, Funds(9, 9), NATIVE) is not None


class FakePopen:
    """Records how a role process would have been started (no process is started)."""

    started: ClassVar[list[tuple[list[str], dict[str, str]]]] = []

    def __init__(self, argv: list[str], **kw: Any) -> None:
        FakePopen.started.append((list(argv), dict(kw["env"])))
        self.pid = 0

    def poll(self) -> int:
        return 0  # "exited": the console never signals it

    def wait(self, timeout: float | None = None) -> int:
        return 0


def test_keystore_password_for_roles_and_signing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import textual.constants
    from decentralml.tui import training

    secret, wrong = "correct-horse-42", "wrong-battery-7"
    textual_log = tmp_path / "textual.log"
    monkeypatch.setattr(textual.constants, "LOG_FILE", str(textual_log))
    monkeypatch.delenv("DECENTRALML_PASSWORD", raising=False)
    monkeypatch.setattr(training.subprocess, "Popen", FakePopen)
    FakePopen.started = []
    caplog.set_level(logging.DEBUG)
    backend = FakeBackend(account="keyed")
    backend.right_password = secret
    roles = tmp_path / "roles"

    async def start_aggregator(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, StartRoleForm), "the role form")
        app.screen.query_one("#role", Select).value = "aggregate"
        app.screen.query_one("#task", Input).value = "3"
        await pilot.press("ctrl+s")

    async def flow(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await pilot.press("4")
        await until(pilot, lambda: isinstance(app.screen, TrainingScreen), "training")
        await start_aggregator(app, pilot)
        await until(pilot, lambda: isinstance(app.screen, PasswordScreen), "the password")
        assert app.screen.query_one("#password", Input).password  # masked
        await pilot.press(*wrong, "enter")
        await until(pilot, lambda: bool(app._notifications), "a notification")
        assert any("wrong password" in n.message for n in app._notifications)
        assert FakePopen.started == [] and backend.locked()
        assert wrong not in screen_text(app)
        await start_aggregator(app, pilot)
        await until(pilot, lambda: isinstance(app.screen, PasswordScreen), "the password again")
        await pilot.press(*secret, "enter")
        await until(pilot, lambda: bool(FakePopen.started), "the role process")
        # unlocked now: a signing action asks nothing more, a second role neither
        await pilot.press("1")
        await until(pilot, lambda: isinstance(app.screen, TasksScreen), "tasks")
        await pilot.press("J")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirm")
        await pilot.press("y")
        await until(pilot, lambda: bool(backend.sent), "the join")

    run(flow, backend, tmp_path=roles)
    ((argv, env),) = FakePopen.started
    assert env["DECENTRALML_PASSWORD"] == secret
    assert not any(secret in a for a in argv) and "keyed" in argv
    # Textual's debug log (TEXTUAL_LOG, devtools) records every key and message, so typed
    # passwords appear there (docs/console.md warns); what must not is the workers' record.
    workers = [line for line in textual_log.read_text().splitlines() if "Worker" in line]
    assert any("unlock the active account" in line for line in workers)
    assert not any(secret in line or wrong in line for line in workers)
    assert secret not in caplog.text and wrong not in caplog.text
    for path in tmp_path.rglob("*"):
        if path.is_file() and path != textual_log:
            assert secret.encode() not in path.read_bytes(), path


def test_wrong_password_uploads_nothing(tmp_path: Path) -> None:
    arch, weights = model_files(tmp_path)
    backend = FakeBackend(account="keyed")

    async def flow(app: ConsoleApp, pilot: Pilot[None]) -> None:
        await fill_model_wizard(app, pilot, arch, weights)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, PasswordScreen), "the password")
        await pilot.press(*"nope", "enter")
        await until(pilot, lambda: bool(app._notifications), "a notification")
        assert any("wrong password" in n.message for n in app._notifications)

    run(flow, backend)
    assert backend.uploads == [] and backend.sent == []


def test_chain_backend_keystore_lock_and_role_password(tmp_path: Path) -> None:
    """The real backend's key state, without a node: locked, wrong password, unlocked, switched."""
    from decentralml.core.config import load_config
    from decentralml.core.errors import WrongPassword
    from decentralml.core.keys import Keystore
    from decentralml.tui.backend import PasswordNeeded
    from decentralml.tui.chain_backend import ChainBackend

    keystore = tmp_path / "keystore"
    Keystore(keystore).create("carol", "pw-carol-1")
    config = load_config(
        None, overrides={"chain": {"url": "ws://127.0.0.1:9"}, "keys": {"keystore": str(keystore)}}
    )
    backend = ChainBackend(config)
    backend.set_account("carol")
    assert backend.locked() and backend.role_password() is None
    with pytest.raises(PasswordNeeded):
        backend.estimate(Action("x", "DecentralMl", "unlock", {}))  # asks before any RPC
    with pytest.raises(WrongPassword):
        backend.unlock_account("nope")
    assert backend.locked() and backend.role_password() is None
    backend.unlock_account("pw-carol-1")
    assert not backend.locked() and backend.role_password() == "pw-carol-1"
    backend.set_account("carol")  # switching (even to the same account) forgets the secret
    assert backend.locked() and backend.role_password() is None


def test_task_detail_shows_each_verifiers_attestation() -> None:
    from decentralml.tui.screens.tasks import attestation_lines
    from decentralml.tui.views.tasks import Attestation, TaskDetail

    from .fakes import BOB, CHARLIE, DAVE, FakeBackend

    task = FakeBackend().tasks()[1]
    assert task.status == "Running"
    detail = FakeBackend().task_detail(task.id)
    assert detail is not None
    lines = attestation_lines(detail)
    assert lines[0].startswith("[b]Verifiers[/b] (2 bonded, 2 decide)")
    assert "1 agree" in lines[0] and "0 disagree" in lines[0]
    assert lines[1].endswith("agrees") and lines[2].endswith("not attested")
    split = TaskDetail(
        task,
        {"index": 1, "status": "Open"},
        (),
        (),
        0,
        (CHARLIE, DAVE),
        (Attestation(CHARLIE, True), Attestation(DAVE, False)),
        threshold=2,
        pending={"index": 0, "aggregate": {"aggregator": BOB}},
    )
    lines = attestation_lines(split)
    assert "1 agree" in lines[0] and "1 disagree" in lines[0] and "DISAGREES" in lines[2]
    # No aggregate yet: only who is bonded.
    idle = TaskDetail(task, None, (), (), 0, (CHARLIE,), (), threshold=2)
    assert attestation_lines(idle) == [
        "[b]Verifiers[/b] (1 bonded, 2 decide)",
        f"  {CHARLIE[:6]}…{CHARLIE[-4:]}  not attested",
    ]
