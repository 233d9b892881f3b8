"""Chain specs for multi-node networks (docker-compose.yml, ``decentralml dev local-spec``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .binaries import find_node_binary
from .errors import DevStackError
from .settings import DEMO_ASSET_ID


# ---- multi-node networks (docker-compose.yml) --------------------------------------------------
def build_chain_spec(chain: str = "local", node_bin: Path | None = None) -> dict[str, Any]:
    """``node-decentralml build-spec --chain <chain>`` as JSON."""
    import subprocess

    binary = node_bin or find_node_binary()
    if binary is None or not binary.exists():
        raise DevStackError("node-decentralml not found: build it or set DML_NODE_BIN")
    done = subprocess.run(
        [str(binary), "build-spec", "--chain", chain, "--disable-default-bootnode"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise DevStackError(f"build-spec --chain {chain} failed: {done.stderr.strip()[-500:]}")
    spec = json.loads(done.stdout)
    if not isinstance(spec, dict):
        raise DevStackError("build-spec did not print a chain spec")
    return spec


def endow_chain_spec(
    spec: dict[str, Any],
    addresses: Sequence[str],
    *,
    native: int,
    asset: int,
    asset_id: int = DEMO_ASSET_ID,
    bootnodes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """A copy of a chain spec (with a genesis patch) whose genesis also gives each address
    ``native`` planck and ``asset`` units of ``asset_id``: how a network whose chain type is
    not Development (where the dev keys are refused) gets funded trainer accounts.
    Addresses already endowed keep their balance. ``bootnodes`` replaces the spec's list."""
    out: dict[str, Any] = json.loads(json.dumps(spec))
    try:
        patch = out["genesis"]["runtimeGenesis"]["patch"]
        balances: list[list[Any]] = patch["balances"]["balances"]
        accounts: list[list[Any]] = patch["assets"]["accounts"]
    except (KeyError, TypeError):
        raise DevStackError(
            "the chain spec has no genesis patch with balances and assets (use build-spec "
            "without --raw)"
        ) from None
    if not any(a[0] == asset_id for a in patch["assets"].get("assets", [])):
        raise DevStackError(f"the chain spec's genesis has no asset {asset_id}")
    have_native = {str(b[0]) for b in balances}
    have_asset = {str(a[1]) for a in accounts if a[0] == asset_id}
    for address in addresses:
        if address not in have_native:
            balances.append([address, native])
            have_native.add(address)
        if address not in have_asset:
            accounts.append([asset_id, address, asset])
            have_asset.add(address)
    if bootnodes is not None:
        out["bootNodes"] = list(bootnodes)
    return out
