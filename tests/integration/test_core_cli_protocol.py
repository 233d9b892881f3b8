"""The protocol commands end to end on a real node and a real Kubo: profile, task, join,
stake, round (start, submit, aggregate, finalize), challenge, propose, vote, close, unlock,
leave, cancel/expire. One federation walks through a whole round with a challenge decided by
a vote; every protocol command runs at least once (some on purpose into a pallet error, which
must be reported with its name and change nothing)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from substrateinterface import SubstrateInterface

from .clirun import Run, js
from .devnode import DevNode
from .kubo import KuboDaemon

pytestmark = [pytest.mark.chain, pytest.mark.ipfs]

VOTING_PERIOD = 15  # blocks: the dev preset (the runtime default is 5 minutes)


def block(dev_node: DevNode) -> int:
    si = SubstrateInterface(url=dev_node.ws_url)
    try:
        return int(si.get_block_header()["header"]["number"])
    finally:
        si.close()


def wait_until(dev_node: DevNode, number: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while block(dev_node) < number:
        assert time.monotonic() < deadline, f"block {number} not reached in {timeout} s"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def short_votes(dev_node: DevNode) -> None:
    """The dev preset's voting period is short enough for these tests; check it is."""
    si = SubstrateInterface(url=dev_node.ws_url)
    try:
        assert si.query("DecentralMl", "Params").value["voting_period"] == VOTING_PERIOD
    finally:
        si.close()


def write(cli_home: Path, name: str, size: int = 50_000) -> str:
    path = cli_home / name
    path.write_bytes(os.urandom(size))
    return str(path)


def record(proc: Any) -> dict[str, Any]:
    return js(proc)


