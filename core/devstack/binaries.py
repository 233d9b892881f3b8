"""Where the node, Kubo and the ``decentralml`` command are found."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def find_node_binary() -> Path | None:
    """``$DML_NODE_BIN``, else ``node-decentralml`` on PATH, else the cargo target dir."""
    explicit = os.environ.get("DML_NODE_BIN")
    if explicit:
        return Path(explicit)
    found = shutil.which("node-decentralml")
    if found:
        return Path(found)
    cache = Path(os.environ.get("DECENTRALML_CACHE") or Path.home() / ".cache" / "decentralml")
    target = Path(os.environ.get("CARGO_TARGET_DIR") or cache / "target")
    candidate = target / "debug" / "node-decentralml"
    return candidate if candidate.exists() else None


def find_ipfs_binary() -> Path | None:
    """``$DML_IPFS_BIN``, else ``$DECENTRALML_CACHE/tools/ipfs`` (scripts/setup-kubo), else PATH."""
    explicit = os.environ.get("DML_IPFS_BIN")
    if explicit:
        return Path(explicit)
    cache = Path(os.environ.get("DECENTRALML_CACHE") or Path.home() / ".cache" / "decentralml")
    candidate = cache / "tools" / "ipfs"
    if candidate.exists():
        return candidate
    found = shutil.which("ipfs")
    return Path(found) if found else None


def find_cli() -> list[str]:
    """How to run the ``decentralml`` command: the script next to this interpreter, else PATH."""
    beside = Path(sys.executable).parent / "decentralml"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("decentralml")
    if found:
        return [found]
    return [
        sys.executable,
        "-c",
        "import sys; from decentralml.core.cli import main; sys.exit(main())",
    ]
