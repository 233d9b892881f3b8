"""A federation whose participants behave as if on hosts of their own (issue 16).

One network namespace per participant (``decentralml.core.devstack.federation``): three
``--chain local`` validators peering over a bridge, four trainers, an aggregator and a verifier
with one private Kubo each, reachable from each other only at their bridge addresses. Real
node-decentralml and real Kubo daemons throughout; everything is torn down at the end, also
when a test fails.

Needs root (network namespaces): without it the module is skipped with that reason; as root,
a federation that could not be isolated is a failure, never a silent fallback.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from decentralml.core.devstack.binaries import find_ipfs_binary
from decentralml.core.devstack.federation import Federation
from decentralml.core.devstack.fedplan import Participant
from decentralml.core.devstack.netns import (
    Netns,
    NetPlan,
    QdiscUnavailable,
    ours_links,
    ours_netns,
    teardown,
)

pytestmark = [pytest.mark.chain, pytest.mark.ipfs]

# Not the default prefix and subnet of `decentralml dev up --federation`, so a developer's
# federation on the same machine is left alone.
NET = NetPlan(prefix="dmlt", subnet="10.78.0")
TRAINERS = 4
T = TypeVar("T")


def wait_until(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except Exception as exc:  # a daemon that is restarting refuses connections
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout:.0f} s (last error: {last!r})")


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    if os.geteuid() != 0:
        pytest.skip(
            "the federation would NOT be isolated: network namespaces need root "
            "(run scripts/test as root to exercise the one-namespace-per-participant setup)"
        )
    teardown(NET.prefix)  # leftovers of a run that was killed
    federation = Federation(
        tmp_path_factory.mktemp("fed"), TRAINERS, isolate="require", net=NET, progress=print
    )
    t0 = time.monotonic()
    try:
        federation.up()
        print(f"federation of {len(federation.participants)} up in {time.monotonic() - t0:.1f} s")
        yield federation
    finally:
        federation.down()
        net = Netns(NET)
        assert not ours_netns(net.netns_names(), NET.prefix), "namespaces left behind"
        assert not ours_links(net.link_names(), NET.prefix), "links left behind"


def in_ns(fed: Federation, p: Participant, code: str) -> str:
    """Run a few lines of Python inside p's namespace; returns their stdout."""
    done = fed.exec(p, [sys.executable, "-c", code], timeout=30)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode().strip()


CONNECT = """
import socket, sys
s = socket.socket(); s.settimeout(2)
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print("open")
except OSError as e:
    print(type(e).__name__)
"""


def connect_from(fed: Federation, p: Participant, host: str, port: int) -> str:
    done = fed.exec(p, [sys.executable, "-c", CONNECT, host, str(port)], timeout=30)
    return done.stdout.decode().strip()


def test_each_participant_has_its_own_namespace_and_address(fed: Federation) -> None:
    assert fed.isolated
    people = list(fed.participants.values())
    assert len(people) == 3 + TRAINERS + 2
    assert len({p.address for p in people}) == len(people)
    assert len({p.netns for p in people}) == len(people)
    for p in people:
        addrs = json.loads(fed.exec(p, ["ip", "-j", "addr", "show"]).stdout)
        inet = sorted(a["local"] for i in addrs for a in i["addr_info"] if a["family"] == "inet")
        assert inet == sorted(["127.0.0.1", p.address]), (p.name, inet)
        routes = json.loads(fed.exec(p, ["ip", "-j", "route", "show"]).stdout)
        # The only route leads onto the bridge: no default route, nothing beyond it.
        assert [r["dst"] for r in routes] == [f"{NET.subnet}.0/24"], (p.name, routes)
    # Each Kubo API answers only inside its own namespace: 127.0.0.1:5001 in the aggregator's
    # namespace is the aggregator's own Kubo, and trainer-1's API is not reachable from there.
    t1, agg = fed.participants["trainer-1"], fed.participants["aggregator"]
    own_id = fed.ipfs(agg, "id", "-f", "<id>").decode().strip()
    assert own_id == fed.peer_ids["aggregator"] != fed.peer_ids["trainer-1"]
    assert connect_from(fed, agg, t1.address, t1.api_port) == "ConnectionRefusedError"
    assert connect_from(fed, t1, "127.0.0.1", t1.api_port) == "open"
    # ...while its swarm port and the validators' RPC are open to everyone on the bridge.
    assert connect_from(fed, agg, t1.address, t1.swarm_port) == "open"
    assert connect_from(fed, agg, fed.participants[agg.validator].address, 9944) == "open"
    # Participants use the validators' RPC in turn.
    assert {p.validator for p in fed.storers} == {"alice", "bob", "charlie"}


