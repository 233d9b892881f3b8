"""A rehearsal federation for a test module: one namespace per participant, torn down at the
end, also when a test fails (tests/e2e/test_federation_net.py, test_federation_faults.py).

Each module uses its own prefix and subnet, so scripts/test runs them on parallel workers."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from decentralml.core.devstack.federation import Federation
from decentralml.core.devstack.fedfaults import Outcome, Scenarios
from decentralml.core.devstack.fedroles import Organisations
from decentralml.core.devstack.netns import Netns, NetPlan, ours_links, ours_netns, teardown

TRAINERS = 4
PASSWORD = "netns-federation-test"


def federation(home: Path, net: NetPlan) -> Iterator[Federation]:
    """Up (as root, isolated or failing: never a silent fallback), yielded, down."""
    if os.geteuid() != 0:
        pytest.skip(
            "the federation would NOT be isolated: network namespaces need root "
            "(run scripts/test as root to exercise the one-namespace-per-participant setup)"
        )
    teardown(net.prefix)  # leftovers of a run that was killed
    fed = Federation(home, TRAINERS, isolate="require", net=net, progress=print)
    t0 = time.monotonic()
    try:
        fed.up()
        print(f"federation of {len(fed.participants)} up in {time.monotonic() - t0:.1f} s")
        yield fed
    finally:
        fed.down()
        netns = Netns(net)
        assert not ours_netns(netns.netns_names(), net.prefix), "namespaces left behind"
        assert not ours_links(netns.link_names(), net.prefix), "links left behind"


def scenarios(fed: Federation) -> Scenarios:
    """Every organisation's funded account and the demo data on the participants' hosts."""
    orgs = Organisations(fed, PASSWORD)
    orgs.fund()
    orgs.demo_data()
    return Scenarios(fed, orgs)


def audited_ok(outcome: Outcome) -> None:
    """Every account's free + held reconciles with the events; no update lost or doubled."""
    assert outcome.audit is not None
    assert outcome.audit.ok, outcome.audit.describe()
    assert outcome.audit.updates_revealed > 0
