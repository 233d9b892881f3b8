"""Organisations on a rehearsal federation: their accounts, data, tasks and role processes.

What tests/e2e/test_federation_net.py and bench/federation.py do on a :class:`Federation`,
the way separate organisations would: each creates its own account in its own keystore (a
``--chain local`` node refuses the public dev keys to the CLI), the chain's faucet (Alice)
endows them, a sponsor registers a model and funds a task through the CLI, and every trainer,
aggregator and verifier runs as its own ``decentralml`` process in its own namespace, against
its own validator and its own Kubo::

    orgs = Organisations(fed, password="...")
    orgs.fund()                      # name -> address, "sponsor" and "aggregator-b" included
    orgs.demo_data()                 # a spec, initial weights, shards and a held-out set
    task = orgs.create_task("demo", rounds=2, round_length=30)
    handle, events = orgs.start_role("trainer-1", task, rounds=2)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..roles.events import ProgressEvent, read_events
from ..types import ChainEvent
from .federation import Federation
from .fedplan import Participant
from .fedproc import ProcessHandle

UNIT = 10**12
"""One DML in plancks."""
HOST_OF = {"sponsor": "aggregator", "aggregator-b": "aggregator"}
"""Accounts kept on another participant's host: the sponsor and a standby aggregator, both in
the aggregator's organisation."""
CLI = str(Path(sys.executable).parent / "decentralml")


def role_names(trainers: int) -> tuple[str, ...]:
    return (*(f"trainer-{i + 1}" for i in range(trainers)), "aggregator", "verifier")


def events_of(path: Path) -> list[ProgressEvent]:
    """The progress events a role has written so far (none before it starts)."""
    return list(read_events(path)) if path.exists() else []


def task_events(
    client: Any, first: int, task_id: int, names: Iterable[str] | None = None
) -> list[ChainEvent]:
    """DecentralMl events of ``task_id`` (only ``names``, if given) from block ``first`` on."""
    wanted = set(names) if names is not None else None
    found = []
    for number in range(first, client.block_number() + 1):
        for e in client.events(client.rpc("chain_getBlockHash", [number]), number):
            if e.pallet != "DecentralMl" or (wanted is not None and e.name not in wanted):
                continue
            if (
                isinstance(e.attributes, Mapping)
                and int(e.attributes.get("task_id", -1)) == task_id
            ):
                found.append(e)
    return found


def excluded_by_aggregator(events: Iterable[ProgressEvent]) -> dict[int, list[str]]:
    """Round -> the trainers an aggregator's ``rejected`` events name ("<trainer>: <why>")."""
    out: dict[int, list[str]] = {}
    for e in events:
        if e.role == "aggregator" and e.phase == "rejected" and e.round is not None:
            who, sep, _ = e.message.partition(": ")
            if sep:
                out.setdefault(e.round, []).append(who)
    return out