@pytest.mark.timeout(900)  # waits on rounds, a challenge window and a vote: ~100 blocks
def test_federation_round_with_challenge_and_governance(
    cli: Run, cli_home: Path, dev_node: DevNode, kubo: KuboDaemon, short_votes: None
) -> None:
    # Model (owner Alice), trainers Bob and Charlie in DE, aggregator Dave, challenger Eve.
    arch = write(cli_home, "p-arch.json", 100)
    weights = write(cli_home, "p-w0.bin")
    model = record(
        cli(
            "--json",
            "model",
            "register",
            "--name",
            "fed-mlp",
            "--architecture",
            arch,
            "--weights",
            weights,
            "--licence",
            "Apache-2.0",
            "--from",
            "//Alice",
        )
    )["model_id"]
    for trainer in ("//Bob", "//Charlie"):
        assert (
            record(cli("--json", "profile", "set", "de", "--from", trainer))["jurisdiction"] == "DE"
        )
    created = record(
        cli(
            "--json",
            "task",
            "create",
            str(model),
            "--reward-per-round",
            "10",
            "--rounds",
            "2",
            "--min-trainers",
            "1",
            "--max-trainers",
            "4",
            "--trainer-stake",
            "1",
            "--round-length",
            "30",  # 60 s: the two submissions (each a CLI start and an upload) beat it under load
            "--challenge-window",
            "6",
            "--aggregation",
            "trimmed:10",
            "--from",
            "//Alice",
        )
    )
    task = created["task_id"]
    tasks = record(cli("--json", "task", "list"))["tasks"]
    assert any(t["key"] == [task] for t in tasks)
    assert str(task) in cli("task", "list").stdout
    assert record(cli("--json", "task", "show", str(task)))["round"] is None

    for trainer in ("//Bob", "//Charlie"):
        assert record(cli("--json", "join", str(task), "--from", trainer))["task_id"] == task
    trainers = record(cli("--json", "task", "trainers", str(task)))["trainers"]
    assert len(trainers) == 2
    assert "TRAINER" in cli("task", "trainers", str(task)).stdout
    assert record(cli("--json", "profile", "show", "//Bob"))["profile"]["jurisdiction"] == "DE"
    assert "no trainer profile" in cli("profile", "show", "//Ferdie").stdout
    holds = record(cli("--json", "stake", "show", "//Bob"))["holds"]
    assert any("TrainerStake" in h["reason"] for h in holds)
    cli("stake", "bond", str(task), "--from", "//Dave")
    assert "AggregatorBond" in cli("stake", "show", "//Dave").stdout

    cli("round", "start", str(task), "--from", "//Ferdie")
    current = record(cli("--json", "round", "show", str(task)))
    index = current["index"]
    assert current["status"] == "Open"
    assert "Open" in cli("round", "show", str(task)).stdout

    # Commit-reveal: each trainer commits (only a hash on chain, nothing on IPFS yet) ...
    for trainer, samples in (("//Bob", "120"), ("//Charlie", "80")):
        sub = record(
            cli(
                "--json",
                "round",
                "commit",
                str(task),
                str(index),
                "--file",
                write(cli_home, f"upd-{trainer[2:]}.bin"),
                "--samples",
                samples,
                "--loss",
                "0.42",
                "--accuracy",
                "0.87",
                "--from",
                trainer,
            )
        )
        assert sub["update"]["size"] == 50_000 and len(sub["commitment"]) == 64
        assert record(cli("--json", "round", "updates", str(task)))["updates"] == []
    # A second commitment in the same round is refused before anything is sent.
    proc = cli(
        "--json",
        "round",
        "commit",
        str(task),
        str(index),
        "--file",
        write(cli_home, "dup.bin"),
        "--samples",
        "1",
        "--from",
        "//Bob",
        ok=False,
    )
    assert proc.returncode != 0 and "already holds a commitment" in js(proc)["error"]["message"]
    # ... and, both having committed, reveals are open at once.
    assert record(cli("--json", "round", "show", str(task)))["commitments"] == 2
    for trainer in ("//Bob", "//Charlie"):
        rev = record(cli("--json", "round", "reveal", str(task), str(index), "--from", trainer))
        assert rev["update"]["size"] == 50_000
    proc = cli("--json", "round", "reveal", str(task), str(index), "--from", "//Bob", ok=False)
    assert proc.returncode != 0 and "no pending commitment" in js(proc)["error"]["message"]

    updates = record(cli("--json", "round", "updates", str(task)))["updates"]
    assert sorted(u["samples"] for u in updates) == [80, 120]
    assert "SAMPLES" in cli("round", "updates", str(task)).stdout
    agg = record(
        cli(
            "--json",
            "round",
            "aggregate",
            str(task),
            str(index),
            "--file",
            write(cli_home, "agg.bin"),
            "--include",
            "//Bob",
            "--include",
            "//Charlie",
            "--loss",
            "0.40",
            "--accuracy",
            "0.88",
            "--from",
            "//Dave",
        )
    )
    assert agg["weights"]["size"] == 50_000

    # Eve challenges: a ResolveChallenge proposal opens; finalizing must wait for it.
    cli(
        "challenge",
        str(task),
        str(index),
        "--evidence",
        write(cli_home, "evidence.bin", 500),
        "--from",
        "//Eve",
    )
    proposals = record(cli("--json", "propose", "list"))["proposals"]
    challenge_pid = max(p["key"][0] for p in proposals)
    shown = record(cli("--json", "propose", "show", str(challenge_pid)))
    assert "ResolveChallenge" in json.dumps(shown["kind"])
    assert "ResolveChallenge" in cli("propose", "list").stdout
    proc = cli("--json", "round", "finalize", str(task), str(index), "--from", "//Ferdie", ok=False)
    assert js(proc)["error"]["error"] == "RoundUnderChallenge"

    # Ferdie votes nay with conviction 0: the challenge is dismissed when the vote closes.
    voted = record(
        cli(
            "--json",
            "vote",
            str(challenge_pid),
            "--nay",
            "--amount",
            "100",
            "--conviction",
            "0",
            "--from",
            "//Ferdie",
        )
    )
    assert voted["conviction"] == "None" and voted["aye"] is False
    assert any(
        f["reason"].endswith("Voting")
        for f in record(cli("--json", "balance", "//Ferdie"))["freezes"]
    )
    votes = record(cli("--json", "propose", "votes", "//Ferdie"))["votes"]
    assert len(votes) == 1
    assert cli("propose", "votes", "//Ferdie").stdout.strip()
    wait_until(dev_node, int(shown["ends_at"]) + 1)
    closed = record(cli("--json", "close", str(challenge_pid), "--from", "//Alice"))
    assert any(e["event"] == "ProposalClosed" for e in closed["receipt"]["events"])
    unlocked = record(cli("--json", "unlock", "//Ferdie", "--from", "//Ferdie"))
    assert any(e["event"] == "VotesUnlocked" for e in unlocked["receipt"]["events"])

    # Window over and the challenge dismissed: finalize pays the round.
    bob_before = int(record(cli("--json", "balance", "//Bob"))["free"])
    fin = record(cli("--json", "round", "finalize", str(task), str(index), "--from", "//Ferdie"))
    events = {e["event"] for e in fin["receipt"]["events"]}
    assert {"RoundFinalized", "RewardPaid"} <= events
    assert int(record(cli("--json", "balance", "//Bob"))["free"]) > bob_before

    # The next round opened by itself; Charlie asks to leave (stake returned after it).
    assert record(cli("--json", "leave", str(task), "--from", "//Charlie"))["task_id"] == task
    # While a round runs the sponsor cannot cancel, nobody can expire, the aggregator cannot unbond.
    for args, errors in (
        (("task", "cancel", str(task), "--from", "//Alice"), {"RoundInProgress"}),
        (
            ("task", "expire", str(task), "--from", "//Bob"),
            {"RoundInProgress", "TaskNotIdleLongEnough"},
        ),
        (("stake", "unbond", str(task), "--from", "//Dave"), {"RoundInProgress"}),
    ):
        proc = cli("--json", *args, ok=False)
        assert proc.returncode == 4, proc.stderr
        assert js(proc)["error"]["error"] in errors, proc.stdout


