"""Faults injected into a federation whose participants are apart (issue 16): a trainer's
Kubo, a trainer and the aggregator killed with SIGKILL at the worst moment, each scenario
(core/devstack/fedfaults.py) audited block by block (core/devstack/audit.py). The validator
kill and network conditions are in test_federation_net.py; this module has a federation of
its own (another prefix and subnet), so the two run on parallel workers.

Needs root (network namespaces): without it the module is skipped with that reason.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from decentralml.core.devstack.federation import Federation
from decentralml.core.devstack.fedfaults import Scenarios
from decentralml.core.devstack.netns import NetPlan

from tests.e2e import fedrun

pytestmark = [pytest.mark.chain, pytest.mark.ipfs]

NET = NetPlan(prefix="dmlf", subnet="10.80.0")


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenarios]:
    federation = fedrun.federation(tmp_path_factory.mktemp("fed"), NET)
    fed: Federation = next(federation)
    try:
        yield fedrun.scenarios(fed)
    finally:
        federation.close()  # down, and nothing left behind


def test_a_trainers_kubo_killed_once_its_update_is_on_chain_loses_nothing(
    scenarios: Scenarios,
) -> None:
    outcome = scenarios.kubo_kill()
    fedrun.audited_ok(outcome)
    print(f"kubo kill: back in the swarm {outcome.recovery_s:.1f} s after its restart")
    assert outcome.recovery_s is not None and outcome.recovery_s <= 30


def test_a_trainer_killed_mid_training_is_slashed_once_and_rejoins(scenarios: Scenarios) -> None:
    outcome = scenarios.trainer_kill()
    fedrun.audited_ok(outcome)
    print(f"trainer kill: following the chain {outcome.recovery_s:.1f} s after its restart")
    assert outcome.recovery_s is not None


def test_an_aggregator_killed_after_fetching_is_replaced_and_never_submits_stale(
    scenarios: Scenarios,
) -> None:
    outcome = scenarios.aggregator_kill()
    fedrun.audited_ok(outcome)
    print(f"aggregator kill: standby following {outcome.recovery_s:.1f} s after its start; "
          f"notes {outcome.notes}")  # fmt: skip
    assert outcome.recovery_s is not None and outcome.recovery_s <= 30
