"""@polkadot/api (a client nobody here wrote) reads and decodes node-decentralml."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from substrateinterface import SubstrateInterface

from .devnode import DevNode
from .test_dev_chain import events, kp, register_model

pytestmark = [pytest.mark.chain, pytest.mark.compat]

COMPAT_DIR = Path(__file__).resolve().parents[1] / "compat"


def test_polkadot_api_decodes_metadata_events_and_signs(dev_node: DevNode) -> None:
    node_exe = shutil.which("node")
    if node_exe is None:
        pytest.fail("Node.js is not installed: run scripts/setup", pytrace=False)
    if not (COMPAT_DIR / "node_modules" / "@polkadot" / "api").exists():
        pytest.fail("tests/compat/node_modules missing: run scripts/setup", pytrace=False)

    substrate = SubstrateInterface(url=dev_node.ws_url)
    try:
        receipt = register_model(substrate, kp("//Ferdie"), "compat-model")
        assert receipt.is_success, receipt.error_message
        (registered,) = events(receipt, "DecentralMl", "ModelRegistered")
        block_hash = receipt.block_hash
    finally:
        substrate.close()

    proc = subprocess.run(
        [
            node_exe,
            "polkadot_api_check.mjs",
            dev_node.ws_url,
            block_hash,
            str(registered["model_id"]),
        ],
        cwd=COMPAT_DIR,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["specName"] == "decentralml"
    assert {"registerModel", "retireModel", "commitUpdate", "revealUpdate"} <= set(out["calls"])
    verifier_calls = {"bondVerifier", "unbondVerifier", "attestAggregate", "reportFreeRider"}
    assert verifier_calls <= set(out["calls"])
    assert "submitUpdate" not in out["calls"], "updates go through commit-reveal only"
    assert {"models", "nextModelId", "commitments", "updates"} <= set(out["storage"])
    assert {"ModelRegistered", "ModelRetired", "UpdateCommitted", "UpdateRevealed"} <= set(
        out["events"]
    )
    # The same commitment from @polkadot/api's codec, the pallet and the Python client.
    assert out["commitment"] == "513a8726a93180dd27448edacf0e6704d96c13bef0448aae0381dce5d541e420"
    assert out["revealArgs"] == ["taskId", "round", "update", "samples", "metrics", "salt"]
    assert "EmptyCid" in out["errors"]
    assert out["block"]["hash"] == block_hash
    assert "decentralMl.ModelRegistered" in out["blockEvents"]
    assert "decentralMl.registerModel" in out["blockExtrinsics"]
    assert out["registeredModel"]["modelId"] == registered["model_id"]
    assert out["registeredModel"]["owner"] == kp("//Ferdie").ss58_address
    assert out["model"]["status"] == "Active"
    assert out["transfer"]["amount"] == str(10**12)
