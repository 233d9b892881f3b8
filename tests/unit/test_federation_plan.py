"""The one-host federation's pure logic, without root and without daemons: namespace and
address naming, the ip/tc command lines, teardown-by-prefix parsing, the participant plan, the
node and Kubo configuration and the isolation decision."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from decentralml.core.devstack import federation as federation_mod
from decentralml.core.devstack.errors import DevStackError
from decentralml.core.devstack.federation import Federation
from decentralml.core.devstack.fedplan import (
    VALIDATORS,
    bootnode,
    kubo_config,
    node_argv,
    participant_names,
    plan_federation,
)
from decentralml.core.devstack.netns import (
    NetnsUnavailable,
    NetPlan,
    bridge_commands,
    exec_prefix,
    netem_clear_command,
    netem_command,
    ours_links,
    ours_netns,
    parse_link_names,
    parse_netns_list,
    shape_command,
    slot_commands,
)


def test_slot_names_and_addresses() -> None:
    plan = NetPlan()
    slot = plan.slot(3, "trainer-1")
    assert slot.netns == "dml-trainer-1"
    assert slot.address == "10.77.0.5"
    assert (slot.host_veth, slot.peer_veth) == ("dmlh3", "dmln3")
    assert plan.bridge == "dmlfed0"
    assert plan.host_address == "10.77.0.1"
    # Linux interface names have at most 15 characters, even for the longest prefix.
    longest = NetPlan(prefix="abcdef", subnet="10.1.2").slot(249, "x")
    assert max(len(longest.host_veth), len(longest.peer_veth), len("abcdeffed0")) <= 15
    assert longest.address == "10.1.2.251"


@pytest.mark.parametrize(
    ("prefix", "subnet"), [("DML", "10.77.0"), ("toolongx", "10.77.0"), ("dml", "10.77.300")]
)
def test_bad_plans_are_refused(prefix: str, subnet: str) -> None:
    with pytest.raises(DevStackError):
        NetPlan(prefix=prefix, subnet=subnet)


def test_bad_slots_are_refused() -> None:
    with pytest.raises(DevStackError, match="participant name"):
        NetPlan().slot(0, "Alice Smith")
    with pytest.raises(DevStackError, match="outside"):
        NetPlan().slot(250, "x")


def test_bridge_and_slot_commands() -> None:
    plan = NetPlan(prefix="dmlt", subnet="10.78.0")
    assert bridge_commands(plan) == [
        ["ip", "link", "add", "dmltfed0", "type", "bridge"],
        ["ip", "addr", "add", "10.78.0.1/24", "dev", "dmltfed0"],
        ["ip", "link", "set", "dmltfed0", "up"],
    ]
    slot = plan.slot(0, "alice")
    cmds = slot_commands(plan, slot)
    assert cmds[0] == ["ip", "netns", "add", "dmlt-alice"]
    assert ["ip", "link", "set", "dmltn0", "netns", "dmlt-alice"] in cmds
    assert ["ip", "link", "set", "dmlth0", "master", "dmltfed0"] in cmds
    assert ["ip", "-n", "dmlt-alice", "link", "set", "lo", "up"] in cmds
    assert ["ip", "-n", "dmlt-alice", "addr", "add", "10.78.0.2/24", "dev", "dmltn0"] in cmds
    # No default route is ever added: nothing in a namespace reaches beyond the bridge.
    assert not [c for c in cmds if "route" in c]
    assert exec_prefix(slot) == ["ip", "netns", "exec", "dmlt-alice"]


def test_network_condition_commands() -> None:
    slot = NetPlan().slot(1, "bob")
    assert netem_command(slot, 100, 1.0)[4:] == [
        *["tc", "qdisc", "replace", "dev", "dmln1", "root", "netem"],
        *["delay", "100ms", "loss", "1%"],
    ]
    assert netem_command(slot, 20, 0.5)[-1] == "0.5%"
    assert shape_command(slot, 2000)[11:13] == ["rate", "2000kbit"]
    assert netem_clear_command(slot)[4:] == ["tc", "qdisc", "del", "dev", "dmln1", "root"]
    with pytest.raises(DevStackError):
        netem_command(slot, -1, 0)
    with pytest.raises(DevStackError):
        netem_command(slot, 10, 100)
    with pytest.raises(DevStackError):
        shape_command(slot, 0)


def test_teardown_parsing_takes_only_our_prefix() -> None:
    listing = "dml-alice (id: 0)\ndml-trainer-12 (id: 7)\ndmlt-bob (id: 2)\nother\n\n"
    names = parse_netns_list(listing)
    assert names == ["dml-alice", "dml-trainer-12", "dmlt-bob", "other"]
    assert ours_netns(names, "dml") == ["dml-alice", "dml-trainer-12"]
    assert ours_netns(names, "dmlt") == ["dmlt-bob"]
    links = json.dumps(
        [
            {"ifindex": 1, "ifname": "lo"},
            {"ifindex": 2, "ifname": "eth0"},
            {"ifindex": 3, "ifname": "dmlfed0"},
            {"ifindex": 4, "ifname": "dmlh0"},
            {"ifindex": 5, "ifname": "dmlh12"},
            {"ifindex": 6, "ifname": "dmlthx"},
            {"ifindex": 7, "ifname": "dmltfed0"},
            {"ifindex": 8, "ifname": "dmlhost"},
        ]
    )
    parsed = parse_link_names(links)
    assert ours_links(parsed, "dml") == ["dmlfed0", "dmlh0", "dmlh12"]
    assert ours_links(parsed, "dmlt") == ["dmltfed0"]
    assert parse_link_names("") == []


def test_plan_isolated(tmp_path: Path) -> None:
    plan = plan_federation(tmp_path, 4, NetPlan(), isolated=True)
    assert [p.name for p in plan] == participant_names(4)
    assert [p.name for p in plan][:3] == list(VALIDATORS)
    assert len({p.address for p in plan}) == len(plan) == 9
    assert all(p.netns == f"dml-{p.name}" for p in plan)
    by = {p.name: p for p in plan}
    assert by["alice"].rpc_url == "ws://10.77.0.2:9944"
    # Everyone else takes the validators' RPC in turn.
    assert [by[n].validator for n in ("trainer-1", "trainer-2", "trainer-3", "trainer-4")] == [
        "alice",
        "bob",
        "charlie",
        "alice",
    ]
    assert by["trainer-2"].rpc_url == "ws://10.77.0.3:9944"
    assert by["aggregator"].kind == "aggregator"
    assert by["trainer-3"].kubo_api_url == "http://127.0.0.1:5001"
    assert by["trainer-3"].swarm_multiaddr == "/ip4/10.77.0.7/tcp/4001"
    assert by["verifier"].keystore == tmp_path / "verifier" / "keystore"
    assert by["verifier"].state_dir == tmp_path / "verifier" / "state"
    assert by["bob"].to_json()["kubo_api_url"] == ""


def test_plan_without_isolation_uses_distinct_ports(tmp_path: Path) -> None:
    plan = plan_federation(tmp_path, 2, NetPlan(), isolated=False, base_port=42000)
    assert {p.address for p in plan} == {"127.0.0.1"}
    assert all(p.netns is None for p in plan)
    ports = [port for p in plan for port in (p.rpc_port, p.p2p_port, p.api_port, p.swarm_port)]
    assert len(set(ports)) == len(ports)
    assert plan[3].rpc_url == "ws://127.0.0.1:42000"  # trainer-1 uses alice
    with pytest.raises(DevStackError, match="base port"):
        plan_federation(tmp_path, 2, NetPlan(), isolated=False, base_port=65500)
    with pytest.raises(DevStackError, match="1 to 32"):
        participant_names(0)


def test_node_argv(tmp_path: Path) -> None:
    alice, bob, charlie = plan_federation(tmp_path, 1, NetPlan(), isolated=True)[:3]
    boots = [bootnode(bob, "12D3KooWB"), bootnode(charlie, "12D3KooWC")]
    argv = node_argv(Path("/bin/node"), alice, boots)
    assert argv[:6] == ["/bin/node", "--chain", "local", "--alice", "--validator", "--base-path"]
    assert argv[argv.index("--listen-addr") + 1] == "/ip4/10.77.0.2/tcp/30333"
    assert argv[argv.index("--rpc-methods") + 1] == "safe"
    assert "--unsafe-rpc-external" in argv
    assert "--allow-private-ip" in argv
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--bootnodes"] == [
        "/ip4/10.77.0.3/tcp/30333/p2p/12D3KooWB",
        "/ip4/10.77.0.4/tcp/30333/p2p/12D3KooWC",
    ]
    local = plan_federation(tmp_path, 1, NetPlan(), isolated=False)[0]
    assert "--unsafe-rpc-external" not in node_argv(Path("/bin/node"), local, [])


def test_kubo_config_is_private_and_peers(tmp_path: Path) -> None:
    p = plan_federation(tmp_path, 1, NetPlan(), isolated=True)[3]
    cfg = {
        "Identity": {"PeerID": "me"},
        "Bootstrap": ["/dnsaddr/bootstrap.libp2p.io/p2p/x"],
        "Discovery": {"MDNS": {"Enabled": True}},
        "Swarm": {"ConnMgr": {"LowWater": 1}},
    }
    out = kubo_config(cfg, p, {"12D3B": "/ip4/10.77.0.6/tcp/4001"})
    assert out["Addresses"]["API"] == "/ip4/127.0.0.1/tcp/5001"
    assert out["Addresses"]["Gateway"] == "/ip4/127.0.0.1/tcp/8080"
    assert out["Addresses"]["Swarm"] == ["/ip4/10.77.0.5/tcp/4001"]
    assert out["Bootstrap"] == []
    assert out["Discovery"]["MDNS"]["Enabled"] is False
    assert out["Routing"]["Type"] == "none"
    assert out["AutoConf"]["Enabled"] is False
    assert out["Swarm"]["ConnMgr"] == {"LowWater": 1}
    assert out["Swarm"]["RelayClient"]["Enabled"] is False
    assert out["Peering"]["Peers"] == [{"ID": "12D3B", "Addrs": ["/ip4/10.77.0.6/tcp/4001"]}]
    assert cfg["Bootstrap"] == ["/dnsaddr/bootstrap.libp2p.io/p2p/x"]  # input untouched


def test_exec_argv_and_role_env(tmp_path: Path) -> None:
    fed = Federation(tmp_path, 2)
    fed.participants = {p.name: p for p in plan_federation(fed.home, 2, fed.net, isolated=True)}
    t2 = fed.participants["trainer-2"]
    assert fed.exec_argv(t2, ["decentralml", "train"]) == [
        *["ip", "netns", "exec", "dml-trainer-2", "decentralml", "train"]
    ]
    env = fed.role_env(t2)
    assert env["DECENTRALML_CHAIN_URL"] == "ws://10.77.0.3:9944"
    assert env["DECENTRALML_IPFS_API"] == "http://127.0.0.1:5001"
    assert env["DECENTRALML_KEYSTORE"] == str(tmp_path / "federation" / "trainer-2" / "keystore")
    assert env["DECENTRALML_STATE"] == str(tmp_path / "federation" / "trainer-2" / "state")
    alone = plan_federation(fed.home, 2, fed.net, isolated=False)[4]
    assert fed.exec_argv(alone, ["x"]) == ["x"]


def test_isolation_decision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(federation_mod, "unavailable_reason", lambda: "not running as root")
    said: list[str] = []
    assert Federation(tmp_path, isolate="auto", progress=said.append)._network() is False
    assert "NOT isolated" in said[0] and "not running as root" in said[0]
    with pytest.raises(NetnsUnavailable, match="Run as root"):
        Federation(tmp_path, isolate="require")._network()
    assert Federation(tmp_path, isolate="never", progress=said.append)._network() is False
    with pytest.raises(DevStackError, match="isolated federation"):
        Federation(tmp_path).netem(100, 1.0)
