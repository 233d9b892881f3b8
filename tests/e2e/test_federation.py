"""Federated training end to end: the installed ``decentralml train``, ``aggregate`` and
``verify`` commands run as separate processes against a real node-decentralml --dev and a real
Kubo, with TensorFlow Federated doing the local training.

1. Three trainers, one aggregator and one verifier run three rounds of a task funded in the
   demo bring-your-own asset (DCC): rewards are paid pro rata to the samples, the last
   aggregate becomes a proposed model version, a governance vote approves it, and its accuracy
   on held-out data beats anything an untrained model reaches.
2. An aggregator that publishes a tampered aggregate (the ``--tamper`` fault-injection switch)
   is caught by the verifier, which challenges; the vote upholds the challenge and the
   aggregator's bond goes to the verifier.

Every process is stopped at the end of each test (SIGTERM to its process group, SIGKILL after
20 s), including TFF's worker_binary children.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from decentralml.core.chain.client import ChainClient
from decentralml.core.chain.decentralml import DecentralMl
from decentralml.core.config import IpfsConfig, home_env
from decentralml.core.roles.chainview import content_ref
from decentralml.core.roles.events import ProgressEvent, read_events
from decentralml.core.storage.kubo import KuboStore
from substrateinterface import Keypair

from tests.integration.clirun import CLI, Run, js
from tests.integration.devnode import DevNode, stop_process_group
from tests.integration.kubo import KuboDaemon

pytestmark = [pytest.mark.chain, pytest.mark.ipfs]

ASSET = 1  # the dev genesis' demo asset DCC (12 decimals assumed only through the CLI)
MAX_VOTING_PERIOD = 20  # blocks; longer periods are shortened with sudo for this test
TRAINERS = ("//Bob", "//Charlie", "//Dave")
AGGREGATOR = "//Eve"
VERIFIER = "//Ferdie"


def address(uri: str) -> str:
    return str(Keypair.create_from_uri(uri, ss58_format=42).ss58_address)


@dataclass
class RoleProcess:
    name: str
    process: subprocess.Popen[bytes]
    events: Path
    log: Path

    def phases(self) -> list[ProgressEvent]:
        return list(read_events(self.events)) if self.events.exists() else []

    def stop(self) -> int | None:
        stop_process_group(self.process)
        return self.process.returncode


@dataclass
class Federation:
    dev_node: DevNode
    kubo: KuboDaemon
    home: Path
    cli: Run
    client: ChainClient
    dml: DecentralMl
    running: list[RoleProcess]

    def env(self) -> dict[str, str]:
        env = home_env(self.home, self.dev_node.ws_url, self.kubo.api_url)
        return {**env, "TF_CPP_MIN_LOG_LEVEL": "2"}

    def start(self, name: str, *args: str) -> RoleProcess:
        events = self.home / f"{name}.events.jsonl"
        log = self.home / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [CLI, "-v", *args, "--events", str(events), "--poll", "0.5"],
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        role = RoleProcess(name, process, events, log)
        self.running.append(role)
        return role

    def block(self) -> int:
        return self.client.block_number()

    def wait_for(
        self, what: str, check: Callable[[], Any], timeout: float, poll: float = 1.0
    ) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            for role in self.running:
                code = role.process.poll()
                if code not in (None, 0):
                    pytest.fail(f"{role.name} exited with {code}:\n{tail(role.log)}")
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {r.name}\n{tail(r.log)}" for r in self.running)
                pytest.fail(f"timed out waiting for {what}\n{logs}")
            time.sleep(poll)

    def wait_block(self, number: int, timeout: float = 120) -> None:
        self.wait_for(f"block {number}", lambda: self.block() >= number, timeout, 0.5)

    def asset_balance(self, uri: str) -> int:
        return int(self.client.asset_balance(ASSET, address(uri)).balance)

    def pass_proposal(self, proposal: int) -> list[dict[str, Any]]:
        """Alice votes aye (conviction 1x), the period ends, anyone closes: the close events."""
        self.cli(
            "vote",
            str(proposal),
            "--aye",
            "--amount",
            "1000",
            "--conviction",
            "1",
            "--from",
            "//Alice",
        )
        ends_at = int(self.dml.proposal(proposal).fields["ends_at"])  # type: ignore[union-attr]
        self.wait_block(ends_at + 1, timeout=3 * MAX_VOTING_PERIOD * 2 + 60)
        closed = js(self.cli("--json", "close", str(proposal), "--from", "//Ferdie"))
        events: list[dict[str, Any]] = closed["receipt"]["events"]
        return events


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@pytest.fixture(scope="module")
def federation(
    dev_node: DevNode, kubo: KuboDaemon, cli: Run, cli_home: Path
) -> Iterator[Federation]:
    client = ChainClient(dev_node.ws_url)
    dml = DecentralMl(client)
    fed = Federation(dev_node, kubo, cli_home, cli, client, dml, [])
    _short_voting(client)
    try:
        yield fed
    finally:
        for role in fed.running:
            role.stop()
        client.close()


def _short_voting(client: ChainClient) -> None:
    """The dev preset votes for 15 blocks (contract D); an older node binary for 5 minutes:
    shorten it with sudo(System.set_storage) so the test stays within minutes."""
    si = client.substrate
    params = si.query("DecentralMl", "Params").value
    if (
        int(params["voting_period"]) <= MAX_VOTING_PERIOD
        and int(params["aggregation_period"]) <= MAX_VOTING_PERIOD
    ):
        return
    params["voting_period"] = 15
    params["aggregation_period"] = 10
    function = si.get_metadata_storage_function("DecentralMl", "Params")
    value = si.create_scale_object(function.get_value_type_string()).encode(params)
    key = si.create_storage_key("DecentralMl", "Params").to_hex()
    inner = si.compose_call("System", "set_storage", {"items": [[key, str(value)]]})
    alice = Keypair.create_from_uri("//Alice")
    client.submit(alice, "Sudo", "sudo", {"call": inner})


@dataclass(frozen=True)
class DemoData:
    spec_file: Path
    weights_file: Path
    trainer_files: tuple[Path, ...]
    test_file: Path
    spec: Any
    initial: dict[str, Any]
    test: Any


@pytest.fixture(scope="module")
def demo(cli_home: Path) -> DemoData:
    from decentralml.core.fl import demo_federation, encode_weights, initial_weights, save_dataset

    shards, test, spec = demo_federation("breast_cancer", len(TRAINERS), alpha=5.0, seed=7)
    root = cli_home / "demo"
    root.mkdir(exist_ok=True)
    spec_file = root / "spec.json"
    spec_file.write_bytes(spec.to_bytes())
    initial = initial_weights(spec, seed=1)
    weights_file = root / "initial.npz"
    weights_file.write_bytes(encode_weights(initial))
    files = []
    for i, shard in enumerate(shards):
        path = root / f"trainer{i}.npz"
        save_dataset(shard, path)
        files.append(path)
    test_file = root / "test.npz"
    save_dataset(test, test_file)
    return DemoData(spec_file, weights_file, tuple(files), test_file, spec, initial, test)


def register_model(fed: Federation, demo: DemoData, name: str) -> int:
    out = js(
        fed.cli(
            "--json",
            "model",
            "register",
            "--name",
            name,
            "--architecture",
            str(demo.spec_file),
            "--weights",
            str(demo.weights_file),
            "--licence",
            "Apache-2.0",
            "--jurisdiction",
            "DE",
            "--from",
            "//Alice",
        )
    )
    return int(out["model_id"])


def create_task(fed: Federation, model: int, *, rounds: int, trainers: int, window: int) -> int:
    out = js(
        fed.cli(
            "--json",
            "task",
            "create",
            str(model),
            "--reward-per-round",
            "30",
            "--rounds",
            str(rounds),
            "--min-trainers",
            str(trainers),
            "--max-trainers",
            str(trainers),
            "--trainer-stake",
            "1",
            "--round-length",
            "30",
            "--challenge-window",
            str(window),
            "--asset",
            str(ASSET),
            "--jurisdiction",
            "DE",
            "--from",
            "//Alice",
        )
    )
    task = int(out["task_id"])
    # no --aggregation: the task takes the robust default, which the roles then compute and
    # the verifier recomputes through the real chain and Kubo
    shown = js(fed.cli("--json", "task", "show", str(task)))
    assert "MedianAlignedFedAvg" in json.dumps(shown["task"]), shown["task"]
    return task


def test_three_trainers_train_three_rounds_and_governance_approves_the_model(
    federation: Federation, demo: DemoData
) -> None:
    from decentralml.core.fl import decode_weights, evaluate

    fed = federation
    model = register_model(fed, demo, "e2e-breast-cancer")
    # An 8-block window: the verifier recomputes and evaluates each aggregate within it even
    # on a loaded 2-core machine (the next round trains meanwhile: rounds are pipelined).
    task = create_task(fed, model, rounds=3, trainers=3, window=8)
    before = {uri: fed.asset_balance(uri) for uri in (*TRAINERS, AGGREGATOR)}

    trainers = [
        fed.start(
            f"trainer{i}",
            "train",
            "--task",
            str(task),
            "--account",
            uri,
            "--data",
            str(demo.trainer_files[i]),
            "--jurisdiction",
            "DE",
        )
        for i, uri in enumerate(TRAINERS)
    ]
    aggregator = fed.start("aggregator", "aggregate", "--task", str(task), "--account", AGGREGATOR)
    verifier = fed.start(
        "verifier",
        "verify",
        "--task",
        str(task),
        "--account",
        VERIFIER,
        "--data",
        str(demo.test_file),
    )
    # Crash the aggregator (SIGKILL) right after its first aggregate and restart it on the same
    # resume journal: it must not aggregate round 0 again, and it must finalize it.
    fed.wait_for(
        "the first aggregate",
        lambda: any(e.phase == "aggregated" for e in aggregator.phases()),
        timeout=600,
    )
    os.killpg(aggregator.process.pid, signal.SIGKILL)
    aggregator.process.wait(timeout=30)
    fed.running.remove(aggregator)
    crashed = aggregator
    aggregator = fed.start("aggregator2", "aggregate", "--task", str(task), "--account", AGGREGATOR)
    roles = [*trainers, aggregator, verifier]

    def completed() -> bool:
        found = fed.dml.task(task)
        return found is not None and str(found.fields["status"]) == "Completed"

    fed.wait_for("the task to complete", completed, timeout=900, poll=2.0)
    # Every role notices the end of the task and exits 0 on its own ("done").
    for role in roles:
        try:
            role.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{role.name} did not exit after the task ended:\n{tail(role.log)}")
        assert role.process.returncode == 0, tail(role.log)
        assert role.phases()[-1].phase == "done", role.phases()[-1]

    # Each trainer submitted in every round, with the same sample count each time.
    samples: dict[str, int] = {}
    for uri, role in zip(TRAINERS, trainers, strict=True):
        submitted = [e for e in role.phases() if e.phase == "submitted"]
        assert [e.round for e in submitted] == [0, 1, 2], [e.message for e in role.phases()]
        counts = {e.samples for e in submitted}
        assert len(counts) == 1 and None not in counts
        samples[uri] = int(next(iter(counts)))  # type: ignore[arg-type]
        assert {"joining", "fetching", "training", "uploading", "submitting"} <= {
            e.phase for e in role.phases()
        }
    # The verifier recomputed every aggregate byte for byte and found nothing to challenge.
    verified = [e for e in verifier.phases() if e.phase == "verified"]
    assert [e.round for e in verified] == [0, 1, 2]
    assert not [e for e in verifier.phases() if e.phase == "challenged"]
    # Bonded as a verifier, it attested agreement on chain for each round.
    attested = [e for e in verifier.phases() if e.phase == "attested"]
    assert [e.round for e in attested] == [0, 1, 2], [e.message for e in verifier.phases()]
    assert all("attested agreement" in e.message for e in attested)
    both = [*crashed.phases(), *aggregator.phases()]
    assert [e.round for e in both if e.phase == "aggregated"] == [0, 1, 2]
    assert [e.round for e in both if e.phase == "finalized"] == [0, 1, 2]

    # Rewards in DCC, pro rata to samples (stakes are back, so the change is the rewards).
    fee_share = int(fed.dml.params()["aggregator_fee"])
    reward = js(fed.cli("--json", "task", "show", str(task)))["task"]["terms"]["reward_per_round"]
    reward = int(reward)
    fee = fee_share * reward // 1_000_000_000
    total = sum(samples.values())
    for uri in TRAINERS:
        gained = fed.asset_balance(uri) - before[uri]
        assert gained == 3 * ((reward - fee) * samples[uri] // total), (uri, gained)
    assert fed.asset_balance(AGGREGATOR) - before[AGGREGATOR] == 3 * fee

    # The last aggregate is a proposed version; governance approves it.
    versions = fed.dml.versions(model)
    assert len(versions) == 1 and str(versions[0].fields["status"]) == "Proposed"
    version = int(versions[0].key[-1])
    proposed = js(
        fed.cli(
            "--json", "propose", "approve-version", str(model), str(version), "--from", "//Alice"
        )
    )
    events = fed.pass_proposal(int(proposed["proposal_id"]))
    assert any(e["event"] == "VersionApproved" for e in events), events
    approved = fed.dml.versions(model)[0]
    assert str(approved.fields["status"]) == "Approved"

    # The approved weights (fetched from IPFS, verified) beat any untrained model.
    store = KuboStore(IpfsConfig(api_url=fed.kubo.api_url))
    try:
        final = decode_weights(store.cat(content_ref(approved.fields["weights"])))
    finally:
        store.close()
    _, accuracy = evaluate(demo.spec, final, demo.test.x, demo.test.y)
    _, untrained = evaluate(demo.spec, demo.initial, demo.test.x, demo.test.y)
    majority = float(np.bincount(demo.test.y).max() / len(demo.test.y))
    assert accuracy > max(untrained, majority) + 0.1, (accuracy, untrained, majority)
    assert verified[-1].accuracy is not None and verified[-1].accuracy > majority


def test_tampered_aggregate_is_challenged_and_the_aggregator_slashed(
    federation: Federation, demo: DemoData
) -> None:
    fed = federation
    model = register_model(fed, demo, "e2e-tamper")
    task = create_task(fed, model, rounds=2, trainers=2, window=8)
    trainers = [
        fed.start(
            f"t-trainer{i}",
            "train",
            "--task",
            str(task),
            "--account",
            uri,
            "--data",
            str(demo.trainer_files[i]),
            "--jurisdiction",
            "DE",
        )
        for i, uri in enumerate(TRAINERS[:2])
    ]
    aggregator = fed.start(
        "t-aggregator", "aggregate", "--task", str(task), "--account", AGGREGATOR, "--tamper"
    )
    verifier = fed.start(
        "t-verifier",
        "verify",
        "--task",
        str(task),
        "--account",
        VERIFIER,
        "--data",
        str(demo.test_file),
    )

    def challenged() -> list[ProgressEvent]:
        return [e for e in verifier.phases() if e.phase == "challenged"]

    event = fed.wait_for("the verifier's challenge", challenged, timeout=600)[0]
    assert "differs from the published" in event.message
    # It attested disagreement first: one verifier is below the threshold of 2, so the
    # challenge goes on to the vote (a split, in the protocol's terms).
    (attested,) = [e for e in verifier.phases() if e.phase == "attested"]
    assert "disagreement" in attested.message
    # Pipelined: the challenged round is pending while the next one (opened on its
    # aggregate) takes the trainers' commitments.
    current = fed.dml.pending_round(task)
    assert current is not None and str(current.fields["status"]) == "Challenged"
    challenged_round = int(current.fields["index"])
    pipelined = fed.dml.round(task)
    assert pipelined is not None and int(pipelined.fields["index"]) == challenged_round + 1
    assert int(current.fields["disagreements"]) == 1
    challenge = current.fields["challenge"]
    assert challenge["challenger"] == address(VERIFIER)
    evidence = challenge["evidence"]
    store = KuboStore(IpfsConfig(api_url=fed.kubo.api_url))
    try:
        report = json.loads(store.cat(content_ref(evidence)))
    finally:
        store.close()
    assert report["expected_sha256"] != report["published"]["sha256"]
    assert report["aggregator"] == address(AGGREGATOR)

    before = fed.dml.task(task)
    assert before is not None
    rounds_before = int(before.fields["terms"]["total_rounds"])
    bond_before = _held(fed, AGGREGATOR, "AggregatorBond")
    ferdie_before = int(fed.client.native_balance(address(VERIFIER)).free)
    assert bond_before > 0
    events = fed.pass_proposal(int(challenge["proposal"]))
    upheld = [e for e in events if e["event"] == "ChallengeUpheld"]
    assert upheld and int(upheld[0]["attributes"]["slashed"]) == bond_before, events
    assert _held(fed, AGGREGATOR, "AggregatorBond") == 0
    task_now = fed.dml.task(task)
    assert task_now is not None and task_now.fields.get("aggregator") is None
    # The verifier received the bond (its own challenge bond is released too).
    assert int(fed.client.native_balance(address(VERIFIER)).free) > ferdie_before
    # The verifier finalizes the failed round; the round built on the overturned aggregate
    # is voided (no one slashed for it) and, with no aggregator left, nothing reopens.
    fed.wait_for("the failed round finalized", lambda: fed.dml.pending_round(task) is None, 120)
    assert fed.dml.round(task) is None
    task_after = fed.dml.task(task)
    assert task_after is not None
    total = int(task_after.fields["terms"]["total_rounds"])
    assert total == rounds_before + 1, "a voided round is replaced"

    # The slashed aggregator notices it was unbonded and exits on its own.
    aggregator.process.wait(timeout=60)
    assert aggregator.process.returncode == 0
    assert aggregator.phases()[-1].phase == "done"
    # The others stop cleanly on SIGTERM (no new aggregator bonds in this test).
    for role in (*trainers, verifier):
        role.process.send_signal(signal.SIGTERM)
    for role in (*trainers, verifier):
        role.process.wait(timeout=60)
        assert role.process.returncode == 0, tail(role.log)
        assert role.phases()[-1].phase == "stopped"


def _held(fed: Federation, uri: str, reason: str) -> int:
    balance = fed.client.native_balance(address(uri))
    return sum(h.amount for h in balance.holds if h.reason.endswith(reason))
