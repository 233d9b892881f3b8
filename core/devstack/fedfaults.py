"""Faults injected into a rehearsal federation, and what surviving them means (issue 16).

Each scenario runs real role processes on a :class:`Federation` (see ``fedroles``), kills one
participant with SIGKILL at a chosen moment, restarts it, checks what must hold and measures
how long the federation took to be back to normal after the restart. Every scenario is
audited (``audit.py``): free + held of every account reconciles with the events, and no
update is lost or counted twice. A violated expectation raises :class:`ScenarioFailed` with
what was seen; tests/e2e/test_federation_net.py runs them as tests, bench/federation.py
for its figures.

``recovery_s`` is measured from the restart to:

- validator: the restarted validator's finalized head is back with the others' (finality,
  which needs all three voters, resumes);
- Kubo: the restarted Kubo is connected to every other peer again;
- trainer: the restarted trainer follows the chain again (journal read, TFF loaded, its first
  event past start-up);
- aggregator: the standby aggregator is bonded and following the task.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..roles.events import ProgressEvent
from .audit import AuditResult, ChainAudit
from .federation import Federation
from .fedproc import ProcessHandle
from .fedroles import Organisations, events_of, excluded_by_aggregator, task_events

T = TypeVar("T")
Progress = Callable[[str], None]


class ScenarioFailed(AssertionError):
    """What a fault scenario expected did not happen."""


def wait_until(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except ScenarioFailed:
            raise
        except Exception as exc:  # a daemon that is restarting refuses connections
            last = exc
        time.sleep(0.5)
    raise ScenarioFailed(f"{what} within {timeout:.0f} s (last error: {last!r})")


def check(ok: object, what: str) -> None:
    if not ok:
        raise ScenarioFailed(what)


@dataclass
class Outcome:
    """What one scenario measured."""

    name: str
    task: int
    recovery_s: float | None = None
    round_seconds: list[float] = field(default_factory=list)
    audit: AuditResult | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def median_round_s(self) -> float:
        return statistics.median(self.round_seconds)


Roles = dict[str, tuple[ProcessHandle, Path]]


def aggregates_in_finalizing_block(events: Sequence[ProgressEvent]) -> int:
    """Rounds whose aggregate landed in the block that finalized the round before (the
    aggregator computed it during that round's challenge window), from the aggregator's
    events ("... in block N")."""
    blocks: dict[str, dict[int, int]] = {"finalized": {}, "aggregated": {}}
    for e in events:
        found = re.search(r"in block (\d+)", e.message)
        if e.phase in blocks and found and e.round is not None:
            blocks[e.phase][e.round] = int(found.group(1))
    finalized = blocks["finalized"]
    return sum(1 for r, b in blocks["aggregated"].items() if finalized.get(r - 1) == b)


class Scenarios:
    """The scenarios on one federation and its organisations (funded, with demo data)."""

    def __init__(self, fed: Federation, orgs: Organisations, progress: Progress = print) -> None:
        self.fed = fed
        self.orgs = orgs
        self.progress = progress
        self.names = orgs.names

    # ---- plumbing --------------------------------------------------------------------------
    def client(self, validator: str = "alice") -> Any:
        from ..chain.client import ChainClient

        return ChainClient(self.fed.participants[validator].rpc_url)

    @contextlib.contextmanager
    def audited(self, outcome: Outcome, aggregators: list[Path]) -> Iterator[None]:
        """Audit every block the scenario spans (read from charlie: bob may be killed)."""
        audit = ChainAudit(self.fed.participants["charlie"].rpc_url)
        yield
        excluded: dict[int, list[str]] = {}
        for path in aggregators:
            for r, who in excluded_by_aggregator(events_of(path)).items():
                excluded.setdefault(r, []).extend(who)
        outcome.audit = audit.finish(
            outcome.task, accounts=self.orgs.addresses.values(), excluded=excluded
        )
        self.progress(f"{outcome.name}: {outcome.audit.describe()}")

    def _begin(
        self, name: str, model: str, rounds: int, round_length: int
    ) -> tuple[Outcome, Any, int]:
        """A task for a scenario, its outcome, a chain client and the block it starts from."""
        task = self.orgs.create_task(model, rounds=rounds, round_length=round_length)
        client = self.client()
        return Outcome(name, task), client, client.block_number()

    def start(self, task: int, rounds: int, *, skip: tuple[str, ...] = ()) -> Roles:
        return {n: self.orgs.start_role(n, task, rounds) for n in self.names if n not in skip}

    @staticmethod
    def stop(roles: Roles, *more: ProcessHandle | None) -> None:
        for handle, _ in roles.values():
            handle.kill()
        for extra in more:
            if extra is not None:
                extra.kill()

    @staticmethod
    def wait_done(roles: Roles, timeout: float) -> None:
        def all_done() -> bool:
            for name, (handle, _) in roles.items():
                code = handle.child.poll() if handle.child else None
                if code not in (None, 0):
                    raise ScenarioFailed(f"{name} exited {code}:\n{handle.log_tail(40)}")
            return all(h.child is not None and h.child.poll() == 0 for h, _ in roles.values())

        wait_until(all_done, timeout, "every role finishing its rounds")

    @staticmethod
    def finalized_times(path: Path) -> list[float]:
        return [e.ts for e in events_of(path) if e.phase == "finalized"]

    def phase_seen(self, path: Path, phase: str, round_index: int | None = None) -> bool:
        return any(
            e.phase == phase and (round_index is None or e.round == round_index)
            for e in events_of(path)
        )

    # ---- a clean run -----------------------------------------------------------------------
    def rounds(
        self,
        name: str,
        rounds: int,
        *,
        round_length: int = 20,
        challenge_window: int = 2,
        conditions: tuple[int, float] | None = None,
    ) -> Outcome:
        """``rounds`` rounds with every participant up; round seconds are the intervals
        between the aggregator's successive finalizations (the first round, which includes
        start-up, is not one of them). The verifier must recompute every aggregate and agree;
        how many of its attestations made the challenge window is ``notes["attested"]`` (on
        a slow network a short window closes before they are included).

        ``conditions`` (delay ms, loss %) apply to every link while the roles run and are
        lifted before the audit reads the span's history (``notes["conditions_by"]`` says
        whether netem or the userspace emulator applied them)."""
        task = self.orgs.create_task(
            name, rounds=rounds, round_length=round_length, challenge_window=challenge_window
        )
        outcome = Outcome(name, task)
        if conditions is not None:
            self.fed.netem(*conditions)
            outcome.notes["conditions_by"] = self.fed.conditions_by or "?"
        try:
            roles = self.start(task, rounds)
        except BaseException:
            if conditions is not None:
                self.fed.clear_conditions()
            raise
        try:
            with self.audited(outcome, [roles["aggregator"][1]]):
                try:
                    self.wait_done(roles, 120 + 120 * rounds)
                finally:
                    if conditions is not None:  # the audit is an observer: full speed
                        self.fed.clear_conditions()
        finally:
            self.stop(roles)
        times = self.finalized_times(roles["aggregator"][1])
        check(len(times) == rounds, f"{len(times)} of {rounds} rounds finalized")
        outcome.round_seconds = [b - a for a, b in itertools.pairwise(times)]
        verifier = events_of(roles["verifier"][1])
        verified = [e for e in verifier if e.phase == "verified"]
        check(len(verified) == rounds, f"the verifier verified {len(verified)} of {rounds}")
        check(all("matches" in e.message for e in verified), f"disagreement: {verified}")
        outcome.notes["attested"] = sum(1 for e in verifier if e.phase == "attested")
        outcome.notes["aggregates_in_finalizing_block"] = aggregates_in_finalizing_block(
            events_of(roles["aggregator"][1])
        )
        return outcome

    # ---- validator -------------------------------------------------------------------------
    def validator_kill(self, outage_s: float = 14.0) -> Outcome:
        """kill -9 of bob in the middle of a round: the other two keep authoring (finality,
        which needs all three voters, stalls); restarted, bob catches up and the round
        finalizes."""
        fed = self.fed
        task = self.orgs.create_task("fault-validator", rounds=2, round_length=20)
        outcome = Outcome("validator_kill", task)
        roles = self.start(task, 2)
        bob = fed.participants["bob"]
        survivors = [fed.participants["alice"], fed.participants["charlie"]]
        try:
            with self.audited(outcome, [roles["aggregator"][1]]):
                wait_until(
                    lambda: self.phase_seen(roles["aggregator"][1], "finalized", 0),
                    400,
                    "round 0 finalized",
                )
                wait_until(
                    lambda: any(self.phase_seen(p, "committed", 1) for _, p in roles.values()),
                    200,
                    "a trainer committing round 1",
                )
                before = [fed.heads(v) for v in survivors]
                handle = fed.processes["bob.node"]
                handle.kill()
                time.sleep(outage_s)
                during = [fed.heads(v) for v in survivors]
                produced = min(d[0] - b[0] for b, d in zip(before, during, strict=True))
                outcome.notes["blocks_authored_while_down"] = produced
                check(produced >= 3, f"only {produced} blocks authored with bob down")
                stalled_at = max(d[1] for d in during)
                restarted = time.monotonic()
                fed.restart(handle)

                def caught_up() -> bool:
                    mine = fed.heads(bob)[1]
                    return mine > stalled_at and mine >= min(fed.heads(v)[1] for v in survivors)

                wait_until(caught_up, 120, "bob catching up with the finalized head")
                outcome.recovery_s = time.monotonic() - restarted
                self.wait_done(roles, 400)
        finally:
            self.stop(roles)
        check(len(self.finalized_times(roles["aggregator"][1])) == 2, "round 1 not finalized")
        return outcome

    # ---- a trainer's Kubo ------------------------------------------------------------------
    def kubo_kill(self, victim: str = "trainer-2") -> Outcome:
        """kill -9 of a trainer's Kubo right after its update is revealed and another peer
        holds it: the round includes and pays it, the verifier agrees; restarted, the Kubo
        rejoins the swarm."""
        fed = self.fed
        outcome, client, first = self._begin("kubo_kill", "fault-kubo", 1, 30)
        task = outcome.task
        roles = self.start(task, 1)
        kubo = fed.processes[f"{victim}.ipfs"]
        try:
            with self.audited(outcome, [roles["aggregator"][1]]):
                wait_until(
                    lambda: self.phase_seen(roles[victim][1], "replicated"),
                    300,
                    f"{victim}'s update held by another peer",
                )
                kubo.kill()
                self.wait_done(roles, 300)
            restarted = time.monotonic()
            kubo = fed.restart(kubo)
            p = fed.participants[victim]
            wait_until(
                lambda: fed.swarm_peers(p) >= len(fed.storers) - 1,
                120,
                f"{victim}'s Kubo back in the swarm",
            )
            outcome.recovery_s = time.monotonic() - restarted
            events = task_events(client, first, task, {"AggregateSubmitted", "RewardPaid"})
        finally:
            client.close()
            self.stop(roles)
        submitted = [e.attributes for e in events if e.name == "AggregateSubmitted"]
        check(
            len(submitted) == 1 and int(submitted[0]["included"]) == fed.trainers,
            f"the aggregate did not include every update: {submitted}",
        )
        paid = {e.attributes["account"] for e in events if e.name == "RewardPaid"}
        check(self.orgs.addresses[victim] in paid, f"{victim} was not paid: {paid}")
        attested = [e for e in events_of(roles["verifier"][1]) if e.phase == "attested"]
        check(attested and "agreement" in attested[0].message, f"verifier: {attested}")
        return outcome

    # ---- a trainer -------------------------------------------------------------------------
    def trainer_kill(self, victim: str = "trainer-4") -> Outcome:
        """kill -9 of a trainer while it trains round 0: the round finalizes without it and it
        is slashed as a no-show exactly once; restarted on a torn journal it refuses with
        advice; with the journal moved away it rejoins round 1 from the chain's state and
        never resubmits round 0."""
        fed = self.fed
        # A long commit window: the restarted trainer loads TFF again before it can commit.
        outcome, client, first = self._begin("trainer_kill", "fault-trainer", 2, 45)
        task = outcome.task
        roles = self.start(task, 2)
        handle, events = roles[victim]
        agg_events = roles["aggregator"][1]
        try:
            with self.audited(outcome, [agg_events]):
                wait_until(lambda: self.phase_seen(events, "training"), 300, f"{victim} training")
                handle.kill()
                wait_until(lambda: self.phase_seen(agg_events, "finalized", 0), 300, "round 0")
                handle = self._refuses_torn_journal(handle, task)
                seen = len(events_of(events))
                restarted = time.monotonic()
                handle = fed.restart(handle)
                roles[victim] = (handle, events)
                wait_until(
                    lambda: any(e.phase != "joining" for e in events_of(events)[seen:]),
                    240,
                    f"the restarted {victim} following the chain",
                )
                outcome.recovery_s = time.monotonic() - restarted
                wait_until(lambda: self.phase_seen(events, "submitted", 1), 240, "its round 1")
                wait_until(lambda: len(self.finalized_times(agg_events)) >= 2, 300, "round 1")
            slashes = task_events(client, first, task, {"StakeSlashed"})
        finally:
            client.close()
            self.stop(roles, handle)
        check(not self.phase_seen(events, "submitted", 0), f"{victim} submitted round 0")
        got = [(s.attributes["trainer"], int(s.attributes["round"])) for s in slashes]
        check(got == [(self.orgs.addresses[victim], 0)], f"slashes: {got}")
        return outcome

    def _refuses_torn_journal(self, handle: ProcessHandle, task: int) -> ProcessHandle:
        """Tear the killed trainer's journal (a disk that lost the end of a write): restarted,
        it must refuse with advice; the journal is then moved away, as the advice says."""
        state = handle.participant.state_dir
        [journal] = state.glob(f"roles/trainer-{task}-*/journal.json")
        whole = journal.read_bytes()
        journal.write_bytes(whole[: len(whole) // 2])
        handle = self.fed.restart(handle)
        child = handle.child
        wait_until(lambda: child is not None and child.poll() is not None, 120, "it refusing")
        text = handle.log.read_text()
        check(child is not None and child.returncode != 0, "it ran on a torn journal")
        check("unreadable" in text and "move it away" in text, f"no advice:\n{text[-1500:]}")
        journal.rename(journal.with_suffix(".torn"))
        return handle

    # ---- the aggregator --------------------------------------------------------------------
    def aggregator_kill(self) -> Outcome:
        """kill -9 of the aggregator after it fetched round 0's updates: round 0 fails by the
        existing rule (a keeper finalizes it after the aggregation period; the bond is
        slashed), a standby bonds and runs round 1, and the old one, restarted, sees it was
        unbonded and exits without submitting anything."""
        fed, orgs = self.fed, self.orgs
        outcome, client, first = self._begin("aggregator_kill", "fault-aggregator", 2, 20)
        task = outcome.task
        roles = self.start(task, 2, skip=("aggregator",))
        old, old_events = orgs.start_role("aggregator", task, 2, "--pause-after-fetch", "120")
        standby: ProcessHandle | None = None
        aggregators = [old_events]
        try:
            with self.audited(outcome, aggregators):
                wait_until(lambda: self.phase_seen(old_events, "aggregating", 0), 300, "fetch")
                old.kill()
                killed = time.monotonic()
                agg = fed.participants["aggregator"]

                def finalized() -> bool:
                    # A keeper (the sponsor) finalizes round 0 after its aggregation period.
                    args = ("--json", "round", "finalize", str(task), "0", "--from", "sponsor")
                    done = orgs.cli(agg, *args)
                    waiting = (b"AwaitingAggregate", b"RoundStillOpen")
                    if done.returncode != 0 and not any(w in done.stderr for w in waiting):
                        raise ScenarioFailed(done.stderr.decode()[-1500:])
                    return bool(done.returncode == 0)

                wait_until(finalized, 180, "round 0 finalized by a keeper")
                started = time.monotonic()
                standby, standby_events = orgs.start_role("aggregator-b", task, 1)
                aggregators.append(standby_events)
                wait_until(
                    lambda: self.phase_seen(standby_events, "waiting"), 120, "the standby bonded"
                )
                outcome.recovery_s = time.monotonic() - started
                wait_until(lambda: self.phase_seen(standby_events, "aggregated", 1), 300, "r1")
                outcome.notes["kill_to_next_aggregate_s"] = round(time.monotonic() - killed, 1)
                old = fed.restart(old)
                child = old.child
                wait_until(lambda: child is not None and child.poll() is not None, 120, "old exit")
                check(child is not None and child.returncode == 0, old.log_tail(40))
                wait_until(lambda: self.phase_seen(standby_events, "finalized", 1), 300, "r1 end")
            events = task_events(
                client, first, task, {"AggregatorSlashed", "AggregateSubmitted", "RoundFinalized"}
            )
        finally:
            client.close()
            self.stop(roles, old, standby)
        by = {n: [e.attributes for e in events if e.name == n] for n in {e.name for e in events}}
        slashed = [(a["aggregator"], int(a["round"])) for a in by.get("AggregatorSlashed", [])]
        check(slashed == [(orgs.addresses["aggregator"], 0)], f"slashed: {slashed}")
        submitted = [(a["aggregator"], int(a["round"])) for a in by.get("AggregateSubmitted", [])]
        check(submitted == [(orgs.addresses["aggregator-b"], 1)], f"aggregates: {submitted}")
        rounds = [(int(a["round"]), bool(a["succeeded"])) for a in by.get("RoundFinalized", [])]
        check(rounds[:2] == [(0, False), (1, True)], f"rounds: {rounds}")
        return outcome
