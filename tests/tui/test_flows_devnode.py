"""The console's main flows, driven by Pilot against a real node-decentralml --dev.

One test walks the whole path a person takes from the keyboard: create a task with the
wizard, join it, create a licence proposal, vote on it with a conviction, and see the tally
change; every step goes through the fee estimate and the confirmation dialog. The chain
state it starts from (a model, a trainer profile) is made here through the core. A second
registers a model from the Models panel, its files uploaded to a real Kubo daemon.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from decentralml.core.chain.client import ChainClient
from decentralml.core.chain.decentralml import DecentralMl, licence
from decentralml.core.config import load_config
from decentralml.core.keys import dev_keypair
from decentralml.core.types import ChainType, ContentRef
from decentralml.tui.app import ConsoleApp
from decentralml.tui.chain_backend import ChainBackend
from decentralml.tui.screens.forms import ModelWizard, ProposalWizard, TaskWizard
from decentralml.tui.screens.modals import ConfirmScreen, VoteScreen
from decentralml.tui.screens.models import ModelsScreen
from decentralml.tui.screens.proposals import ProposalsScreen
from decentralml.tui.screens.tasks import TasksScreen
from textual.widgets import Input, Label, Select

from tests.integration.devnode import DevNode
from tests.integration.kubo import KuboDaemon

from .helpers import screen_text, until

pytestmark = pytest.mark.chain

DML = 10**12


@pytest.fixture(scope="module")
def model_id(dev_node: DevNode) -> int:
    """A model registered by //Charlie and a trainer profile for //Dave (the console's user)."""
    with ChainClient(dev_node.ws_url) as client:
        dml = DecentralMl(client)
        charlie = dev_keypair("//Charlie", ChainType.DEVELOPMENT)
        dave = dev_keypair("//Dave", ChainType.DEVELOPMENT)
        data = b"console flow test architecture"
        ref = ContentRef(
            "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
            hashlib.sha256(data).digest(),
            len(data),
        )
        model, _ = dml.register_model(charlie, "console-flow", ref, ref, licence=licence("MIT"))
        if dml.trainer_profile(dave.ss58_address) is None:
            dml.set_trainer_profile(dave, "DE")
        return model


def backend(dev_node: DevNode, tmp_path: Path, kubo: KuboDaemon | None = None) -> ChainBackend:
    config = load_config(
        None,
        overrides={
            "chain": {"url": dev_node.ws_url},
            "ipfs": {} if kubo is None else {"api_url": kubo.api_url},
            "keys": {"keystore": str(tmp_path / "keystore")},
        },
    )
    return ChainBackend(config, "//Dave")


async def confirm(pilot, app: ConsoleApp) -> str:  # type: ignore[no-untyped-def]
    """Wait for the confirmation dialog, check it shows amount and fee, accept it."""
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation dialog")
    # The dialog paints on the next refresh (late on a loaded machine); then it must show the fee.
    await until(pilot, lambda: "Estimated fee:" in screen_text(app), "the fee in the dialog")
    text = screen_text(app)
    await pilot.press("y")
    return text


def test_create_join_propose_vote(dev_node: DevNode, model_id: int, tmp_path: Path) -> None:
    asyncio.run(flow(dev_node, model_id, tmp_path))


