"""Stdlib-only probes of the node's RPC and Kubo's API, and the private Kubo repo settings."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from .errors import DevStackError
from .settings import StackSettings


# ---- HTTP probes (stdlib only: fast, no substrate-interface) ----------------------------------
def node_rpc(port: int, method: str, params: list[Any] | None = None, timeout: float = 2.0) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http://127.0.0.1
        reply = json.loads(resp.read())
    if "error" in reply:
        raise DevStackError(f"{method}: {reply['error']}")
    return reply["result"]


def ipfs_version(port: int, timeout: float = 2.0) -> str:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v0/version", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - http://127.0.0.1
        return str(json.loads(resp.read())["Version"])


PROBE_ERRORS = (OSError, urllib.error.URLError, ValueError, KeyError, DevStackError)


def node_heads(port: int) -> tuple[int, int]:
    """(best, finalized) block numbers."""
    best = int(node_rpc(port, "chain_getHeader")["number"], 16)
    head = node_rpc(port, "chain_getFinalizedHead")
    finalized = int(node_rpc(port, "chain_getHeader", [head])["number"], 16)
    return best, finalized


# ---- Kubo repo -----------------------------------------------------------------------------
def kubo_config_patch(cfg: dict[str, Any], settings: StackSettings) -> dict[str, Any]:
    """The private-repo settings of scripts/setup-kubo, with this stack's ports: API and gateway
    on 127.0.0.1 (0.0.0.0 with ``ipfs_external``), no swarm listener (the daemon runs
    --offline), empty bootstrap list, no mDNS, no routing."""
    host = "0.0.0.0" if settings.ipfs_external else "127.0.0.1"  # noqa: S104 - opt-in, containers
    addresses = dict(cfg.get("Addresses") or {})
    addresses["API"] = f"/ip4/{host}/tcp/{settings.ipfs_api_port}"
    addresses["Gateway"] = f"/ip4/{host}/tcp/{settings.ipfs_gateway_port}"
    addresses["Swarm"] = []
    out = dict(cfg)
    out["Addresses"] = addresses
    out["Bootstrap"] = []
    discovery = dict(out.get("Discovery") or {})
    discovery["MDNS"] = {**dict(discovery.get("MDNS") or {}), "Enabled": False}
    out["Discovery"] = discovery
    routing = dict(out.get("Routing") or {})
    routing["Type"] = "none"
    out["Routing"] = routing
    return out
