"""The verifier: for every aggregate submitted by someone else, recompute it from the base
weights and the included updates (in the on-chain order, with the task's rule), compare the
digest with the published one, evaluate the published weights on its own held-out data, and
challenge within the window when they differ (or when an included update is invalid).

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
from .base import Role, RoleFinished
from .chainview import RoundView, TaskView
from .combine import (
    Checked,
    check_update,
    combine,
    load_sketches,
    save_sketches,
    screen_free_riders,
)
from .learning import rule_text, updates_digest

log = logging.getLogger(__name__)


class Verifier(Role):
    name = "verifier"

    def __init__(self, *args: Any, data: Path, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.data_path = data
        self.dataset: Any = None

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
        current = self.chain.round(self.task_id)
        if current is None:
            self.emit("waiting", "no round running", once=True)
            return
        if current.status == "Failed":
            self._finalize_failed(current)
            return
        agg = current.aggregate
        if current.status != "Aggregated" or agg is None:
            self.emit("waiting", f"round {current.status}", round=current.index, once=True)
            return
        record = self.journal.round(current.index)
        if record.get("aggregate") == agg.weights.digest_hex and record.get("verdict"):
            self.emit("waiting", f"verdict: {record['verdict']}", round=current.index, once=True)
            return
        if agg.aggregator == self.chain.address:
            return
        if block + 1 > agg.submitted_at + task.challenge_window:
            self.journal.update_round(
                current.index, aggregate=agg.weights.digest_hex, verdict="window-closed"
            )
            self.emit("waiting", "challenge window closed before verification", round=current.index)
            return
        self._verify(task, current)

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
        updates = self.chain.updates(self.task_id)
        participants = self.chain.participants(self.task_id)
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
            _, payload = combine(
                self.learning, spec, rule, base, checked, task=self.task_id, round_index=index
            )
            expected_digest = hashlib.sha256(payload).hexdigest()
            if expected_digest != agg.weights.digest_hex:
                faults.append(
                    f"recomputed aggregate sha256 {expected_digest} differs from the published "
                    f"{agg.weights.digest_hex}"
                )
                recomputed_ref = self.store.add_bytes(payload).ref.to_json()
        # Evaluate what was published (fetched and verified against its on-chain digest).
        loss: float | None = None
        accuracy: float | None = None
        try:
            published = self.learning.decode(self.store.cat(agg.weights), like=base)
            loss, accuracy = self.learning.evaluate(spec, published, self.dataset)
        except TrainingError as exc:
            faults.append(f"the published aggregate is invalid: {exc}")
        samples = self.learning.dataset_size(self.dataset)
        if not faults:
            self.journal.update_round(
                index,
                aggregate=agg.weights.digest_hex,
                verdict="valid",
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
            return
        self._challenge(task, current, faults, expected_digest, recomputed_ref, loss, accuracy)

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
        fresh = self.chain.round(self.task_id)
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
