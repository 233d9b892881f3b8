"""The trainer: join a task, and in every round it is due in fetch and verify the base weights,
train on local data, commit to the update before the deadline, then reveal it.

Commit-reveal: the trained update is written to the role's state directory and only its hash
(with the trainer, the round and a random salt) goes on chain before the deadline; its bytes
reach IPFS only in the reveal window, so no one can fetch a rival's update and submit a copy.
Resume: the journal records the update, its CID and the salt before the commitment is sent,
and the chain's ``Commitments`` and ``Updates`` are checked on every block, so a restarted
trainer neither commits twice, nor trains again, nor loses a commitment it can still reveal.
"""

from __future__ import annotations

import contextlib
import logging
import math
from pathlib import Path
from typing import Any

from ..chain.commitment import new_salt
from ..errors import ExtrinsicFailed, TrainingError
from ..storage.cid import compute_cid
from ..types import ContentRef
from . import replicas, secure
from .base import Role, RoleFailed, RoleFinished
from .budget import Budget
from .chainview import RoundView, TaskView, content_ref
from .learning import training_seed
from .state import write_atomic

log = logging.getLogger(__name__)


class Trainer(Role):
    name = "trainer"

    def __init__(
        self,
        *args: Any,
        data: Path,
        jurisdiction: str | None = None,
        exit_after_reveal: int | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(*args, **kw)
        self.data_path = data
        self.jurisdiction = jurisdiction
        self.exit_after_reveal = exit_after_reveal
        """Fault injection (tests): stop right after revealing this round."""
        self.dataset: Any = None
        self._prepared = False
        self._secure = False
        self._keys_checked = False

    def done_rounds(self) -> int:
        """Rounds submitted (under secure aggregation: and their shares published, so that
        stopping after ``max_rounds`` never leaves a round short of shares)."""
        return sum(
            1
            for r in self.journal.rounds().values()
            if r.get("status") == "submitted"
            and (r.get("shares") or not self._secure)
            and (r.get("held_by") or "sent_before" not in r)
        )

    # ---- start: data and spec are checked before anything is staked --------------------------
    def start(self) -> None:
        task = self.require_task()
        spec = self.spec(task)
        self._secure = secure.is_secure(task)
        Budget.of(self.journal, task, spec)  # a DP-SGD task needs a DP-SGD plan
        self.emit("joining", f"loading {self.data_path}")
        try:
            self.dataset = self.learning.load_dataset(self.data_path, spec)
        except TrainingError as exc:
            self.emit("rejected", f"dataset {self.data_path} rejected: {exc}")
            raise
        self.emit("joining", f"{self.learning.dataset_size(self.dataset)} examples; loading TFF")
        self.learning.prepare(spec)
        self._prepared = True

    def _ensure_joined(self, task: TaskView) -> None:
        if self.chain.address in self.chain.participants(self.task_id):
            if not self.journal.meta("joined"):
                self.journal.set_meta("joined", True)
            if secure.is_secure(task) and not self._keys_checked:
                self._keys_checked = secure.ensure_keys(self, task)
            return
        if self.journal.meta("joined"):
            # We were a participant and are not any more (left, or the task ended).
            raise RoleFinished(f"no longer a participant of task {self.task_id}")
        if not self.chain.has_profile():
            code = self.jurisdiction or self.learning.dataset_jurisdiction(self.dataset)
            if not code:
                raise RoleFailed(
                    "no trainer profile: pass --jurisdiction CC or run `decentralml profile set CC`"
                )
            self.emit("joining", f"setting trainer profile {code}")
            self.chain.set_profile(code)
        self.emit("joining", f"joining task {self.task_id} (stake escrowed)")
        try:
            self.chain.task_call("join_task", self.task_id)
        except ExtrinsicFailed as exc:
            if exc.error == "AlreadyJoined":
                pass
            elif exc.error in ("TaskFull", "TaskNotLive"):
                raise RoleFinished(f"cannot join task {self.task_id}: {exc.error}") from None
            elif exc.error.startswith("Jurisdiction") or exc.error.startswith("Insufficient"):
                raise RoleFailed(f"cannot join task {self.task_id}: {exc}") from None
            else:
                raise
        self.journal.set_meta("joined", True)
        self.emit("waiting", f"joined task {self.task_id}")

    # ---- one block -------------------------------------------------------------------------------
    def step(self, block: int) -> None:
        task = self.require_task()
        current = self.chain.round(self.task_id)
        self._follow_replicas(current)
        self._stop_if_done()
        self._ensure_joined(task)
        if current is None or current.status != "Open":
            state = "no round running" if current is None else f"round {current.status}"
            self.emit("waiting", state, round=None if current is None else current.index, once=True)
            return
        index = current.index
        record = self.journal.round(index)
        if secure.is_secure(task) and current.reveals_done(block + 1):
            # Every member online publishes its shares, whether or not it submitted.
            if not record.get("shares") and secure.publish_shares(self, task, index, current.base):
                self.journal.update_round(index, shares=True)
                self._stop_if_done()
            return
        if record.get("status") in ("submitted", "missed", "refused"):
            self.emit("waiting", f"round {index}: {record['status']}", round=index, once=True)
            return
        me = self.chain.participants(self.task_id).get(self.chain.address)
        if me is None:
            return
        if me.first_round > index:
            self.emit("waiting", f"due from round {me.first_round}", round=index, once=True)
            return
        mine = self.chain.updates(self.task_id, index).get(self.chain.address)
        if mine is not None and mine.round == index:
            self.journal.update_round(index, status="submitted", update=mine.content.to_json())
            self.emit("submitted", "update already on chain", round=index, samples=mine.samples)
            return
        if self.chain.commitments(self.task_id, index).get(self.chain.address) == index:
            self._reveal(task, current, block, self.journal.round(index))
            return
        if block + 1 > current.deadline:
            self.journal.update_round(index, status="missed")
            self.emit("rejected", f"deadline {current.deadline} passed", round=index)
            return
        if secure.is_secure(task):
            members = self.chain.round_members(self.task_id, index) or []
            if self.chain.address not in members:
                self.journal.update_round(index, status="missed", reason="not a member")
                self.emit(
                    "rejected",
                    f"not a member of round {index}: its keys were not on chain when it opened",
                    round=index,
                )
                return
        self._train_and_commit(task, current, record)

    def _update_path(self, index: int) -> Path:
        return self.journal.directory / f"update-r{index}.npz"

    def _train_and_commit(self, task: TaskView, current: RoundView, record: dict[str, Any]) -> None:
        """Train, keep the update's bytes private in the state directory, commit to its hash."""
        index = current.index
        spec = self.spec(task)
        base_digest = current.base.digest_hex
        path = self._update_path(index)
        if record.get("update") and record.get("base") == base_digest and path.is_file():
            ref = content_ref(record["update"])
            samples = int(record["samples"])
            self.emit("committing", f"resuming with the trained update {ref.cid}", round=index)
        else:
            budget = Budget.of(self.journal, task, spec)
            epsilon = None
            if budget is not None:
                fits, epsilon = budget.allows(index)
                if not fits:
                    self._refuse(index, budget, epsilon)
                budget.record(index)  # before training: a crash can only over-count
            self.emit("fetching", f"base weights {current.base.cid}", round=index)
            base = self.learning.decode(self.store.cat(current.base))
            what = "" if budget is None or epsilon is None else f" ({budget.describe(epsilon)})"
            self.emit("training", f"training on {self.data_path.name}{what}", round=index)
            trained = self.learning.train(
                spec,
                base,
                self.dataset,
                seed=training_seed(self.task_id, index, self.chain.address),
            )
            samples, loss, accuracy = trained.samples, trained.loss, trained.accuracy
            if not (math.isfinite(loss) and math.isfinite(accuracy)):
                self.journal.update_round(index, status="missed", reason="training diverged")
                self.emit("rejected", "local training diverged (NaN/Inf loss)", round=index)
                return
            self.emit(
                "training",
                "local training done",
                round=index,
                loss=loss,
                accuracy=accuracy,
                samples=samples,
                epsilon=epsilon,
            )
            if secure.is_secure(task):
                try:
                    payload = secure.masked_payload(self, task, index, base, trained.delta, samples)
                except TrainingError as exc:
                    self.journal.update_round(index, status="missed", reason=str(exc))
                    self.emit("rejected", f"cannot mask the update: {exc}", round=index)
                    return
            else:
                from ..fl.weights import UpdateOrigin

                origin = UpdateOrigin(self.task_id, index, self.chain.address)
                payload = self.learning.encode(trained.delta, origin)
            # The bytes stay on this host until the reveal: only their CID and digest are
            # computed now (the same CID Kubo gives them), so no one can fetch and copy them.
            cid, digest, size = compute_cid([payload])
            ref = ContentRef(cid=cid, digest=digest, size=size)
            write_atomic(path, payload)
            self.journal.update_round(
                index,
                status="trained",
                base=base_digest,
                update=ref.to_json(),
                samples=samples,
                loss=loss,
                accuracy=accuracy,
                salt=new_salt().hex(),
            )
        record = self.journal.round(index)
        if self.stopped():
            return
        commitment = self.chain.commitment(
            self.task_id, index, ref, samples, bytes.fromhex(record["salt"])
        )
        self.emit("committing", f"commitment to {ref.cid}", round=index, samples=samples)
        self.journal.update_round(index, status="committing")
        try:
            receipt = self.chain.commit_update(self.task_id, index, commitment)
        except ExtrinsicFailed as exc:
            if exc.error == "AlreadyCommitted":
                # Our own earlier commit landed (we crashed before recording it): the journal
                # holds its salt, so the reveal goes ahead as usual.
                self.journal.update_round(index, status="committed")
                return
            if exc.error in ("DeadlinePassed", "RoundNotOpen", "WrongRound"):
                self.journal.update_round(index, status="missed")
                self.emit("rejected", f"commitment not accepted: {exc.error}", round=index)
                return
            raise
        self.journal.update_round(
            index, status="committed", block=receipt.block_number, extrinsic=receipt.extrinsic_hash
        )
        self.emit(
            "committed",
            f"commitment in block {receipt.block_number}; reveal after #{current.deadline}",
            round=index,
            samples=samples,
        )

    def _reveal(
        self, task: TaskView, current: RoundView, block: int, record: dict[str, Any]
    ) -> None:
        """Publish the committed update's bytes and open the commitment, in the reveal window."""
        index = current.index
        path = self._update_path(index)
        if not record.get("salt") or not record.get("update") or not path.is_file():
            self.journal.update_round(index, status="missed", reason="commitment state lost")
            self.emit(
                "rejected",
                f"committed to round {index} but {self.journal.directory} no longer holds the "
                "update or its salt: it cannot be revealed (counts as a missed round)",
                round=index,
            )
            return
        if not current.reveals_open(block + 1):
            if block + 1 > current.reveal_end:
                self.journal.update_round(index, status="missed", reason="reveal window closed")
                self.emit("rejected", f"reveal window ended at #{current.reveal_end}", round=index)
            else:
                self.emit(
                    "committed",
                    f"waiting for the reveal window (after #{current.deadline})",
                    round=index,
                    once=True,
                )
            return
        ref = content_ref(record["update"])
        payload = path.read_bytes()
        self.emit("uploading", f"{len(payload)} bytes to IPFS", round=index)
        stored = self.store.add_bytes(payload).ref
        if stored != ref:
            self.journal.update_round(index, status="missed", reason="update file changed")
            self.emit(
                "rejected",
                f"{path} no longer matches the committed update {ref.cid} (got {stored.cid})",
                round=index,
            )
            return
        samples = int(record["samples"])
        loss = float(record["loss"])
        accuracy = float(record["accuracy"])
        self.emit("submitting", f"revealing update {ref.cid}", round=index, samples=samples)
        # Nobody can ask for the content before the reveal names it: what peers are sent
        # from now on is this update.
        sent_before = replicas.sent_snapshot(self.store)
        try:
            receipt = self.chain.reveal_update(
                self.task_id,
                index,
                ref,
                samples,
                max(loss, 0.0),
                min(max(accuracy, 0.0), 1.0),
                bytes.fromhex(record["salt"]),
            )
        except ExtrinsicFailed as exc:
            if exc.error == "AlreadyRevealed":
                self.journal.update_round(index, status="submitted")
                return
            if exc.error in ("RevealPeriodOver", "RoundNotOpen", "WrongRound"):
                self.journal.update_round(index, status="missed")
                self.emit("rejected", f"reveal not accepted: {exc.error}", round=index)
                return
            if exc.error == "RevealNotOpen":
                return  # a block early: the next block retries
            raise
        self.journal.update_round(
            index, status="submitted", block=receipt.block_number, extrinsic=receipt.extrinsic_hash
        )
        if sent_before is not None:
            self.journal.update_round(index, sent_before=sent_before)
        with contextlib.suppress(OSError):
            path.unlink()
        self.emit(
            "submitted",
            f"update {ref.cid} revealed in block {receipt.block_number}",
            round=index,
            loss=loss,
            accuracy=accuracy,
            samples=samples,
        )
        if self.exit_after_reveal is not None and index >= self.exit_after_reveal:
            log.warning("fault injection: stopping right after revealing round %d", index)
            raise RoleFinished(f"fault injection: stopped after revealing round {index}")
        self._leave_if_spent(task, index)
        self._stop_if_done()

    def _follow_replicas(self, current: RoundView | None) -> None:
        """Report each revealed update once another IPFS peer holds all of it; until then the
        round does not count as done (see :mod:`.replicas`). Once the round has moved on
        (aggregated, or over) the aggregate decides, and following stops."""
        for index, record in self.journal.rounds().items():
            if record.get("status") != "submitted" or record.get("held_by"):
                continue
            if "sent_before" not in record:
                continue
            ref = content_ref(record["update"])
            peer = replicas.held_by(self.store, ref.size, record["sent_before"])
            if peer is not None:
                self.journal.update_round(index, held_by=peer)
                self.emit("replicated", f"update {ref.cid} held by peer {peer}", round=index)
            elif current is None or current.index != index or current.aggregate is not None:
                self.journal.update_round(index, held_by="unconfirmed")
                self.emit(
                    "waiting",
                    f"round {index} moved on before a peer was seen holding update {ref.cid}",
                    round=index,
                )
            else:
                what = f"update {ref.cid}: no other peer holds it yet"
                self.emit("waiting", what, round=index, once=True)

    def _stop_if_done(self) -> None:
        """End the role once ``max_rounds`` rounds are done."""
        if self.options.max_rounds is not None and self.done_rounds() >= self.options.max_rounds:
            raise RoleFinished(f"{self.done_rounds()} rounds submitted")

    # ---- the DP-SGD budget -------------------------------------------------------------------
    def _refuse(self, index: int, budget: Budget, epsilon: float) -> None:
        """Refuse a round that would pass the budget, leave the task, and stop."""
        self.journal.update_round(index, status="refused", epsilon=epsilon)
        spent = budget.epsilon()
        self.emit(
            "rejected",
            f"round {index} would take {budget.describe(epsilon)} past the task's budget: "
            "refusing it and leaving the task",
            round=index,
            epsilon=spent,
        )
        self._leave()
        raise RoleFinished(f"privacy budget spent ({budget.describe(spent)})")

    def _leave_if_spent(self, task: TaskView, index: int) -> None:
        """After a round, leave at once if the next would not fit the budget, so the trainer
        is released before it is due in a round it must refuse."""
        budget = Budget.of(self.journal, task, self.spec(task))
        if budget is None or budget.allows(index + 1)[0]:
            return
        spent = budget.epsilon()
        self.emit(
            "waiting",
            f"the next round would pass the task's budget ({budget.describe(spent)}):"
            " leaving the task",
            round=index,
            epsilon=spent,
        )
        self._leave()

    def _leave(self) -> None:
        if self.journal.meta("leaving"):
            return
        try:
            self.chain.task_call("leave_task", self.task_id)
        except ExtrinsicFailed as exc:
            if exc.error not in ("AlreadyLeaving", "NotParticipant", "TaskNotLive"):
                raise
        self.journal.set_meta("leaving", True)
