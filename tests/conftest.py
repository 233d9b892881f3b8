"""Fixtures shared by every test directory: a real node-decentralml and a real Kubo (IPFS) daemon,
one of each per pytest session (per xdist worker), always stopped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.clirun import Run, make_runner
from tests.integration.devnode import DevNode, NodeStartError, node_binary
from tests.integration.kubo import KuboDaemon, KuboStartError, kubo_binary


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


@pytest.fixture(scope="session")
def kubo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuboDaemon]:
    """A real Kubo daemon on free 127.0.0.1 ports, offline, with its own repo."""
    if kubo_binary() is None:
        pytest.fail("Kubo missing: run scripts/setup-kubo first", pytrace=False)
    daemon = KuboDaemon(repo=tmp_path_factory.mktemp("kubo") / "repo")
    try:
        daemon.start()
    except KuboStartError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """On failure, attach the log tails of the daemons the test used."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        fixtures = getattr(item, "funcargs", {})
        kubo_daemon = fixtures.get("kubo")
        if isinstance(kubo_daemon, KuboDaemon):
            report.sections.append(("kubo log (tail)", kubo_daemon.log_tail()))
        node = fixtures.get("dev_node")
        if isinstance(node, DevNode):
            report.sections.append(("node-decentralml log (tail)", node.log_tail()))


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A per-module home for the CLI: config dir, keystore and scratch files."""
    return tmp_path_factory.mktemp("cli-home")


@pytest.fixture(scope="module")
def cli(dev_node: DevNode, kubo: KuboDaemon, cli_home: Path) -> Run:
    """The installed `decentralml` script wired to the test node and Kubo."""
    return make_runner(dev_node.ws_url, kubo.api_url, cli_home)