def test_validators_peer_and_finalize(fed: Federation) -> None:
    for v in fed.validators:
        assert fed.rpc(v, "system_health")["peers"] >= 2, v.name
    wait_until(
        lambda: min(fed.heads(v)[1] for v in fed.validators) >= 3,
        60,
        "the three validators did not finalize block #3",
    )
    height = min(fed.heads(v)[1] for v in fed.validators)
    hashes = {fed.rpc(v, "chain_getBlockHash", [height]) for v in fed.validators}
    assert len(hashes) == 1, f"the validators disagree on finalized block #{height}: {hashes}"


def fetch_over_bitswap(fed: Federation, source: str, dest: str, size: int) -> float:
    """Add random bytes on ``source``'s Kubo, fetch them on ``dest``'s; returns the seconds."""
    src, dst = fed.participants[source], fed.participants[dest]
    data = os.urandom(size)
    cid = fed.ipfs(src, "add", "-Q", "--cid-version", "1", input=data).decode().strip()
    # dest does not have it, and can reach source only through the swarm.
    kubo = str(find_ipfs_binary())
    local = fed.exec(
        dst, [kubo, "--api", dst.kubo_api_multiaddr, "block", "stat", "--offline", cid]
    )
    assert local.returncode != 0, f"{dest} already had {cid}"
    before = json.loads(fed.ipfs(dst, "stats", "bitswap", "--enc", "json"))
    t0 = time.monotonic()
    got = fed.ipfs(dst, "cat", cid, timeout=120)
    seconds = time.monotonic() - t0
    after = json.loads(fed.ipfs(dst, "stats", "bitswap", "--enc", "json"))
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest()
    assert after["DataReceived"] - before["DataReceived"] >= size
    print(f"{size} bytes {source} -> {dest} over bitswap in {seconds:.2f} s")
    return seconds


def test_content_moves_between_kubos_over_bitswap_only(fed: Federation) -> None:
    fetch_over_bitswap(fed, "trainer-1", "aggregator", 2_000_000)


def test_validator_kill_then_catch_up(fed: Federation) -> None:
    bob = fed.participants["bob"]
    survivors = [fed.participants["alice"], fed.participants["charlie"]]
    wait_until(lambda: fed.heads(bob)[1] >= 3, 60, "bob did not finalize")
    before = [fed.heads(v) for v in survivors]
    handle = fed.processes["bob.node"]
    handle.kill()  # SIGKILL, as a crash or a pulled plug
    assert not handle.alive()
    outage = 14.0
    time.sleep(outage)
    during = [fed.heads(v) for v in survivors]
    produced = min(d[0] - b[0] for b, d in zip(before, during, strict=True))
    finalized_gain = max(d[1] - b[1] for b, d in zip(before, during, strict=True))
    print(
        f"bob down {outage:.0f} s: survivors authored {produced} blocks, "
        f"finalized {finalized_gain} more (heads before {before}, after {during})"
    )
    # Aura: the two survivors keep authoring in their slots (2 of every 3 slots of 2 s).
    assert produced >= 3
    # GRANDPA with 3 voters needs more than 2/3 of them, that is all three: finality stalls
    # while one is down (at most a block whose votes were already under way gets through).
    assert finalized_gain <= 2, "finality went on with 2 of 3 voters: the voter set changed?"
    stalled_at = max(d[1] for d in during)
    t0 = time.monotonic()
    fed.restart(handle)

    def caught_up() -> bool:
        mine = fed.heads(bob)[1]
        others = [fed.heads(v)[1] for v in survivors]
        return mine > stalled_at and mine >= min(others)

    wait_until(caught_up, 30, "bob did not catch up with the others' finalized head")
    seconds = time.monotonic() - t0
    print(f"bob restarted: finality resumed and bob caught up in {seconds:.1f} s")
    assert seconds <= 30


