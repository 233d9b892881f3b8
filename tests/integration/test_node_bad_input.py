"""node-decentralml facing bad conditions: each gets a clear message, never a silent hang."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from .devnode import DevNode, NodeStartError, free_port, node_binary, rpc_call

pytestmark = pytest.mark.chain


def test_rpc_port_in_use_is_refused_with_advice(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        node = DevNode(base_path=tmp_path, rpc_port=port)
        with pytest.raises(NodeStartError) as err:
            node.start()
        node.stop()
    message = str(err.value)
    assert f"RPC port {port} on 127.0.0.1 is not available" in message
    assert "--rpc-port" in message


def test_instant_sealing_is_refused_on_a_multi_validator_chain(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(node_binary()), "--chain", "local", "--sealing", "instant",
         "--base-path", str(tmp_path), "--rpc-port", str(free_port())],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "--sealing instant is for a one-node development chain" in proc.stderr
    assert "--sealing aura" in proc.stderr


def test_unknown_chain_spec_names_the_choices(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(node_binary()), "build-spec", "--chain", str(tmp_path / "nope.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "use dev, local or a JSON file" in proc.stderr


def test_corrupt_database_fails_fast_with_advice(tmp_path: Path) -> None:
    node = DevNode(base_path=tmp_path)
    with node:
        node.start()
    db_dirs = [p for p in (tmp_path / "chain").rglob("paritydb") if p.is_dir()]
    assert db_dirs, "expected a ParityDB database under the base path"
    files = [p for p in db_dirs[0].rglob("*") if p.is_file()]
    assert files
    for f in files:
        f.write_bytes(b"\xde\xad\xbe\xef" * 64)

    node = DevNode(base_path=tmp_path, rpc_port=node.rpc_port, p2p_port=node.p2p_port)
    with pytest.raises(NodeStartError) as err:
        node.start()
    node.stop()
    message = str(err.value)
    assert "exited with code" in message, message
    assert "purge-chain" in message, message


def test_build_spec_outputs_both_presets() -> None:
    for chain, validators in (("dev", 1), ("local", 3)):
        proc = subprocess.run(
            [str(node_binary()), "build-spec", "--chain", chain],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        spec = json.loads(proc.stdout)
        patch = spec["genesis"]["runtimeGenesis"]["patch"]
        assert len(patch["aura"]["authorities"]) == validators
        assert spec["properties"]["tokenSymbol"] == "DML"


def test_corrupt_chain_spec_cache_is_rebuilt(tmp_path: Path, dev_node: DevNode) -> None:
    """A node start reads the dev chain spec from the node's cache; a corrupt cached file is
    rebuilt from the preset, and the chain is the same (same genesis hash as the session's
    node, which started from the intact cache)."""
    real = Path.home() / ".cache" / "node-decentralml"
    cache = tmp_path / "cache"
    (cache / "chain-specs").mkdir(parents=True)
    if (real / "wasm").is_dir():  # share the compiled runtimes: this test is about the specs
        (cache / "wasm").symlink_to(real / "wasm")
    cached = list((real / "chain-specs").glob("decentralml_dev-*.json"))
    assert cached, "the session's dev node should have cached its chain spec"
    for spec in cached:  # every cached dev spec, so the one this node build looks for is corrupt
        (cache / "chain-specs" / spec.name).write_text('{"name": "truncated')
    env = {**os.environ, "DECENTRALML_NODE_CACHE": str(cache)}
    with DevNode(base_path=tmp_path / "node", env=env) as node:
        node.start(wait=False)
        node.wait_ready(timeout=240)  # it builds genesis from the preset again: slow on 2 cores
        genesis = rpc_call(node.rpc_port, "chain_getBlockHash", [0])
    assert genesis == rpc_call(dev_node.rpc_port, "chain_getBlockHash", [0])
    rebuilt = []
    for path in (cache / "chain-specs").glob("*.json"):
        try:  # the stale entries of other node builds stay corrupt
            rebuilt.append(json.loads(path.read_text()))
        except ValueError:
            continue
    assert len(rebuilt) == 1, "this node build's entry was rewritten"
    assert rebuilt[0]["genesis"]["raw"]["top"]
