"""The verifier: for every aggregate submitted by someone else, recompute it from the base
weights and the included updates (in the on-chain order, with the task's rule), compare the
digest with the published one, evaluate the published weights on its own held-out data, and
challenge within the window when they differ (or when an included update is invalid).

It bonds as a verifier of the task (if it can) and then also attests on chain the digest it
recomputed (all zero when no valid aggregate exists) and reports the round's free riders
(copies and zero deltas, with what they duplicate): at the chain's attestation threshold the
verifiers' verdict takes effect without a vote. Unbonded (e.g. it cannot afford the bond) it
still verifies and challenges.

The evidence of a challenge is a JSON report on IPFS: the expected and the published digests,
the reason, and the CID of the recomputed weights.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from ..errors import ExtrinsicFailed, TrainingError
from . import secure
from .base import Role, RoleFinished
from .chainview import RoundView, TaskView
from .combine import (
    Checked,
    Rejected,
    check_update,
    load_sketches,
    order_updates,
    save_sketches,
    screen_free_riders,
)
from .learning import rule_text, updates_digest
from .replicas import Prefetcher

log = logging.getLogger(__name__)


class Verifier(Role):
    name = "verifier"

    def __init__(self, *args: Any, data: Path, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.data_path = data
        self.dataset: Any = None
        self.prefetch = Prefetcher(self.store, keep_rounds=self.options.keep_pins)

    def verified_rounds(self) -> int:
        return sum(1 for r in self.journal.rounds().values() if r.get("verdict"))

    def start(self) -> None:
        task = self.require_task()
        spec = self.spec(task)
        try:
            self.dataset = self.learning.load_dataset(self.data_path, spec)
        except TrainingError as exc:
            self.emit("rejected", f"held-out dataset {self.data_path} rejected: {exc}")
            raise

    def step(self, block: int) -> None:
        task = self.require_task()
        if (
            self.options.max_rounds is not None
            and self.verified_rounds() >= self.options.max_rounds
        ):
            raise RoleFinished(f"{self.verified_rounds()} aggregates verified")
        self._bond(task)
        # Pin the open round's updates as they are revealed, and unpin old rounds' (.replicas).
        self.prefetch.round(self.chain, self.task_id, self.chain.round(self.task_id))
        if task.last_round is not None:
            self.prefetch.release(task.last_round)
        # The aggregated round in its challenge window; trainers already train the next.
        current = self.chain.pending(self.task_id)
        if current is None:
            self.emit("waiting", "no aggregate pending", once=True)
            return
        if current.status == "Failed":
            self._finalize_failed(current)
            return
        agg = current.aggregate
        if current.status not in ("Aggregated", "Challenged") or agg is None:
            self.emit("waiting", f"round {current.status}", round=current.index, once=True)
            return
        if agg.aggregator == self.chain.address:
            return
        record = self.journal.round(current.index)
        if record.get("aggregate") == agg.weights.digest_hex and record.get("verdict"):
            if self.bonded() and "attested" not in record and not current.decided:
                # Verified before someone else's challenge, or the attestation failed to send.
                self._attest(current, record.get("expected"))
                return
            self.emit("waiting", f"verdict: {record['verdict']}", round=current.index, once=True)
            return
        if current.status == "Aggregated" and block + 1 > agg.submitted_at + task.challenge_window:
            self.journal.update_round(
                current.index, aggregate=agg.weights.digest_hex, verdict="window-closed"
            )
            self.emit("waiting", "challenge window closed before verification", round=current.index)
            return
        self._verify(task, current)

    def bonded(self) -> bool:
        return bool(self.journal.meta("verifier_bonded"))

    def _bond(self, task: TaskView) -> None:
        """Bond as a verifier of the task once (a refusal is reported, not fatal: an unbonded
        verifier still challenges)."""
        if self.journal.meta("verifier_bonded") is not None:
            return
        if self.chain.address in self.chain.verifiers(self.task_id):
            self.journal.set_meta("verifier_bonded", True)
            return
        if task.aggregator == self.chain.address:
            return
        self.emit("joining", f"bonding as a verifier of task {self.task_id}")
        try:
            self.chain.task_call("bond_verifier", self.task_id)
        except ExtrinsicFailed as exc:
            if exc.error == "AlreadyVerifier":
                self.journal.set_meta("verifier_bonded", True)
                return
            self.journal.set_meta("verifier_bonded", False)
            self.emit(
                "error",
                f"not bonded as a verifier ({exc.error}): verifying and challenging without "
                "attesting",
            )
            return
        self.journal.set_meta("verifier_bonded", True)

    def _attest(self, current: RoundView, expected: str | None) -> RoundView | None:
        """Attest ``expected`` (hex sha-256 of the recomputed aggregate; None: no valid
        aggregate). Returns the round as it stands afterwards."""
        index = current.index
        digest = bytes.fromhex(expected) if expected else bytes(32)
        try:
            receipt = self.chain.attest(self.task_id, index, digest)
        except ExtrinsicFailed as exc:
            # Closed, already attested, or no longer a verifier: nothing more to do here.
            self.journal.update_round(index, attested=f"refused: {exc.error}")
            # Not the role's failure (it goes on with the next round): reported as rejected.
            self.emit("rejected", f"attestation refused: {exc.error}", round=index)
            return self.chain.pending(self.task_id)
        attested = [e for e in receipt.events if e.name == "AggregateAttested"]
        agrees = bool(attested[0].attributes.get("agrees")) if attested else expected is not None
        self.journal.update_round(index, attested="agrees" if agrees else "disagrees")
        decided = [
            e.name
            for e in receipt.events
            if e.name in ("AggregateRejectedByVerifiers", "ChallengeUpheld", "ChallengeDismissed")
        ]
        note = f"; verifiers decided: {decided[0]}" if decided else ""
        self.emit(
            "attested",
            f"attested {'agreement' if agrees else 'disagreement'} with the aggregate{note}",
            round=index,
        )
        return self.chain.pending(self.task_id)

    def _report(self, current: RoundView, flagged: list[Rejected]) -> None:
        """Report the round's copies and zero deltas on chain, once each (noise is excluded
        by the aggregator but not reported: it is judged against the others, not proven)."""
        index = current.index
        done = set(self.journal.round(index).get("reported", []))
        for rejected in flagged:
            if rejected.kind not in ("copy", "zero") or rejected.trainer in done:
                continue
            evidence = rejected.evidence or current.base
            try:
                self.chain.report_free_rider(
                    self.task_id, index, rejected.trainer, rejected.kind, evidence
                )
            except ExtrinsicFailed as exc:
                self.emit("error", f"free-rider report refused: {exc.error}", round=index)
                continue
            done.add(rejected.trainer)
            self.journal.update_round(index, reported=sorted(done))
            self.emit(
                "reported",
                f"reported {rejected.trainer} as a free rider ({rejected.kind}, {evidence.cid})",
                round=index,
            )

    def _verify(self, task: TaskView, current: RoundView) -> None:
        agg = current.aggregate
        assert agg is not None
        index = current.index
        spec = self.spec(task)
        self.emit("verifying", f"aggregate {agg.weights.cid} by {agg.aggregator}", round=index)
        self.emit(
            "fetching", f"base {current.base.cid} and {len(agg.included)} updates", round=index
        )
        base = self.learning.decode(self.store.cat(current.base))
        updates = self.chain.updates(self.task_id, index)
        participants = self.chain.participants(self.task_id)
        if secure.is_secure(task):
            faults, expected_digest, recomputed_ref = self._recompute_secure(task, index, base, agg)
            checked: list[Checked] = []
        else:
            faults, expected_digest, recomputed_ref, checked = self._recompute(
                task, index, base, agg, updates, participants
            )
        # Evaluate what was published (fetched and verified against its on-chain digest).
        loss: float | None = None
        accuracy: float | None = None
        try:
            published = self.learning.decode(self.store.cat(agg.weights), like=base)
            loss, accuracy = self.learning.evaluate(spec, published, self.dataset)
        except TrainingError as exc:
            faults.append(f"the published aggregate is invalid: {exc}")
        samples = self.learning.dataset_size(self.dataset)
        if self.bonded() and not secure.is_secure(task):
            # Masked updates cannot be screened one by one (only their sum is revealed).
            self._report(current, self._free_riders(current, base, updates, participants, checked))
        if not faults:
            self.journal.update_round(
                index,
                aggregate=agg.weights.digest_hex,
                verdict="valid",
                expected=expected_digest,
                loss=loss,
                accuracy=accuracy,
            )
            self.emit(
                "verified",
                f"aggregate matches ({expected_digest}); held-out evaluation",
                round=index,
                loss=loss,
                accuracy=accuracy,
                samples=samples,
            )
            if self.bonded():
                self._attest(current, expected_digest)
            return
        after = current
        if self.bonded():
            # Journal the verdict first: a restart then resends the attestation, not the work.
            self.journal.update_round(index, aggregate=agg.weights.digest_hex, verdict="invalid")
            after = self._attest(current, None) or current
        if after.index == index and after.status == "Failed":
            for fault in faults:
                self.emit("rejected", fault, round=index)
            self.journal.update_round(index, verdict="rejected by the verifiers' attestations")
            return
        if after.status == "Challenged":
            for fault in faults:
                self.emit("rejected", fault, round=index)
            self.journal.update_round(index, verdict="invalid; already challenged")
            return
        self._challenge(task, current, faults, expected_digest, recomputed_ref, loss, accuracy)

    def _recompute(
        self,
        task: TaskView,
        index: int,
        base: Any,
        agg: Any,
        updates: dict[str, Any],
        participants: dict[str, Any],
    ) -> tuple[list[str], str | None, dict[str, Any] | None, list[Checked]]:
        """Recompute the aggregate from the included updates: ``(faults, recomputed digest,
        the recomputed aggregate's content ref if it differs, the checked updates)``."""
        faults: list[str] = []
        checked: list[Checked] = []
        for trainer in agg.included:
            update = updates.get(trainer)
            if update is None or update.round != index:
                faults.append(f"included {trainer} has no update this round")
                continue
            result = check_update(
                self.store, self.learning, base, update, index, participants, task_id=self.task_id
            )
            if isinstance(result, Checked):
                checked.append(result)
            else:
                faults.append(f"included an invalid update from {trainer}: {result.reason}")
        expected_digest: str | None = None
        recomputed_ref: dict[str, Any] | None = None
        if not faults:
            # Free riders the aggregator should have left out. Only zero deltas and copies are
            # grounds for a challenge: the noise test compares an update with the others, so
            # on the included subset it is not the aggregator's test.
            screened = screen_free_riders(checked, load_sketches(self.journal.directory, index - 1))
            for flagged in screened.flagged:
                if screened.kinds[flagged.trainer] in ("zero", "copy"):
                    faults.append(f"included a free rider, {flagged.trainer}: {flagged.reason}")
            if not screened.flagged:
                save_sketches(self.journal.directory, index, screened)
        if not faults:
            digest = updates_digest([c.update.content.digest for c in checked])
            if digest != agg.updates_digest:
                faults.append("the recorded updates digest does not match the included updates")
            rule = rule_text(task.aggregation)
            _, payload = self.combine_round(task, rule, base, checked, index)
            expected_digest = hashlib.sha256(payload).hexdigest()
            if expected_digest != agg.weights.digest_hex:
                faults.append(
                    f"recomputed aggregate sha256 {expected_digest} differs from the published "
                    f"{agg.weights.digest_hex}"
                )
                recomputed_ref = self.store.add_bytes(payload).ref.to_json()
        return faults, expected_digest, recomputed_ref, checked

    def _recompute_secure(
        self, task: TaskView, index: int, base: Any, agg: Any
    ) -> tuple[list[str], str | None, dict[str, Any] | None]:
        """Unmask the round again from the chain's records (masked updates and share
        documents) and recompute the aggregate bit for bit."""
        try:
            result = secure.unmask_round(self, task, index, base)
        except TrainingError as exc:
            return [f"the round cannot be unmasked from what the chain records: {exc}"], None, None
        faults = []
        if list(agg.included) != result.included:
            faults.append(
                f"the aggregate includes {list(agg.included)}, the unmasked sum covers "
                f"{result.included}"
            )
        if result.digest != agg.updates_digest:
            faults.append("the recorded updates digest does not match the included updates")
        expected_digest = hashlib.sha256(result.payload).hexdigest()
        recomputed_ref = None
        if expected_digest != agg.weights.digest_hex:
            faults.append(
                f"recomputed aggregate sha256 {expected_digest} differs from the published "
                f"{agg.weights.digest_hex}"
            )
            recomputed_ref = self.store.add_bytes(result.payload).ref.to_json()
        return faults, expected_digest, recomputed_ref

    def _free_riders(
        self,
        current: RoundView,
        base: Any,
        updates: dict[str, Any],
        participants: dict[str, Any],
        included: list[Checked],
    ) -> list[Rejected]:
        """Screen every revealed update of the round (the aggregator's exclusions too), in
        aggregation order, for copies and zero deltas to report."""
        index = current.index
        known = {c.update.trainer: c for c in included}
        ordered: list[Checked] = []
        flagged: list[Rejected] = []
        for update in order_updates(updates, index):
            if update.trainer in known:
                ordered.append(known[update.trainer])
                continue
            result = check_update(
                self.store, self.learning, base, update, index, participants, task_id=self.task_id
            )
            if isinstance(result, Checked):
                ordered.append(result)
            elif result.kind is not None:
                flagged.append(result)
        previous = load_sketches(self.journal.directory, index - 1)
        return flagged + screen_free_riders(ordered, previous).flagged

    def _challenge(
        self,
        task: TaskView,
        current: RoundView,
        faults: list[str],
        expected: str | None,
        recomputed: dict[str, Any] | None,
        loss: float | None,
        accuracy: float | None,
    ) -> None:
        agg = current.aggregate
        assert agg is not None
        index = current.index
        for fault in faults:
            self.emit("rejected", fault, round=index)
        report = {
            "task": self.task_id,
            "round": index,
            "aggregator": agg.aggregator,
            "published": agg.weights.to_json(),
            "expected_sha256": expected,
            "recomputed": recomputed,
            "rule": rule_text(task.aggregation),
            "included": list(agg.included),
            "faults": faults,
            "held_out": {"loss": loss, "accuracy": accuracy},
            "verifier": self.chain.address,
        }
        record = self.journal.round(index)
        if record.get("evidence") and record.get("aggregate") == agg.weights.digest_hex:
            from .chainview import content_ref

            evidence = content_ref(record["evidence"])
        else:
            data = json.dumps(report, sort_keys=True, indent=1).encode()
            evidence = self.store.add_bytes(data).ref
            self.journal.update_round(
                index, aggregate=agg.weights.digest_hex, evidence=evidence.to_json()
            )
        fresh = self.chain.pending(self.task_id)
        if fresh is None or fresh.index != index or fresh.status != "Aggregated":
            return
        try:
            receipt = self.chain.challenge(self.task_id, index, evidence)
        except ExtrinsicFailed as exc:
            if exc.error in ("NotAggregated", "ChallengeWindowClosed", "WrongRound"):
                self.journal.update_round(index, verdict=f"challenge refused: {exc.error}")
                self.emit("error", f"could not challenge: {exc.error}", round=index)
                return
            raise
        proposal = next(
            (
                e.attributes.get("proposal_id")
                for e in receipt.events
                if e.name == "AggregateChallenged"
            ),
            None,
        )
        self.journal.update_round(index, verdict="challenged", proposal=proposal)
        self.emit(
            "challenged",
            f"challenged the aggregate of {agg.aggregator} (proposal {proposal}): {faults[0]}",
            round=index,
            loss=loss,
            accuracy=accuracy,
        )

    def _finalize_failed(self, current: RoundView) -> None:
        """A failed round (e.g. our challenge was upheld) is finalized by anyone: do it."""
        try:
            self.chain.finalize(self.task_id, current.index)
        except ExtrinsicFailed as exc:
            log.debug("finalize of the failed round refused: %s", exc)
            return
        self.emit("finalized", f"failed round {current.index} finalized", round=current.index)
