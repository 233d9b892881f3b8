"""The aggregator: bond, open rounds, aggregate the valid updates with the task's rule, and
finalize rounds when allowed, so that a federation runs by itself.

Invalid updates (bytes that do not match their digest, missing content, NaN/Inf, wrong names,
shapes or dtypes, an update from a non-participant) are left out with a recorded reason (a
``rejected`` event and a log line); the round goes on with the others.

``tamper`` is a fault-injection switch for demos and tests: the aggregate is perturbed after it
is computed, so that verifiers catch it and challenge. ``pause_after_fetch`` (seconds) is
another, for fault tests: the aggregator waits after fetching and checking a round's updates,
so a test can kill it at exactly that point.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Literal

from ..chain.decentralml import AggregateClaim
from ..errors import ExtrinsicFailed
from ..fl.secagg.crypto import SecAggError
from ..types import Receipt
from . import secure
from .base import Role, RoleFinished
from .chainview import RoundView, TaskView, content_ref
from .combine import (
    Checked,
    Rejected,
    Screened,
    check_update,
    load_sketches,
    order_updates,
    reported_metrics,
    save_sketches,
    screen_free_riders,
)
from .learning import Weights, rule_text
from .replicas import Prefetcher

Combined = tuple[bytes, list[str], list[Rejected], Screened | None]
"""An aggregate's bytes, the included trainers, the rejected updates, the screening."""


log = logging.getLogger(__name__)

BENIGN_START = ("RoundInProgress", "NotEnoughTrainers", "NoAggregator", "TaskNotLive")
BENIGN_FINALIZE = (
    "RoundStillOpen",
    "AwaitingAggregate",
    "ChallengeWindowOpen",
    "RoundUnderChallenge",
    "WrongRound",
    "NoActiveRound",
)


def tamper_weights(weights: Weights) -> Weights:
    """Shift every value of the first array by 0.25 (fault injection, test-only)."""
    out = dict(weights)
    first = next(iter(out))
    out[first] = out[first] + out[first].dtype.type(0.25)
    return out


