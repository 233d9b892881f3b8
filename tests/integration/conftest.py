"""Fixtures that run a real node-decentralml."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .devnode import DevNode, NodeStartError, node_binary


@pytest.fixture(scope="session")
def dev_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevNode]:
    if not node_binary().exists():
        pytest.fail(f"{node_binary()} missing: run scripts/build-node first", pytrace=False)
    node = DevNode(base_path=tmp_path_factory.mktemp("devnode"))
    try:
        node.start()
    except NodeStartError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    return tmp_path