def test_degraded_network_netem(fed: Federation) -> None:
    try:
        fed.netem(100, 1.0)
    except QdiscUnavailable as exc:
        pytest.skip(f"netem unavailable, no delay/loss test: {exc}")
    try:
        rtt = float(
            in_ns(
                fed,
                fed.participants["trainer-2"],
                "import socket, time, sys\n"
                f"t = time.monotonic(); s = socket.create_connection(('{fed.participants['alice'].address}', 9944), 5)\n"
                "print(time.monotonic() - t)",
            )
        )
        print(f"TCP connect across the bridge with netem: {rtt * 1000:.0f} ms")
        assert rtt >= 0.18  # 100 ms each way
        start = min(fed.heads(v)[1] for v in fed.validators)
        wait_until(
            lambda: min(fed.heads(v)[1] for v in fed.validators) >= start + 3,
            60,
            "no finality under netem 100 ms / 1 %",
        )
        fetch_over_bitswap(fed, "trainer-2", "verifier", 1_000_000)
    finally:
        fed.clear_conditions()


def test_shaped_links_still_finalize_and_fetch(fed: Federation) -> None:
    """A bandwidth cap (tc tbf, available where netem is not): 2 Mbit/s for everyone."""
    rate_kbit = 2000
    fed.shape(rate_kbit)
    try:
        start = min(fed.heads(v)[1] for v in fed.validators)
        size = 1_000_000
        seconds = fetch_over_bitswap(fed, "trainer-3", "aggregator", size)
        floor = size * 8 / (rate_kbit * 1000)
        assert seconds >= 0.7 * floor, f"{seconds:.2f} s: the cap of {floor:.1f} s did not apply"
        wait_until(
            lambda: min(fed.heads(v)[1] for v in fed.validators) >= start + 3,
            60,
            "no finality with 2 Mbit/s links",
        )
    finally:
        fed.clear_conditions()
    assert Path("/run/netns", f"{NET.prefix}-alice").exists()


ROLES = ("trainer-1", "trainer-2", "trainer-3", "trainer-4", "aggregator", "verifier")
PASSWORD = "netns-federation-test"
# Accounts kept on another participant's host: the sponsor and a standby aggregator, both
# in the aggregator's organisation.
HOST_OF = {"sponsor": "aggregator", "aggregator-b": "aggregator"}
UNIT = 10**12


def fund_organisations(fed: Federation) -> dict[str, str]:
    """Each organisation creates its own account in its own keystore (a Local chain refuses
    dev keys to the CLI); the test, as the chain's faucet, endows them from Alice over alice's
    RPC at its bridge address. Returns participant -> address ("sponsor" too)."""
    from decentralml.core.chain.client import CallSpec, ChainClient
    from decentralml.core.keys import Keystore
    from substrateinterface import Keypair

    addresses = {}
    for name in (*ROLES, "sponsor", "aggregator-b"):
        p = fed.participants[HOST_OF.get(name, name)]
        account, _ = Keystore(p.keystore).create(name, PASSWORD)
        addresses[name] = account.address
    client = ChainClient(fed.participants["alice"].rpc_url)
    try:
        alice = Keypair.create_from_uri("//Alice", ss58_format=42)
        calls = [
            CallSpec("Balances", "transfer_keep_alive", {"dest": a, "value": 1_000 * UNIT})
            for a in addresses.values()
        ]
        client.submit_many(alice, calls)
    finally:
        client.close()
    return addresses


