"""node-decentralml facing bad conditions: each gets a clear message, never a silent hang."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from .devnode import DevNode, NodeStartError, node_binary, rpc_call

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


def test_corrupt_chain_spec_cache_is_rebuilt(tmp_path: Path) -> None:
    """A node start reads the dev chain spec from the node's cache; a corrupt cached file is
    rebuilt from the preset, and the chain is the same (same genesis hash)."""
    real = Path.home() / ".cache" / "node-decentralml" / "wasm"
    cache = tmp_path / "cache"
    cache.mkdir()
    if real.is_dir():  # share the compiled runtimes: this test is about the specs
        (cache / "wasm").symlink_to(real)
    env = {**os.environ, "DECENTRALML_NODE_CACHE": str(cache)}

    def genesis(run: str) -> str:
        with DevNode(base_path=tmp_path / run, env=env) as node:
            node.start()
            return str(rpc_call(node.rpc_port, "chain_getBlockHash", [0]))

    first = genesis("first")
    (spec,) = (cache / "chain-specs").glob("decentralml_dev-*.json")
    assert json.loads(spec.read_text())["genesis"]["raw"]["top"], "the cache holds a raw spec"
    spec.write_text('{"name": "truncated')
    assert genesis("second") == first
    assert json.loads(spec.read_text())["id"] == "decentralml_dev", "the cache was rewritten"
