"""`--chain local`: three validators (Alice, Bob, Charlie) on one machine reach finality."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .devnode import DevNode, rpc_call

pytestmark = pytest.mark.chain

# ed25519 node key 0x...01 and its libp2p peer id, so the others can find Alice.
ALICE_NODE_KEY = "0" * 63 + "1"
ALICE_PEER_ID = "12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp"


class LocalValidator(DevNode):
    def __init__(self, base_path: Path, name: str, args: list[str]) -> None:
        super().__init__(base_path=base_path / name, extra_args=args)
        self.name = name

    def command(self) -> list[str]:
        cmd = super().command()
        cmd.remove("--dev")
        return [*cmd, "--chain", "local", f"--{self.name}", "--validator", "--allow-private-ip"]


def aura_slot(logs: list[str]) -> int:
    """The slot of an Aura pre-runtime digest: 0x06 'aura' compact(8) slot_le_u64."""
    prefix = "0x06" + b"aura".hex() + "20"
    (log,) = [entry for entry in logs if entry.startswith(prefix)]
    return int.from_bytes(bytes.fromhex(log[len(prefix) : len(prefix) + 16]), "little")


def finalized(node: DevNode) -> int:
    head = rpc_call(node.rpc_port, "chain_getFinalizedHead")
    return int(rpc_call(node.rpc_port, "chain_getHeader", [head])["number"], 16)


def test_three_validators_author_and_finalize(tmp_path: Path) -> None:
    alice = LocalValidator(tmp_path, "alice", ["--node-key", ALICE_NODE_KEY])
    boot = f"/ip4/127.0.0.1/tcp/{alice.p2p_port}/p2p/{ALICE_PEER_ID}"
    # A non-dev chain refuses to invent a network key for a validator unless told to.
    bob = LocalValidator(
        tmp_path, "bob", ["--bootnodes", boot, "--unsafe-force-node-key-generation"]
    )
    charlie = LocalValidator(
        tmp_path, "charlie", ["--bootnodes", boot, "--unsafe-force-node-key-generation"]
    )
    nodes = [alice, bob, charlie]
    try:
        for node in nodes:
            node.start(wait=False)
        for node in nodes:
            node.wait_ready()
        deadline = time.monotonic() + 90
        while True:
            peers = [rpc_call(n.rpc_port, "system_health")["peers"] for n in nodes]
            heights = [finalized(n) for n in nodes]
            if min(peers) >= 2 and min(heights) >= 3:
                break
            assert time.monotonic() < deadline, (
                f"no finality across 3 validators in 90 s: peers={peers} finalized={heights}\n"
                + "\n".join(f"--- {n.name} ---\n{n.log_tail(15)}" for n in nodes)
            )
            time.sleep(1)
        # Blocks were authored by more than one validator: Aura's author is slot % 3.
        authors = set()
        head = rpc_call(alice.rpc_port, "chain_getFinalizedHead")
        for _ in range(3):
            header = rpc_call(alice.rpc_port, "chain_getHeader", [head])
            authors.add(aura_slot(header["digest"]["logs"]) % 3)
            head = header["parentHash"]
        assert len(authors) >= 2
    finally:
        for node in nodes:
            node.stop()