def cli_json(fed: Federation, p: Participant, *args: str) -> dict[str, object]:
    """``decentralml --json ...`` inside p's namespace, against p's validator and Kubo."""
    from tests.integration.clirun import CLI

    done = fed.exec(
        p, ["env", f"DECENTRALML_PASSWORD={PASSWORD}", CLI, "--json", *args], timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    out: dict[str, object] = json.loads(done.stdout)
    return out


@pytest.fixture(scope="module")
def orgs(fed: Federation) -> dict[str, str]:
    """Every organisation's funded account, and the demo data on the participants' hosts."""
    from decentralml.core.fl import demo_federation, encode_weights, initial_weights, save_dataset

    addresses = fund_organisations(fed)
    agg, ver = fed.participants["aggregator"], fed.participants["verifier"]
    shards, test, spec = demo_federation("breast_cancer", TRAINERS, alpha=5.0, seed=7)
    (agg.home / "spec.json").write_bytes(spec.to_bytes())
    (agg.home / "initial.npz").write_bytes(encode_weights(initial_weights(spec, seed=1)))
    save_dataset(test, ver.home / "test.npz")
    for i in range(TRAINERS):
        save_dataset(shards[i], fed.participants[f"trainer-{i + 1}"].home / "shard.npz")
    return addresses


def create_task(fed: Federation, name: str, rounds: int, round_length: int) -> int:
    """The sponsor (in the aggregator's organisation) registers the model and funds a task."""
    agg = fed.participants["aggregator"]
    model = cli_json(
        fed, agg, "model", "register", "--name", name,
        "--architecture", str(agg.home / "spec.json"), "--weights", str(agg.home / "initial.npz"),
        "--licence", "Apache-2.0", "--jurisdiction", "DE", "--from", "sponsor",
    )["model_id"]  # fmt: skip
    task = cli_json(
        fed, agg, "task", "create", str(model), "--reward-per-round", "30",
        "--rounds", str(rounds), "--min-trainers", str(TRAINERS),
        "--max-trainers", str(TRAINERS), "--trainer-stake", "1",
        "--round-length", str(round_length), "--challenge-window", "2",
        "--jurisdiction", "DE", "--from", "sponsor",
    )["task_id"]  # fmt: skip
    return int(str(task))


def start_role(fed: Federation, name: str, task: int, rounds: int, *extra: str) -> tuple[Any, Path]:
    """``decentralml train|aggregate|verify`` of account ``name`` in its host's namespace."""
    from tests.integration.clirun import CLI

    p = fed.participants[HOST_OF.get(name, name)]
    events = p.home / f"task{task}.{name}.events.jsonl"
    if name.startswith("trainer"):
        argv = ["train", "--data", str(p.home / "shard.npz"), "--jurisdiction", "DE"]
    elif name.startswith("aggregator"):
        argv = ["aggregate", *extra]
    else:
        argv = ["verify", "--data", str(p.home / "test.npz")]
    full = [CLI, "-v", *argv, "--task", str(task), "--account", name, "--rounds", str(rounds)]
    full += ["--events", str(events), "--poll", "0.5"]
    env = {"TF_CPP_MIN_LOG_LEVEL": "2", "DECENTRALML_PASSWORD": PASSWORD}
    return fed.spawn(p, f"task{task}.{name}", full, env), events


def events_of(path: Path) -> list[Any]:
    from decentralml.core.roles.events import read_events

    return list(read_events(path)) if path.exists() else []


def test_a_round_across_namespaces_moves_updates_by_bitswap_only(
    fed: Federation, orgs: dict[str, str]
) -> None:
    """The installed roles, each in its own namespace with its own Kubo and its own validator,
    train one round of a real task: every update reaches the aggregator and the verifier from
    the trainers' Kubo peers, and the verifier's recomputation agrees."""
    agg = fed.participants["aggregator"]
    task = create_task(fed, "netns-bc", rounds=1, round_length=30)
    roles = [(name, *start_role(fed, name, task, 1)) for name in ROLES]
    try:

        def all_done() -> bool:
            for name, handle, _ in roles:
                code = handle.child.poll() if handle.child else None
                assert code in (None, 0), f"{name} exited {code}:\n{handle.log.read_text()[-3000:]}"
            return all(h.child is not None and h.child.poll() == 0 for _, h, _ in roles)

        wait_until(all_done, 420, "every role finishing its round")
        by_name = {name: [e.phase for e in events_of(ev)] for name, _, ev in roles}
        assert "finalized" in by_name["aggregator"], by_name["aggregator"]
        assert "attested" in by_name["verifier"], by_name["verifier"]
        for name in ROLES:
            if name.startswith("trainer"):
                assert "submitted" in by_name[name], (name, by_name[name])
        attested = [e for e in events_of(roles[-1][2]) if e.phase == "attested"]
        assert "agreement" in attested[0].message, attested[0].message
        # The aggregator's Kubo received the updates from its peers (it never had them).
        stat = json.loads(fed.ipfs(agg, "stats", "bitswap", "--enc=json"))
        assert int(stat["BlocksReceived"]) >= TRAINERS, stat
    finally:
        for _, handle, _ in roles:
            handle.kill()


def test_a_trainer_killed_mid_training_is_slashed_once_and_rejoins(
    fed: Federation, orgs: dict[str, str]
) -> None:
    """kill -9 of a trainer while it trains round 0: the round finalizes without it, it is
    slashed as a no-show exactly once, and restarted it rejoins round 1 from the chain's
    state without resubmitting round 0."""
    from decentralml.core.chain.client import ChainClient

    # A long commit window: the restarted trainer loads TFF again (tens of seconds under load)
    # before it can commit round 1; the round waits for it no longer than it needs.
    task = create_task(fed, "netns-bc-fault", rounds=2, round_length=45)
    roles = {name: start_role(fed, name, task, 2) for name in ROLES}
    victim, victim_events = roles["trainer-4"]
    client = ChainClient(fed.participants["alice"].rpc_url)
    first_block = client.block_number()
    try:
        wait_until(
            lambda: any(e.phase == "training" for e in events_of(victim_events)),
            300,
            "trainer-4 training round 0",
        )
        victim.kill()
        agg_events = roles["aggregator"][1]
        wait_until(
            lambda: any(e.phase == "finalized" and e.round == 0 for e in events_of(agg_events)),
            300,
            "round 0 finalized without trainer-4",
        )
        restarted_at = time.monotonic()
        victim = fed.restart(victim)
        wait_until(
            lambda: any(e.phase == "submitted" and e.round == 1 for e in events_of(victim_events)),
            240,
            "the restarted trainer-4 submitting round 1",
        )
        recovery = time.monotonic() - restarted_at
        print(f"trainer kill: restarted trainer-4 back in the federation in {recovery:.1f} s")
        assert not any(e.phase == "submitted" and e.round == 0 for e in events_of(victim_events))
        wait_until(
            lambda: sum(1 for e in events_of(agg_events) if e.phase == "finalized") >= 2,
            300,
            "round 1 finalized",
        )
        # Exactly one slash, of trainer-4, for round 0: read every block's events.
        si = client.substrate
        slashes = []
        for number in range(first_block, client.block_number() + 1):
            block_hash = si.get_block_hash(number)
            for record in si.get_events(block_hash):
                event = record.value["event"]
                if event["module_id"] == "DecentralMl" and event["event_id"] == "StakeSlashed":
                    slashes.append(event["attributes"])
        mine = [s for s in slashes if int(s["task_id"]) == task]
        assert [(s["trainer"], int(s["round"])) for s in mine] == [(orgs["trainer-4"], 0)], mine
    finally:
        client.close()
        for handle, _ in roles.values():
            handle.kill()
        victim.kill()


def chain_events(client: Any, first: int, names: set[str]) -> list[tuple[str, dict[str, Any]]]:
    """``(name, attributes)`` of the DecentralMl events named ``names`` from block ``first``."""
    si = client.substrate
    found = []
    for number in range(first, client.block_number() + 1):
        for record in si.get_events(si.get_block_hash(number)):
            event = record.value["event"]
            if event["module_id"] == "DecentralMl" and event["event_id"] in names:
                found.append((event["event_id"], event["attributes"]))
    return found


def test_an_aggregator_killed_after_fetching_is_replaced_and_never_submits_stale(
    fed: Federation, orgs: dict[str, str]
) -> None:
    """kill -9 of the aggregator after it fetched and checked round 0's updates: round 0 fails
    by the existing rule (a keeper finalizes it after the aggregation period; the bond is
    slashed), a standby aggregator bonds and runs round 1, and the old one, restarted, sees it
    was unbonded and exits without submitting anything."""
    from decentralml.core.chain.client import ChainClient

    task = create_task(fed, "netns-bc-agg", rounds=2, round_length=20)
    client = ChainClient(fed.participants["alice"].rpc_url)
    first_block = client.block_number()
    roles = {
        name: start_role(fed, name, task, 2 if name.startswith("trainer") else 1)
        for name in ROLES
        if name != "aggregator"
    }
    old, old_events = start_role(fed, "aggregator", task, 2, "--pause-after-fetch", "120")
    standby: Any = None
    try:
        wait_until(
            lambda: any(e.phase == "aggregating" and e.round == 0 for e in events_of(old_events)),
            300,
            "the aggregator fetching round 0's updates",
        )
        old.kill()
        # A keeper (the sponsor) finalizes round 0 once its aggregation period is over.
        agg = fed.participants["aggregator"]

        def finalized() -> bool:
            from tests.integration.clirun import CLI

            done = fed.exec(
                agg,
                ["env", f"DECENTRALML_PASSWORD={PASSWORD}", CLI, "--json", "round", "finalize",
                 str(task), "0", "--from", "sponsor"],
                timeout=120,
            )  # fmt: skip
            waiting = (b"AwaitingAggregate", b"RoundStillOpen")
            assert done.returncode == 0 or any(w in done.stderr for w in waiting), done.stderr
            return done.returncode == 0

        wait_until(finalized, 120, "round 0 finalized by a keeper")
        started = time.monotonic()
        standby, standby_events = start_role(fed, "aggregator-b", task, 1)
        wait_until(
            lambda: any(
                e.phase == "aggregated" and e.round == 1 for e in events_of(standby_events)
            ),
            300,
            "the standby aggregator aggregating round 1",
        )
        print(f"aggregator kill: round 1 aggregated {time.monotonic() - started:.1f} s after "
              "the standby started")  # fmt: skip
        old = fed.restart(old)
        wait_until(lambda: old.child is not None and old.child.poll() is not None, 120, "old exits")
        assert old.child is not None and old.child.returncode == 0, old.log.read_text()[-2000:]
        names = {"AggregatorSlashed", "AggregateSubmitted", "RoundFinalized"}
        events = [
            (n, a) for n, a in chain_events(client, first_block, names) if int(a["task_id"]) == task
        ]
        slashed = [a for n, a in events if n == "AggregatorSlashed"]
        assert [(a["aggregator"], int(a["round"])) for a in slashed] == [(orgs["aggregator"], 0)]
        submitted = [a for n, a in events if n == "AggregateSubmitted"]
        assert [(a["aggregator"], int(a["round"])) for a in submitted] == [
            (orgs["aggregator-b"], 1)
        ]
        failed = [a for n, a in events if n == "RoundFinalized" and int(a["round"]) == 0]
        assert failed and not failed[0]["succeeded"], failed
    finally:
        client.close()
        for handle, _ in roles.values():
            handle.kill()
        old.kill()
        if standby is not None:
            standby.kill()