class Aggregator(Role):
    name = "aggregator"

    def __init__(
        self, *args: Any, tamper: bool = False, pause_after_fetch: float = 0.0, **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.tamper = tamper
        self.pause_after_fetch = pause_after_fetch
        self.prefetch = Prefetcher(self.store, keep_rounds=self.options.keep_pins)
        self._params: dict[str, Any] | None = None

    def aggregation_period(self) -> int:
        if self._params is None:
            self._params = self.chain.params()
        return int(self._params.get("aggregation_period", 0))

    def finalized_rounds(self) -> int:
        return sum(1 for r in self.journal.rounds().values() if r.get("finalized"))

    def start(self) -> None:
        task = self.require_task()
        self.spec(task)

    def step(self, block: int) -> None:
        task = self.require_task()
        me = self.chain.address
        if task.aggregator != me:
            if self.journal.meta("bonded"):
                raise RoleFinished(f"no longer the aggregator of task {self.task_id} (unbonded)")
            if task.aggregator is not None:
                self.emit("waiting", f"{task.aggregator} is the aggregator", once=True)
                return
            self.emit("joining", f"bonding as the aggregator of task {self.task_id}")
            try:
                self.chain.task_call("bond_aggregator", self.task_id)
            except ExtrinsicFailed as exc:
                if exc.error != "AggregatorAlreadyBonded":
                    raise
                return
            self.journal.set_meta("bonded", True)
            return
        if not self.journal.meta("bonded"):
            self.journal.set_meta("bonded", True)
        # Rounds are pipelined: the round aggregated last waits out its challenge window
        # while the next one (opened on its aggregate) takes commitments and reveals.
        pending = self.chain.pending(self.task_id)
        current = self.chain.round(self.task_id)
        if pending is not None:
            settled = self._settle(task, pending, current, block)
            if settled == "both" or self.stopped():
                return
            if settled == "finalized":
                pending = self.chain.pending(self.task_id)
                current = self.chain.round(self.task_id)
        if current is None:
            if pending is None:
                self._maybe_start(task)
            return
        if pending is not None:
            # Its aggregate waits for the pending round (and may use its result).
            self.emit("waiting", f"round {pending.index} pending", round=current.index, once=True)
            return
        self._open_round(task, current, block)

    def _settle(
        self, task: TaskView, pending: RoundView, current: RoundView | None, block: int
    ) -> Literal["nothing", "finalized", "both"]:
        """Finalize ``pending`` when it may be: "finalized" when the call was sent alone,
        "both" when the open round's aggregate went with it (same block)."""
        if pending.status == "Failed":
            self._finalize(task, pending)
            return "finalized"
        if pending.status != "Aggregated":
            self.emit("waiting", f"round {pending.status}", round=pending.index, once=True)
            return "nothing"
        agg = pending.aggregate
        over = agg is not None and block + 1 > agg.submitted_at + task.challenge_window
        ahead = self._ahead(task, pending, current, block)  # prepared during the window
        if not over:
            self.emit("waiting", "challenge window open", round=pending.index, once=True)
            return "nothing"
        if ahead is not None:
            self._finalize_then_submit(pending, ahead)
            return "both"
        self._finalize(task, pending)
        return "finalized"

    # ---- round phases ----------------------------------------------------------------------------
    def _maybe_start(self, task: TaskView) -> None:
        if (
            self.options.max_rounds is not None
            and self.finalized_rounds() >= self.options.max_rounds
        ):
            raise RoleFinished(f"{self.finalized_rounds()} rounds finalized")
        if task.next_round >= task.total_rounds:
            self.emit("waiting", "every round has run", once=True)
            return
        if task.trainer_count < task.min_trainers:
            self.emit(
                "waiting",
                f"{task.trainer_count} of {task.min_trainers} trainers joined",
                once=True,
            )
            return
        if secure.is_secure(task):
            keyed = len(self.chain.secagg_keys(self.task_id))
            if keyed < task.min_trainers:
                # A round masks among the trainers with keys when it opens.
                self.emit(
                    "waiting",
                    f"{keyed} of {task.min_trainers} trainers published their keys",
                    once=True,
                )
                return
        try:
            self.chain.task_call("start_round", self.task_id)
        except ExtrinsicFailed as exc:
            if exc.error in BENIGN_START:
                return
            raise
        self.emit("waiting", f"opened round {task.next_round}", round=task.next_round)

    def _open_round(self, task: TaskView, current: RoundView, block: int) -> None:
        index = current.index
        period_end = current.aggregation_end(self.aggregation_period())
        nxt = block + 1
        if nxt > current.reveal_end and current.submissions == 0:
            self._finalize(task, current)
            return
        if nxt > period_end:
            self._finalize(task, current)
            return
        if not current.reveals_done(nxt):
            if nxt <= current.deadline and current.commitments < current.expected:
                what = f"{current.commitments} of {current.expected} commitments"
            else:
                what = f"{current.submissions} of {current.commitments} updates revealed"
            self.emit("waiting", what, round=index, once=True)
            # Pin each update as soon as it is revealed: its trainer's peer may not last.
            self.prefetch.round(self.chain, self.task_id, current)
            return
        record = self.journal.round(index)
        if record.get("status") == "no-valid-update":
            return
        self._aggregate(task, current, record)

    def _ahead(
        self, task: TaskView, pending: RoundView, current: RoundView | None, block: int
    ) -> AggregateClaim | None:
        """While ``pending`` waits out its challenge window: the open round's aggregate,
        computed and uploaded as soon as its reveals are in (as if ``pending`` stands, which
        is the only case the open round survives), so that it can be submitted in the block
        that finalizes ``pending``. None while it cannot be, or should not (a secure round
        waits for its shares; the last round this aggregator is to finalize has no next)."""
        if secure.is_secure(task) or self._last_to_finalize():
            return None
        if current is None or current.aggregate is not None or current.status != "Open":
            return None
        if pending.aggregate is None or current.base.digest != pending.aggregate.weights.digest:
            return None
        if not current.reveals_done(block + 1):
            self.prefetch.round(self.chain, self.task_id, current)
            return None
        record = self.journal.round(current.index)
        if record.get("status") == "no-valid-update":
            return None
        standing = dataclasses.replace(task, last_round=pending.index, last_base=pending.base)
        return self._prepare(standing, current, record)

    def _last_to_finalize(self) -> bool:
        limit = self.options.max_rounds
        return limit is not None and self.finalized_rounds() + 1 >= limit

    def _prepare(
        self, task: TaskView, current: RoundView, record: dict[str, Any]
    ) -> AggregateClaim | None:
        """The round's aggregate, uploaded (or as the journal kept it for this base)."""
        index = current.index
        self.spec(task)  # fetched (and checked) before any work
        if record.get("weights") and record.get("base") == current.base.digest_hex:
            return AggregateClaim(
                index,
                content_ref(record["weights"]),
                tuple(record["included"]),
                float(record["loss"]),
                float(record["accuracy"]),
            )
        self.emit("fetching", f"base weights {current.base.cid}", round=index)
        base = self.learning.decode(self.store.cat(current.base))
        combined = (
            self._secure_combine(task, index, base)
            if secure.is_secure(task)
            else self._combine(task, index, base)
        )
        if combined is None:
            return None
        payload, included, rejected, screened = combined
        updates = self.chain.updates(self.task_id, index)
        loss, accuracy = reported_metrics([updates[t] for t in included if t in updates])
        self.emit("uploading", f"{len(payload)} bytes to IPFS", round=index)
        ref = self.store.add_bytes(payload).ref
        if screened is not None:
            save_sketches(self.journal.directory, index, screened)
        self.journal.update_round(
            index,
            status="uploaded",
            base=current.base.digest_hex,
            weights=ref.to_json(),
            included=included,
            rejected=[[r.trainer, r.reason] for r in rejected],
            loss=loss,
            accuracy=accuracy,
        )
        return AggregateClaim(index, ref, tuple(included), loss, accuracy)

    def _aggregate(self, task: TaskView, current: RoundView, record: dict[str, Any]) -> None:
        index = current.index
        claim = self._prepare(task, current, record)
        if claim is None or self.stopped():
            return
        fresh = self.chain.round(self.task_id)
        if fresh is None or fresh.index != index or fresh.aggregate is not None:
            return
        self.emit(
            "submitting",
            f"aggregate {claim.weights.cid} of {len(claim.included)} updates",
            round=index,
        )
        try:
            receipt = self.chain.submit_aggregate(self.task_id, claim)
        except ExtrinsicFailed as exc:
            self._aggregate_refused(index, exc)
            return
        self._submitted(claim, receipt)

    def _finalize_then_submit(self, pending: RoundView, claim: AggregateClaim) -> None:
        """Finalize ``pending`` and submit the open round's aggregate in the same block."""
        index = claim.round
        self.emit(
            "submitting",
            f"aggregate {claim.weights.cid} of {len(claim.included)} updates, in the block "
            f"that finalizes round {pending.index}",
            round=index,
        )
        finalized, submitted = self.chain.finalize_then_submit(self.task_id, pending.index, claim)
        if isinstance(finalized, ExtrinsicFailed):
            self._finalize_refused(finalized)
        else:
            self._finalized(pending.index, finalized)
        if isinstance(submitted, ExtrinsicFailed):
            self._aggregate_refused(index, submitted)
        else:
            self._submitted(claim, submitted)

    def _aggregate_refused(self, index: int, exc: ExtrinsicFailed) -> None:
        if exc.error == "PreviousRoundPending":
            return  # the previous round is not finalized yet: submitted on a later block
        if exc.error in ("RoundNotOpen", "AggregationPeriodOver", "WrongRound"):
            self.emit("rejected", f"aggregate not accepted: {exc.error}", round=index)
            self.journal.update_round(index, status="missed")
            return
        raise exc

    def _submitted(self, claim: AggregateClaim, receipt: Receipt) -> None:
        index = claim.round
        self.journal.update_round(index, status="submitted", block=receipt.block_number)
        self.emit(
            "aggregated",
            f"aggregate {claim.weights.cid} in block {receipt.block_number}",
            round=index,
            loss=claim.loss,
            accuracy=claim.accuracy,
            samples=sum(
                u.samples
                for t, u in self.chain.updates(self.task_id, index).items()
                if t in claim.included and u.round == index
            ),
        )

    def _combine(self, task: TaskView, index: int, base: Weights) -> Combined | None:
        """Check, screen and combine the round's updates with the task's rule."""
        participants = self.chain.participants(self.task_id)
        checked: list[Checked] = []
        rejected: list[Rejected] = []
        for update in order_updates(self.chain.updates(self.task_id, index), index):
            if update.round == index and not self.prefetch.ensure(
                update.content.cid, round_index=index
            ):
                reason = self.prefetch.unavailable_reason(update.content.cid)
                rejected.append(Rejected(update.trainer, reason, kind="unavailable"))
                self.emit("rejected", f"{update.trainer}: {reason}", round=index)
                continue
            result = check_update(
                self.store,
                self.learning,
                base,
                update,
                index,
                participants,
                task_id=self.task_id,
            )
            if isinstance(result, Rejected):
                rejected.append(result)
                self.emit("rejected", f"{result.trainer}: {result.reason}", round=index)
            else:
                checked.append(result)
        screened = screen_free_riders(checked, load_sketches(self.journal.directory, index - 1))
        for flagged in screened.flagged:
            rejected.append(flagged)
            self.emit("rejected", f"{flagged.trainer}: {flagged.reason}", round=index)
        checked = screened.kept
        if not checked:
            self.journal.update_round(
                index,
                status="no-valid-update",
                rejected=[[r.trainer, r.reason] for r in rejected],
            )
            self.emit("error", "no valid update to aggregate", round=index)
            return None
        rule = rule_text(task.aggregation)
        self.emit("aggregating", f"{len(checked)} updates with {rule}", round=index)
        if self.pause_after_fetch > 0:
            log.warning("fault injection: pausing %.1f s after fetching", self.pause_after_fetch)
            time.sleep(self.pause_after_fetch)
        weights, payload = self.combine_round(task, rule, base, checked, index)
        if self.tamper:
            payload = self.learning.encode(tamper_weights(weights))
            log.warning("fault injection: publishing a tampered aggregate")
        return payload, [c.update.trainer for c in checked], rejected, screened

    def _secure_combine(self, task: TaskView, index: int, base: Weights) -> Combined | None:
        """Unmask the round's sum once enough share documents are on chain (None: wait)."""
        try:
            result = secure.unmask_round(self, task, index, base)
        except SecAggError as exc:
            self.emit("waiting", f"unmasking: {exc}", round=index, once=True)
            return None
        for r in result.rejected:
            self.emit("rejected", f"{r.trainer}: {r.reason}", round=index)
        self.emit("aggregating", f"unmasked the sum of {len(result.included)} updates", round=index)
        payload = result.payload
        if self.tamper:
            payload = self.learning.encode(tamper_weights(result.weights))
            log.warning("fault injection: publishing a tampered aggregate")
        return payload, result.included, result.rejected, None

    def _finalize(self, task: TaskView, current: RoundView) -> None:
        try:
            receipt = self.chain.finalize(self.task_id, current.index)
        except ExtrinsicFailed as exc:
            self._finalize_refused(exc)
            return
        self._finalized(current.index, receipt)

    @staticmethod
    def _finalize_refused(exc: ExtrinsicFailed) -> None:
        if exc.error not in BENIGN_FINALIZE:
            raise exc

    def _finalized(self, index: int, receipt: Receipt) -> None:
        outcome = next(
            (
                str(e.attributes.get("outcome", e.attributes.get("status", "")))
                for e in receipt.events
                if e.name == "RoundFinalized"
            ),
            "",
        )
        self.journal.update_round(index, finalized=True, outcome=outcome)
        self.prefetch.release(index)
        self.emit(
            "finalized",
            f"round {index} finalized {outcome} in block {receipt.block_number}".strip(),
            round=index,
        )
        if (
            self.options.max_rounds is not None
            and self.finalized_rounds() >= self.options.max_rounds
        ):
            raise RoleFinished(f"{self.finalized_rounds()} rounds finalized")
