"""The e2e tests that run a benchmark's scenario on a fresh node and Kubo: load its module."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest
from decentralml.core.devstack import find_ipfs_binary, find_node_binary

BENCH = Path(__file__).resolve().parents[2] / "bench"


def bench_module(name: str) -> ModuleType:
    """``bench/<name>.py``, after checking the node and Kubo binaries it needs are built."""
    if find_node_binary() is None:
        pytest.fail("node-decentralml missing: run scripts/build-node first", pytrace=False)
    if find_ipfs_binary() is None:
        pytest.fail("Kubo missing: run scripts/setup-kubo first", pytrace=False)
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))
