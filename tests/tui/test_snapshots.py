"""Snapshots of every screen at 80x24 and 120x40 (fixed fake data, no clock, no live chain).

Update after an intended change: ``.venv/bin/pytest tests/tui/test_snapshots.py --snapshot-update``.
``DML_UPDATE_CONSOLE_SVG=1`` also rewrites docs/console.svg (the README's screenshot).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from decentralml.tui.app import ConsoleApp
from decentralml.tui.screens.forms import ModelWizard, ProposalWizard, TaskWizard
from decentralml.tui.screens.modals import ConfirmScreen, PasswordScreen, VoteScreen
from decentralml.tui.screens.proposals import ProposalDetailScreen
from decentralml.tui.screens.tasks import TaskDetailScreen
from textual.pilot import Pilot
from textual.widgets import Input

from .fakes import FakeBackend
from .helpers import screen_text, until

ROOT = Path(__file__).resolve().parents[2]
SIZES = [(80, 24), (120, 40)]


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


def roles_dir(tmp_path: Path) -> Path:
    run = tmp_path / "roles" / "trainer-3-5GrwvaEF"
    run.mkdir(parents=True)
    lines = []
    for r in range(6):
        for phase in ("training", "submitted"):
            lines.append(
                {
                    "ts": 1_764_000_000.0 + 60 * r,
                    "role": "trainer",
                    "account": "5Grwva",
                    "task": 3,
                    "round": r,
                    "phase": phase,
                    "loss": round(1.2 / (r + 1), 4),
                    "accuracy": round(0.55 + 0.07 * r, 3),
                    "samples": 120,
                    "message": f"round {r}: {phase}",
                }
            )
    (run / "events.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return tmp_path / "roles"


def loaded(attr: str = "loaded") -> Callable[[ConsoleApp], bool]:
    return lambda app: bool(getattr(app.screen, attr, False))


SCREENS: dict[str, tuple[list[str], Callable[[ConsoleApp], bool]]] = {
    "tasks": ([], loaded()),
    "task_detail": (
        ["enter"],
        lambda a: isinstance(a.screen, TaskDetailScreen) and "Participants" in screen_text(a),
    ),
    "confirm_join": (["J"], lambda a: isinstance(a.screen, ConfirmScreen)),
    "task_wizard": (["n"], lambda a: isinstance(a.screen, TaskWizard)),
    "proposals": (["2"], loaded()),
    "proposal_detail": (
        ["2", "down", "enter"],
        lambda a: isinstance(a.screen, ProposalDetailScreen) and "approval" in screen_text(a),
    ),
    "vote": (["2", "a"], lambda a: isinstance(a.screen, VoteScreen)),
    "proposal_wizard": (["2", "p"], lambda a: isinstance(a.screen, ProposalWizard)),
    "balances": (["3"], lambda a: getattr(a.screen, "view", None) is not None),
    "training": (["4"], lambda a: "submitted" in screen_text(a)),
    "models": (["5"], lambda a: "Versions of model 0" in screen_text(a)),
    "model_wizard": (["5", "n"], lambda a: isinstance(a.screen, ModelWizard)),
    "password": (["J"], lambda a: isinstance(a.screen, PasswordScreen)),
}
ACCOUNTS = {"password": "keyed"}
"""Screens shown with another active account than //Alice (keyed: a locked keystore key)."""


def make_app(tmp_path: Path, account: str = "//Alice") -> ConsoleApp:
    return ConsoleApp(FakeBackend(account=account), events_dir=roles_dir(tmp_path), follow=False)


def before(keys: list[str], ready: Callable[[ConsoleApp], bool]) -> Any:
    async def run_before(pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, ConsoleApp)
        await until(pilot, lambda: loaded()(app), "tasks")
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
            if key in ("2", "3", "5"):
                await until(pilot, lambda: getattr(app.screen, "loaded", True), "panel")
        await until(pilot, lambda: ready(app), "the screen")
        for widget in app.screen.query(Input):
            widget.cursor_blink = False
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", list(SCREENS))
def test_screen(snap_compare: Any, tmp_path: Path, name: str, size: tuple[int, int]) -> None:
    keys, ready = SCREENS[name]
    app = make_app(tmp_path, ACCOUNTS.get(name, "//Alice"))
    assert snap_compare(app, terminal_size=size, run_before=before(keys, ready))


@pytest.mark.skipif(
    not os.environ.get("DML_UPDATE_CONSOLE_SVG"), reason="set DML_UPDATE_CONSOLE_SVG=1"
)
def test_write_docs_screenshot(tmp_path: Path) -> None:
    import asyncio

    app = make_app(tmp_path)

    async def go() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await before([], loaded())(pilot)
            app.save_screenshot("console.svg", str(ROOT / "docs"))

    asyncio.run(go())
    assert (ROOT / "docs" / "console.svg").stat().st_size > 0