def test_proposal_kinds_and_profiles(cli: Run, cli_home: Path, short_votes: None) -> None:
    model = record(
        cli(
            "--json",
            "model",
            "register",
            "--name",
            "gov-model",
            "--architecture",
            write(cli_home, "g-arch.json", 10),
            "--weights",
            write(cli_home, "g-w.bin", 10),
            "--licence",
            "MIT",
            "--from",
            "//Bob",
        )
    )["model_id"]
    kinds = [
        ("safety", str(model), "flag"),
        ("licence", str(model), "--spdx", "Apache-2.0", "--commercial-use"),
        ("jurisdictions", str(model), "DE", "FR"),
        ("parameter", "aggregator_fee", "5"),
    ]
    for kind in kinds:
        sent = record(cli("--json", "propose", *kind, "--from", "//Charlie"))
        assert sent["proposal_id"] >= 0 and sent["kind"] == kind[0]
    assert record(cli("--json", "model", "versions", str(model)))["versions"] == []
    assert "no versions" in cli("model", "versions", str(model)).stdout
    proc = cli(
        "--json", "propose", "approve-version", str(model), "7", "--from", "//Charlie", ok=False
    )
    assert proc.returncode == 4 and js(proc)["error"]["error"] == "VersionNotFound"
    proc = cli(
        "--json", "propose", "reject-version", str(model), "7", "--from", "//Charlie", ok=False
    )
    assert proc.returncode == 4
    proc = cli("--json", "propose", "resolve-challenge", "0", "0", "--from", "//Charlie", ok=False)
    assert proc.returncode == 4 and js(proc)["error"]["error"] == "NotSubmittable"
    proc = cli("propose", "parameter", "no_such_parameter", "1", "--from", "//Charlie", ok=False)
    assert proc.returncode == 2
    cli("profile", "set", "FR", "--from", "//Eve")
    assert record(cli("--json", "profile", "clear", "--from", "//Eve"))["dry_run"] is False
    proc = cli("--json", "profile", "clear", "--from", "//Eve", ok=False)
    assert js(proc)["error"]["error"] == "NoTrainerProfile"


def test_task_cancel_refunds(cli: Run, cli_home: Path, short_votes: None) -> None:
    model = record(
        cli(
            "--json",
            "model",
            "register",
            "--name",
            "cancel-model",
            "--architecture",
            write(cli_home, "c-arch.json", 10),
            "--weights",
            write(cli_home, "c-w.bin", 10),
            "--licence",
            "MIT",
            "--from",
            "//Dave",
        )
    )["model_id"]
    before = record(cli("--json", "balance", "//Dave"))
    task = record(
        cli(
            "--json",
            "task",
            "create",
            str(model),
            "--reward-per-round",
            "1",
            "--rounds",
            "3",
            "--trainer-stake",
            "1",
            "--asset",
            "1",
            "--from",
            "//Dave",
        )
    )["task_id"]
    assert record(cli("--json", "task", "show", str(task)))["task"]["status"] == "Open"
    cli("task", "cancel", str(task), "--from", "//Dave")
    assert record(cli("--json", "task", "show", str(task)))["task"]["status"] == "Cancelled"
    assert record(cli("--json", "balance", "//Dave", "--asset", "1"))["balance"] == str(
        100_000 * 10**12
    )
    # Everything the task escrowed came back; what stays held is the model deposit.
    assert record(cli("--json", "balance", "//Dave"))["reserved"] == before["reserved"]
    proc = cli("--json", "task", "expire", str(task), "--from", "//Dave", ok=False)
    assert js(proc)["error"]["error"] == "TaskNotLive"