async def flow(dev_node: DevNode, model_id: int, tmp_path: Path) -> None:
    app = ConsoleApp(backend(dev_node, tmp_path), events_dir=tmp_path / "roles")
    async with app.run_test(size=(100, 30)) as pilot:
        tasks = app.screen
        assert isinstance(tasks, TasksScreen)
        await until(pilot, lambda: tasks.loaded and app.status.state == "connected", "tasks")
        address = app.status.address

        # -- create a task with the wizard (keyboard only, model chosen in its Select)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, TaskWizard), "the task wizard")
        wizard = app.screen
        # Under load the Select may still be mounting its overlay (the value setter needs it).
        await until(
            pilot,
            lambda: bool(wizard.query("#model SelectOverlay")),
            "the model Select mounted",
        )
        wizard.query_one("#model", Select).value = model_id
        await pilot.press("ctrl+n")  # step 2: money
        reward = wizard.query_one("#reward", Input)
        assert reward.has_focus
        reward.value = ""
        await pilot.press(*"2.5", "enter")  # -> rounds
        wizard.query_one("#rounds", Input).value = ""
        await pilot.press("2", "enter")  # 2 rounds -> stake
        await pilot.press("ctrl+s")
        text = await confirm(pilot, app)
        assert "Amount: 5 DML (escrowed)" in text

        def mine() -> list[int]:
            return [
                t.id for t in tasks.all.values() if t.sponsor == address and t.model == model_id
            ]

        await until(pilot, lambda: bool(mine()), "the new task in the table")
        task_id = mine()[0]
        assert tasks.all[task_id].pool == 5 * DML

        # -- join it: filter to it, J, confirm (the stake is shown)
        await pilot.press("slash", *f"#{task_id}", "enter")
        table = tasks.query_one("#tasks")
        assert table.current_key == task_id  # type: ignore[attr-defined]
        await pilot.press("J")
        text = await confirm(pilot, app)
        assert "Amount: 0.1 DML (staked)" in text
        await until(pilot, lambda: tasks.all[task_id].trainers == 1, "the trainer count to change")

        # -- a licence proposal from the wizard
        await pilot.press("2")
        proposals = app.screen
        assert isinstance(proposals, ProposalsScreen)
        await until(pilot, lambda: proposals.loaded, "proposals")
        before = set(proposals.all)
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ProposalWizard), "the proposal wizard")
        wizard = app.screen
        wizard.query_one("#kind", Select).value = "licence"
        wizard.query_one("#model", Select).value = model_id
        await pilot.press("ctrl+n")
        spdx = wizard.query_one("#spdx", Input)
        assert spdx.has_focus and spdx.value == "Apache-2.0"
        await pilot.press("ctrl+s")
        text = await confirm(pilot, app)
        assert "deposit" in text

        def new_ids() -> list[int]:
            return [i for i in set(proposals.all) - before if proposals.all[i].proposer == address]

        await until(pilot, lambda: bool(new_ids()), "the new proposal")
        pid = new_ids()[0]
        assert proposals.all[pid].ayes == 0

        # -- vote aye with 5 DML at conviction 2x; a bad amount is refused inline first
        pro_table = proposals.query_one("#proposals")
        # On a loaded machine the table may get the new row (and the focus back from the
        # dialog) a refresh after the proposal reached the screen's data: wait for both.
        await until(
            pilot,
            lambda: (
                any(r.key == pid for r in pro_table.rows)  # type: ignore[attr-defined]
                and app.screen is proposals
            ),
            "the new proposal's row",
        )
        pro_table.focus()
        await pilot.press("home")
        for _ in range(len(pro_table.rows) + 1):  # type: ignore[attr-defined]
            if pro_table.current_key == pid:  # type: ignore[attr-defined]
                break
            await pilot.press("down")
        assert pro_table.current_key == pid  # type: ignore[attr-defined]
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, VoteScreen), "the vote dialog")
        await pilot.press(*"abc", "enter")
        assert "malformed amount" in str(app.screen.query_one("#error", Label).render())
        app.screen.query_one("#amount", Input).value = ""
        await pilot.press("5", "ctrl+right", "enter")
        text = await confirm(pilot, app)
        assert "Amount: 5 DML (locked)" in text and "Locked2x" in text, text
        await until(pilot, lambda: proposals.all[pid].ayes == 10 * DML, "the tally to change")
        assert proposals.all[pid].support == 5 * DML
        row = next(r for r in pro_table.rows if r.key == pid)  # type: ignore[attr-defined]
        assert "100%" in [str(c) for c in row.cells]

        # the detail view shows the same tally
        await pilot.press("enter")
        await until(pilot, lambda: "ayes 10 DML" in screen_text(app), "the proposal detail")


def test_register_a_model_from_the_console(
    dev_node: DevNode, kubo: KuboDaemon, tmp_path: Path
) -> None:
    asyncio.run(register_flow(dev_node, kubo, tmp_path))


async def register_flow(dev_node: DevNode, kubo: KuboDaemon, tmp_path: Path) -> None:
    arch, weights = tmp_path / "model.json", tmp_path / "weights.npz"
    arch.write_text('{"layers": [64, 32, 10], "activation": "relu"}')
    weights.write_bytes(bytes(range(256)) * 64)
    name = f"console-registered-{tmp_path.name[-12:]}"
    app = ConsoleApp(backend(dev_node, tmp_path, kubo), events_dir=tmp_path / "roles")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.status.state == "connected", "the connection")
        await pilot.press("5")
        models = app.screen
        assert isinstance(models, ModelsScreen)
        await until(pilot, lambda: models.loaded, "models")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, ModelWizard), "the model wizard")
        wizard = app.screen
        await pilot.press(*name, "enter")
        wizard.query_one("#architecture", Input).value = str(arch)
        wizard.query_one("#weights", Input).value = str(weights)
        await pilot.press("ctrl+n", "ctrl+n")  # licence: the default SPDX id Apache-2.0
        wizard.query_one("#jurisdictions", Input).value = "DE FR"
        await pilot.press("ctrl+s")
        text = await confirm(pilot, app)  # after the upload: the CIDs are in the dialog
        assert f"Register model '{name}'" in text and "DML (held as deposit" in text, text
        assert "licence Apache-2.0" in text

        def row() -> list[str] | None:
            for m in models.all.values():
                if m.name == name:
                    return [m.status, m.licence, " ".join(m.jurisdictions)]
            return None

        await until(pilot, lambda: row() is not None, "the new model in the table")
        assert row() == ["Active", "Apache-2.0", "DE FR"]
        table = models.query_one("#models")
        assert name in [str(r.cells[1]) for r in table.rows]  # type: ignore[attr-defined]