class Organisations:
    """The organisations of a federation's participants (see the module docstring)."""

    def __init__(self, fed: Federation, password: str) -> None:
        self.fed = fed
        self.password = password
        self.names = role_names(fed.trainers)
        self.addresses: dict[str, str] = {}

    def host(self, name: str) -> Participant:
        return self.fed.participants[HOST_OF.get(name, name)]

    def fund(self, amount: int = 1_000 * UNIT) -> dict[str, str]:
        """Every organisation's own account, endowed by the faucet over alice's RPC."""
        from substrateinterface import Keypair

        from ..chain.client import CallSpec, ChainClient
        from ..keys import Keystore

        for name in (*self.names, "sponsor", "aggregator-b"):
            account, _ = Keystore(self.host(name).keystore).create(name, self.password)
            self.addresses[name] = account.address
        client = ChainClient(self.fed.participants["alice"].rpc_url)
        try:
            faucet = Keypair.create_from_uri("//Alice", ss58_format=42)
            calls = [
                CallSpec("Balances", "transfer_keep_alive", {"dest": a, "value": amount})
                for a in self.addresses.values()
            ]
            client.submit_many(faucet, calls)
        finally:
            client.close()
        return self.addresses

    def demo_data(self, dataset: str = "breast_cancer", *, alpha: float = 5.0) -> None:
        """The demo's model on the sponsor's host, a shard per trainer, a held-out set for
        the verifier: each on its own participant's disk."""
        from ..fl import demo_federation, encode_weights, initial_weights, save_dataset

        agg, ver = self.fed.participants["aggregator"], self.fed.participants["verifier"]
        trainers = self.fed.trainers
        shards, test, spec = demo_federation(dataset, trainers, alpha=alpha, seed=7)
        (agg.home / "spec.json").write_bytes(spec.to_bytes())
        (agg.home / "initial.npz").write_bytes(encode_weights(initial_weights(spec, seed=1)))
        save_dataset(test, ver.home / "test.npz")
        for i in range(trainers):
            save_dataset(shards[i], self.fed.participants[f"trainer-{i + 1}"].home / "shard.npz")

    def cli(self, p: Participant, *args: str, timeout: float = 120) -> Any:
        """``decentralml ...`` inside p's namespace, against p's validator and Kubo."""
        argv = ["env", f"DECENTRALML_PASSWORD={self.password}", CLI, *args]
        return self.fed.exec(p, argv, timeout=timeout)

    def cli_json(self, p: Participant, *args: str) -> dict[str, Any]:
        done = self.cli(p, "--json", *args)
        if done.returncode != 0:
            raise AssertionError(f"decentralml {' '.join(args)}: {done.stderr.decode()[-2000:]}")
        out: dict[str, Any] = json.loads(done.stdout)
        return out

    def create_task(
        self,
        name: str,
        *,
        rounds: int,
        round_length: int,
        challenge_window: int = 2,
        trainers: int | None = None,
    ) -> int:
        """The sponsor (on the aggregator's host) registers the model and funds a task."""
        agg = self.fed.participants["aggregator"]
        n = str(trainers or self.fed.trainers)
        model = self.cli_json(
            agg, "model", "register", "--name", name,
            "--architecture", str(agg.home / "spec.json"),
            "--weights", str(agg.home / "initial.npz"),
            "--licence", "Apache-2.0", "--jurisdiction", "DE", "--from", "sponsor",
        )["model_id"]  # fmt: skip
        task = self.cli_json(
            agg, "task", "create", str(model), "--reward-per-round", "30",
            "--rounds", str(rounds), "--min-trainers", n, "--max-trainers", n,
            "--trainer-stake", "1", "--round-length", str(round_length),
            "--challenge-window", str(challenge_window), "--jurisdiction", "DE",
            "--from", "sponsor",
        )["task_id"]  # fmt: skip
        return int(task)

    def start_role(
        self, name: str, task: int, rounds: int, *extra: str, poll: float = 0.5
    ) -> tuple[ProcessHandle, Path]:
        """``decentralml train|aggregate|verify`` of account ``name`` in its host's namespace;
        returns the process and its progress-events file."""
        p = self.host(name)
        events = p.home / f"task{task}.{name}.events.jsonl"
        argv: Sequence[str]
        if name.startswith("trainer"):
            argv = ["train", "--data", str(p.home / "shard.npz"), "--jurisdiction", "DE"]
        elif name.startswith("aggregator"):
            argv = ["aggregate", *extra]
        else:
            argv = ["verify", "--data", str(p.home / "test.npz")]
        full = [CLI, "-v", *argv, "--task", str(task), "--account", name, "--rounds", str(rounds)]
        full += ["--events", str(events), "--poll", str(poll)]
        env = {"TF_CPP_MIN_LOG_LEVEL": "2", "DECENTRALML_PASSWORD": self.password}
        return self.fed.spawn(p, f"task{task}.{name}", full, env), events
