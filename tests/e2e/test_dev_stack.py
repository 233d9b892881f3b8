"""`decentralml dev up|status|down` for real: node-decentralml --dev and Kubo on free ports in a
temporary state directory, the demo seeded twice (the second `up` resumes), then `down` and a
check that no process and no port is left. The training roles are not started here
(`--no-roles`); tests/e2e/test_newcomer.py runs the whole demo under the console."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from decentralml.core.devstack import find_ipfs_binary, find_node_binary
from decentralml.core.proc import free_port, port_free, processes_under

CLI = str(Path(sys.executable).parent / "decentralml")


@pytest.fixture(autouse=True)
def _binaries() -> None:
    if find_node_binary() is None:
        pytest.fail("node-decentralml missing: run scripts/build-node first", pytrace=False)
    if find_ipfs_binary() is None:
        pytest.fail("Kubo missing: run scripts/setup-kubo first", pytrace=False)


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "XDG_CONFIG_HOME": str(home / "config"), **extra}
    for var in (
        "DECENTRALML_CONFIG",
        "DML_RPC_PORT",
        "DML_P2P_PORT",
        "DML_IPFS_API_PORT",
        "DML_IPFS_GATEWAY_PORT",
    ):
        env.pop(var, None)
    return env


def dev(
    state: Path, *args: str, ok: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [CLI, "--json", "dev", *args, "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env or _env(state.parent),
    )
    if ok:
        assert proc.returncode == 0, f"dev {args} failed ({proc.returncode}): {proc.stderr}"
    else:
        assert proc.returncode != 0, f"dev {args} should have failed: {proc.stdout}"
        assert proc.stderr.strip().splitlines()[-1].startswith("error: "), proc.stderr
    return proc


def doc(proc: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(proc.stdout)


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "state"
    yield directory
    # Whatever happened, leave nothing running.
    subprocess.run(
        [CLI, "dev", "down", "--state-dir", str(directory)], capture_output=True, timeout=120
    )


def _ports() -> dict[str, int]:
    ports: set[int] = set()
    while len(ports) < 4:
        ports.add(free_port())
    names = ("--rpc-port", "--p2p-port", "--ipfs-api-port", "--ipfs-gateway-port")
    return dict(zip(names, sorted(ports), strict=True))


def _flags(ports: dict[str, int]) -> list[str]:
    return [x for flag, port in ports.items() for x in (flag, str(port))]


def _running(status: dict[str, Any]) -> dict[str, int]:
    return {c["name"]: c["pid"] for c in status["components"] if c["state"] == "running"}


def test_up_seed_resume_down_leaves_nothing(state: Path) -> None:
    ports = _ports()
    up = doc(dev(state, "up", "--no-demo", *_flags(ports)))
    assert up["ws_url"] == f"ws://127.0.0.1:{ports['--rpc-port']}"
    assert up["demo"] is None
    status = doc(dev(state, "status"))
    pids = _running(status)
    assert set(pids) == {"node", "ipfs"}, status
    assert (state / "chain").is_dir() and (state / "ipfs" / "config").is_file()

    # Seed the demo on the running stack (the ports come from run/stack.json), then again.
    first = dev(state, "up", "--no-roles")
    seeded = doc(first)["demo"]
    assert seeded["model_id"] is not None and seeded["task_id"] is not None
    assert seeded["asset_id"] == 1
    assert sorted(seeded["data"]) == ["trainer-1", "trainer-2", "trainer-3", "verifier"]
    assert all(Path(p).is_file() for p in seeded["data"].values())
    second = dev(state, "up", "--no-roles")
    again = doc(second)["demo"]
    assert "already seeded" in second.stderr
    assert (again["model_id"], again["task_id"]) == (seeded["model_id"], seeded["task_id"])
    assert _running(doc(dev(state, "status"))) == pids  # nothing restarted

    # On chain: one model and one live task funded in the demo asset, with short rounds.
    chain = ["--url", up["ws_url"], "--ipfs-api", up["ipfs_api"], "--json"]

    def run(*args: str) -> Any:
        done = subprocess.run([CLI, *chain, *args], capture_output=True, text=True, check=True)
        return json.loads(done.stdout)

    assert [m["id"] for m in run("model", "list")["models"]] == [seeded["model_id"]]
    task = run("task", "show", str(seeded["task_id"]))["task"]
    assert task["status"] in ("Open", "Running"), task
    assert task["terms"]["asset"] == {"Asset": 1}, task
    assert task["terms"]["min_trainers"] == 3

    down = doc(dev(state, "down"))
    assert down["clean"] and sorted(down["stopped"]) == ["ipfs", "node"], down
    assert processes_under(state) == []
    assert all(port_free(p) for p in ports.values())
    assert not list((state / "run").glob("*.pid"))
    assert all(c["state"] == "stopped" for c in doc(dev(state, "status"))["components"])


def test_a_failed_up_stops_what_it_started(state: Path) -> None:
    ports = _ports()
    env = _env(state.parent, DML_NODE_BIN=str(state.parent / "no-such-node"))
    failed = dev(state, "up", "--no-demo", *_flags(ports), ok=False, env=env)
    assert "node-decentralml not found" in failed.stderr
    assert "starting Kubo" in failed.stderr  # Kubo had been started ...
    assert processes_under(state) == []  # ... and was stopped again
    assert all(port_free(p) for p in ports.values())
    assert not list((state / "run").glob("*.pid"))


def test_a_port_held_by_another_program_is_refused(state: Path) -> None:
    ports = _ports()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", ports["--ipfs-api-port"]))
        squatter.listen()
        failed = dev(state, "up", "--no-demo", *_flags(ports), ok=False)
    reason = failed.stderr.strip().splitlines()[-1]
    assert f"port {ports['--ipfs-api-port']} is in use" in reason
    assert "--ipfs-api-port" in reason
    assert processes_under(state) == []


def test_endow_the_real_local_spec() -> None:
    """`dev local-spec` (docker-compose.yml's genesis) on the node's real --chain local spec."""
    from decentralml.core.devstack import build_chain_spec, endow_chain_spec

    spec = build_chain_spec("local")
    assert spec["chainType"] == "Local"
    out = endow_chain_spec(
        spec, ["5DUrv2PBV6yfdZW1D4zVuoavf2vwD2xn9poqJyVU9NU4f9KB"], native=1, asset=1
    )
    balances = out["genesis"]["runtimeGenesis"]["patch"]["balances"]["balances"]
    assert balances[-1] == ["5DUrv2PBV6yfdZW1D4zVuoavf2vwD2xn9poqJyVU9NU4f9KB", 1]


def test_foreground_mode_stops_everything_on_sigterm(state: Path) -> None:
    """The container entrypoint (`dev up --foreground`): SIGTERM stops the whole stack."""
    import signal
    import time

    ports = _ports()
    child = subprocess.Popen(
        [CLI, "--json", "dev", "up", "--foreground", "--no-demo", "--state-dir", str(state),
         *_flags(ports)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(state.parent),
    )  # fmt: skip
    try:
        assert child.stdout is not None
        first = json.loads(child.stdout.readline())  # printed once the stack answers
        assert {c["name"] for c in first["components"] if c["state"] == "running"} == {
            "node",
            "ipfs",
        }
        assert processes_under(state)
        time.sleep(1)
        assert child.poll() is None  # still attached
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    assert "stopping the dev stack" in err
    assert processes_under(state) == []
    assert all(port_free(p) for p in ports.values())
