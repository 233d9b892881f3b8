"""Dev stack logic without a node: pid records, stale pids, process groups, ports, settings,
the Kubo config patch and the idempotent demo seeding plan."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from decentralml.core import devstack
from decentralml.core.devstack import (
    ChainFacts,
    DemoRecord,
    DevStack,
    DevStackError,
    PortTaken,
    StackSettings,
    kubo_config_patch,
    last_event,
    plan_seed,
    resolve_settings,
)
from decentralml.core.proc import (
    PidRecord,
    parse_proc_net_tcp,
    parse_stat,
    port_free,
    port_listening,
    proc_stat,
    read_record,
    spawn,
    stop_record,
    write_record,
)


# ---- /proc parsing -------------------------------------------------------------------------------
def test_parse_stat_counts_fields_after_the_last_parenthesis() -> None:
    fields = " ".join(str(n) for n in range(4, 53))
    line = f"1234 (evil) name (x)) S 1 1234 1234 {fields}"
    stat = parse_stat(line)
    assert (stat.pid, stat.state, stat.ppid, stat.pgrp, stat.session) == (1234, "S", 1, 1234, 1234)
    # field 22 (starttime) follows 18 more numbers after the session (fields 7..21 here: 4..)
    assert stat.start_ticks == int(line.rpartition(")")[2].split()[19])


def test_proc_stat_of_this_process_and_of_no_process() -> None:
    me = proc_stat(os.getpid())
    assert me is not None and me.pid == os.getpid() and me.start_ticks > 0
    assert proc_stat(2**22 + 12345) is None


def test_parse_proc_net_tcp_keeps_listening_sockets_only() -> None:
    text = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n"
        "   0: 0100007F:26D8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        "
        "0 4242 1 0000000000000000 100 0 0 10 0\n"
        "   1: 0100007F:26D8 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        "
        "0 4343 1 0000000000000000 20 4 30 10 -1\n"
    )
    assert parse_proc_net_tcp(text) == {0x26D8: [4242]}


# ---- pid records ---------------------------------------------------------------------------------
def _record_of(pid: int, name: str = "x", **kw: object) -> PidRecord:
    stat = proc_stat(pid)
    assert stat is not None
    return PidRecord(name=name, pid=pid, start_ticks=stat.start_ticks, argv=("x",), log="", **kw)  # type: ignore[arg-type]


def test_pid_record_round_trips_and_recognises_its_process(tmp_path: Path) -> None:
    record = _record_of(os.getpid(), ports=(1, 2), url="ws://x")
    write_record(tmp_path / "x.pid", record)
    again = read_record(tmp_path / "x.pid")
    assert again == record
    assert again.alive()


def test_a_reused_pid_is_not_ours(tmp_path: Path) -> None:
    """Same pid, other start time: the pid file is stale and the process must not be touched."""
    record = _record_of(os.getpid())
    stale = PidRecord(record.name, record.pid, record.start_ticks - 1, record.argv, record.log)
    assert not stale.alive()
    assert stop_record(stale, timeout=0.1) == []  # nothing signalled: we are still running
    assert not PidRecord("gone", 2**22 + 12345, 1, (), "").alive()


@pytest.mark.parametrize("text", ["", "{", "[]", '{"pid": 1}', '{"name": "a", "pid": "x"}'])
def test_unreadable_pid_files_count_as_stale(tmp_path: Path, text: str) -> None:
    (tmp_path / "a.pid").write_text(text)
    assert read_record(tmp_path / "a.pid") is None
    assert read_record(tmp_path / "missing.pid") is None


@pytest.fixture
def children() -> Iterator[list[PidRecord]]:
    started: list[PidRecord] = []
    yield started
    for record in started:
        if record.alive() or record.members():
            os.killpg(record.pid, signal.SIGKILL)


def test_stop_record_stops_the_whole_process_group(
    tmp_path: Path, children: list[PidRecord]
) -> None:
    # A shell with two background grandchildren: all three share the group.
    child, record = spawn("grp", ["sh", "-c", "sleep 60 & sleep 60 & wait"], tmp_path / "grp.log")
    children.append(record)
    deadline = time.monotonic() + 5
    while len(record.members()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(record.members()) == 3
    assert stop_record(record, timeout=5) == []
    assert not record.alive() and record.members() == []
    assert child.poll() is not None
    assert "sh -c" in (tmp_path / "grp.log").read_text()


def test_stop_record_kills_a_child_that_ignores_sigterm(
    tmp_path: Path, children: list[PidRecord]
) -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"
    _child, record = spawn("stubborn", [sys.executable, "-c", code], tmp_path / "s.log")
    children.append(record)
    deadline = time.monotonic() + 10
    while "up" not in (tmp_path / "s.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stop_record(record, timeout=0.5) == []
    assert not record.alive()


# ---- ports ---------------------------------------------------------------------------------------
@pytest.fixture
def listener() -> Iterator[int]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    yield int(s.getsockname()[1])
    s.close()


def test_port_checks(listener: int) -> None:
    assert not port_free(listener)
    assert port_listening(listener)
    from decentralml.core.proc import free_port, listening_pids

    assert os.getpid() in listening_pids(listener)
    other = free_port()
    assert port_free(other) and not port_listening(other)


# ---- settings ------------------------------------------------------------------------------------
def test_settings_precedence_flags_env_recorded_defaults() -> None:
    recorded = StackSettings(rpc_port=9000, ipfs_api_port=9001)
    s = resolve_settings(recorded, {"rpc_port": None, "p2p_port": 9100}, env={})
    assert (s.rpc_port, s.p2p_port, s.ipfs_api_port, s.ipfs_gateway_port) == (
        9000,
        9100,
        9001,
        8080,
    )
    s = resolve_settings(recorded, {}, env={"DML_RPC_PORT": "9500"})
    assert s.rpc_port == 9500
    s = resolve_settings(recorded, {"rpc_port": 9600}, env={"DML_RPC_PORT": "9500"})
    assert s.rpc_port == 9600
    assert resolve_settings(None, {}, env={}) == StackSettings()


@pytest.mark.parametrize(
    ("explicit", "env", "message"),
    [
        ({}, {"DML_RPC_PORT": "abc"}, "DML_RPC_PORT"),
        ({"rpc_port": 5001}, {}, "must differ"),
        ({"rpc_port": 70000}, {}, "not a TCP port"),
        ({"trainers": 4}, {}, "1 to 3"),
    ],
)
def test_bad_settings_are_refused(
    explicit: dict[str, int], env: dict[str, str], message: str
) -> None:
    with pytest.raises(DevStackError, match=message):
        resolve_settings(None, explicit, env=env)


def test_kubo_config_is_private_with_the_stack_ports() -> None:
    cfg = {
        "Addresses": {"API": "/ip4/127.0.0.1/tcp/5001", "Swarm": ["/ip4/0.0.0.0/tcp/4001"], "X": 1},
        "Bootstrap": ["/dnsaddr/bootstrap.libp2p.io/p2p/Qm"],
        "Discovery": {"MDNS": {"Enabled": True}},
        "Routing": {"Type": "auto"},
    }
    out = kubo_config_patch(cfg, StackSettings(ipfs_api_port=7001, ipfs_gateway_port=7002))
    assert out["Addresses"] == {
        "API": "/ip4/127.0.0.1/tcp/7001",
        "Gateway": "/ip4/127.0.0.1/tcp/7002",
        "Swarm": [],
        "X": 1,
    }
    assert out["Bootstrap"] == [] and out["Discovery"]["MDNS"]["Enabled"] is False
    assert out["Routing"]["Type"] == "none"
    assert cfg["Bootstrap"]  # the input is not modified
    ext = kubo_config_patch(cfg, StackSettings(ipfs_external=True))
    assert ext["Addresses"]["API"] == "/ip4/0.0.0.0/tcp/5001"
    assert kubo_config_patch(out, StackSettings(ipfs_api_port=7001, ipfs_gateway_port=7002)) == out


def test_node_arguments_bind_locally_unless_external(tmp_path: Path) -> None:
    stack = DevStack(tmp_path, StackSettings(rpc_port=9950, p2p_port=9951))
    argv = stack.node_argv(Path("/bin/node"))
    assert argv[:2] == ["/bin/node", "--dev"]
    assert argv[argv.index("--base-path") + 1] == str(tmp_path / "chain")
    assert argv[argv.index("--rpc-port") + 1] == "9950"
    assert "/ip4/127.0.0.1/tcp/9951" in argv and "--rpc-external" not in argv
    ext = DevStack(tmp_path, StackSettings(rpc_external=True)).node_argv(Path("/bin/node"))
    assert "--rpc-external" in ext


# ---- seeding plan --------------------------------------------------------------------------------
G = "0xgenesis"
ALL_NEW = ["register_model", "create_task"]


def _seeded() -> DemoRecord:
    return DemoRecord(genesis=G, model_id=3, asset_id=1, task_id=5)


@pytest.mark.parametrize(
    ("record", "facts", "steps"),
    [
        (None, ChainFacts(G, asset_exists=True), ALL_NEW),
        (
            _seeded(),
            ChainFacts(G, model_usable=True, asset_exists=True, task_live=True),
            [],
        ),
        # the chain was reset behind the record's back: everything again
        (_seeded(), ChainFacts(G, asset_exists=True), ALL_NEW),
        # a record from another chain counts as none, even if the ids happen to exist
        (
            _seeded(),
            ChainFacts("0xother", model_usable=True, asset_exists=True, task_live=True),
            ALL_NEW,
        ),
        # the task ended (all rounds done, cancelled, expired): a new task on the same model
        (_seeded(), ChainFacts(G, model_usable=True, asset_exists=True), ["create_task"]),
        # a chain without the genesis demo asset
        (None, ChainFacts(G), ["register_model", "create_asset", "create_task"]),
        (
            _seeded(),
            ChainFacts(
                G, model_usable=True, asset_exists=True, task_live=True, profiles_missing=("//Bob",)
            ),
            ["set_profiles"],
        ),
        # interrupted after registering the model
        (
            DemoRecord(genesis=G, model_id=3),
            ChainFacts(G, model_usable=True, asset_exists=True),
            ["create_task"],
        ),
    ],
)
def test_seed_plan(record: DemoRecord | None, facts: ChainFacts, steps: list[str]) -> None:
    assert plan_seed(record, facts) == steps


def test_demo_record_round_trips_and_ignores_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "demo.json"
    record = DemoRecord(genesis=G, model_id=1, task_id=2, accounts={"trainer-1": "//Bob"})
    devstack.write_json(path, {**record.to_json(), "future": True})
    assert devstack.read_demo(path) == record
    path.write_text("not json")
    assert devstack.read_demo(path) is None


# ---- the stack's bookkeeping (no daemons) ----------------------------------------------------
def test_a_port_held_by_a_stranger_is_refused_with_advice(tmp_path: Path, listener: int) -> None:
    stack = DevStack(tmp_path, StackSettings(rpc_port=listener))
    with pytest.raises(
        PortTaken, match=rf"port {listener} is in use by pid {os.getpid()}.*--rpc-port"
    ):
        stack._check_ports({})


def test_changing_ports_of_a_running_stack_is_refused(tmp_path: Path) -> None:
    stack = DevStack(tmp_path, StackSettings(rpc_port=9950, p2p_port=9951))
    running = {"node": _record_of(os.getpid(), name="node", ports=(9940, 9951))}
    with pytest.raises(DevStackError, match="dev down"):
        stack._check_ports(running)


def test_down_forgets_stale_pid_files_and_reports_dead_components(tmp_path: Path) -> None:
    stack = DevStack(tmp_path, StackSettings())
    write_record(stack.paths.pidfile("node"), PidRecord("node", 2**22 + 1, 5, ("n",), "", (1,)))
    assert [c.state for c in stack.status() if c.name == "node"] == ["dead"]
    report = stack.down()
    assert report.stopped == [] and report.clean
    assert not stack.paths.pidfile("node").exists()
    assert [c.state for c in stack.status() if c.name == "node"] == ["stopped"]


def test_down_stops_recorded_children(tmp_path: Path, children: list[PidRecord]) -> None:
    stack = DevStack(tmp_path, StackSettings(), stop_timeout_s=5)
    for name in ("trainer-1", "node"):
        _child, record = spawn(name, ["sleep", "60"], stack.paths.log(name))
        children.append(record)
        write_record(stack.paths.pidfile(name), record)
    assert {c.name: c.state for c in stack.status()}["trainer-1"] == "running"
    report = stack.down()
    assert sorted(report.stopped) == ["node", "trainer-1"] and report.clean
    assert not list(stack.paths.run.glob("*.pid"))
    assert all(not r.alive() for r in children)


def test_last_event_shows_the_newest_valid_line(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    assert last_event(path) == ""
    event = {
        "ts": 1.0,
        "role": "trainer",
        "account": "5X",
        "task": 1,
        "round": 2,
        "phase": "submitted",
        "loss": 0.5,
        "accuracy": 0.8,
        "samples": 10,
        "message": "update sent",
    }
    path.write_text(json.dumps(event) + "\n" + '{"partial": \n')
    assert last_event(path) == "round 2 submitted: update sent"


def test_role_commands_follow_contract_b(tmp_path: Path) -> None:
    stack = DevStack(tmp_path, StackSettings())
    record = DemoRecord(
        genesis=G,
        task_id=7,
        accounts={"trainer-1": "//Bob", "aggregator": "//Eve", "verifier": "//Ferdie"},
        data={"trainer-1": "/d/t1.npz", "verifier": "/d/test.npz"},
    )
    train = stack.role_argv("trainer-1", record)
    assert train[train.index("train") :][:5] == ["train", "--task", "7", "--account", "//Bob"]
    assert train[train.index("--data") + 1] == "/d/t1.npz"
    assert train[train.index("--events") + 1] == str(
        tmp_path / "roles" / "trainer-1-task7" / "events.jsonl"
    )
    assert train[train.index("--state-dir") + 1] == str(tmp_path / "roles" / "trainer-1-task7")
    aggregate = stack.role_argv("aggregator", record)
    assert "aggregate" in aggregate and "--data" not in aggregate
    verify = stack.role_argv("verifier", record)
    assert "verify" in verify and verify[verify.index("--data") + 1] == "/d/test.npz"
    with pytest.raises(DevStackError):
        stack.role_argv("node", record)
    env = stack.role_env()
    assert env["DECENTRALML_CHAIN_URL"] == "ws://127.0.0.1:9944"
    assert env["DECENTRALML_STATE"] == str(tmp_path)


# ---- chain spec for the compose network -------------------------------------------------------
def _spec() -> dict[str, object]:
    return {
        "bootNodes": ["/ip4/127.0.0.1/tcp/30333/p2p/X"],
        "genesis": {
            "runtimeGenesis": {
                "patch": {
                    "balances": {"balances": [["5Alice", 10]]},
                    "assets": {"assets": [[1, "5Alice", False, 1]], "accounts": [[1, "5Alice", 7]]},
                }
            }
        },
    }


def test_endow_chain_spec_adds_accounts_once() -> None:
    from decentralml.core.devstack import endow_chain_spec

    spec = _spec()
    out = endow_chain_spec(
        spec, ["5Alice", "5New", "5New"], native=100, asset=50, bootnodes=["/dns/a"]
    )
    patch = out["genesis"]["runtimeGenesis"]["patch"]  # type: ignore[index]
    assert patch["balances"]["balances"] == [["5Alice", 10], ["5New", 100]]
    assert patch["assets"]["accounts"] == [[1, "5Alice", 7], [1, "5New", 50]]
    assert out["bootNodes"] == ["/dns/a"]
    assert spec == _spec()  # the input is untouched
    with pytest.raises(DevStackError, match="no asset 2"):
        endow_chain_spec(spec, ["5New"], native=1, asset=1, asset_id=2)
    with pytest.raises(DevStackError, match="genesis patch"):
        endow_chain_spec({"genesis": {"raw": {}}}, ["5New"], native=1, asset=1)


def test_finalized_rounds_of_the_demo_task_only(tmp_path: Path) -> None:
    stack = DevStack(tmp_path, StackSettings())
    assert stack.finalized_rounds() == []
    devstack.write_json(stack.paths.demo_json, DemoRecord(genesis=G, task_id=4).to_json())

    def event(task: int, round_: int, phase: str) -> str:
        return json.dumps(
            {
                "ts": 1.0,
                "role": "aggregator",
                "account": "5E",
                "task": task,
                "round": round_,
                "phase": phase,
                "message": "",
            }
        )

    path = stack.paths.events("aggregator", 4)
    path.parent.mkdir(parents=True)
    lines = [
        event(4, 0, "finalized"),
        event(3, 7, "finalized"),
        event(4, 1, "aggregated"),
        "garbage",
        event(4, 1, "finalized"),
    ]
    path.write_text("\n".join(lines) + "\n")
    assert stack.finalized_rounds() == [0, 1]
    aggregator = next(c for c in stack.status() if c.name == "aggregator")
    assert (aggregator.state, aggregator.last_event) == ("stopped", "round 1 finalized")


def test_logs_follow_prints_the_tail_then_new_lines(tmp_path: Path) -> None:
    stack = DevStack(tmp_path, StackSettings())
    stack.paths.logs.mkdir(parents=True)
    stack.paths.log("node").write_text("one\ntwo\nthree\n")
    stack.paths.log("ipfs").write_text("ready\n")
    lines = stack.follow(["node", "ipfs"], lines=2, poll_s=0.01)
    assert [next(lines) for _ in range(3)] == ["[node] two", "[node] three", "[ipfs] ready"]
    with stack.paths.log("ipfs").open("a") as log:
        log.write("more\n")
    assert next(lines) == "[ipfs] more"
    lines.close()
    assert stack.log_tail("verifier") == "(no log)"


@pytest.mark.parametrize(
    "text", ["{", "[]", '{"rpc_port": "9944"}', '{"rpc_port": true}', '{"rpc_port": 5001}']
)
def test_a_broken_stack_json_falls_back_to_defaults(tmp_path: Path, text: str) -> None:
    stack = DevStack(tmp_path)
    stack.paths.run.mkdir(parents=True)
    stack.paths.stack_json.write_text(text)
    assert stack.recorded_settings() is None
    assert DevStack(tmp_path).settings == StackSettings()
    stack.paths.stack_json.write_text(json.dumps(StackSettings(rpc_port=9950).to_json()))
    assert DevStack(tmp_path).settings.rpc_port == 9950
