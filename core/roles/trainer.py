"""The trainer: join a task, and in every round it is due in fetch and verify the base weights,
train on local data, upload the update and submit it before the deadline.

Resume: the journal records the uploaded update of a round before it is submitted, and the
chain's ``Updates`` entry is checked before every submission, so a restarted trainer neither
submits twice nor trains again a round it already uploaded.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from ..errors import ExtrinsicFailed, TrainingError
from .base import Role, RoleFailed, RoleFinished
from .chainview import RoundView, TaskView
from .learning import training_seed

log = logging.getLogger(__name__)


class Trainer(Role):
    name = "trainer"

    def __init__(self, *args: Any, data: Path, jurisdiction: str | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.data_path = data
        self.jurisdiction = jurisdiction
        self.dataset: Any = None
        self._prepared = False

    def done_rounds(self) -> int:
        return sum(1 for r in self.journal.rounds().values() if r.get("status") == "submitted")

    # ---- start: data and spec are checked before anything is staked --------------------------
    def start(self) -> None:
        task = self.require_task()
        spec = self.spec(task)
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
        if self.options.max_rounds is not None and self.done_rounds() >= self.options.max_rounds:
            raise RoleFinished(f"{self.done_rounds()} rounds submitted")
        self._ensure_joined(task)
        current = self.chain.round(self.task_id)
        if current is None or current.status != "Open":
            state = "no round running" if current is None else f"round {current.status}"
            self.emit("waiting", state, round=None if current is None else current.index, once=True)
            return
        index = current.index
        record = self.journal.round(index)
        if record.get("status") in ("submitted", "missed"):
            self.emit("waiting", f"round {index}: {record['status']}", round=index, once=True)
            return
        me = self.chain.participants(self.task_id).get(self.chain.address)
        if me is None:
            return
        if me.first_round > index:
            self.emit("waiting", f"due from round {me.first_round}", round=index, once=True)
            return
        mine = self.chain.updates(self.task_id).get(self.chain.address)
        if mine is not None and mine.round == index:
            self.journal.update_round(index, status="submitted", update=mine.content.to_json())
            self.emit("submitted", "update already on chain", round=index, samples=mine.samples)
            return
        if block + 1 > current.deadline:
            self.journal.update_round(index, status="missed")
            self.emit("rejected", f"deadline {current.deadline} passed", round=index)
            return
        self._train_and_submit(task, current, record)

    def _train_and_submit(self, task: TaskView, current: RoundView, record: dict[str, Any]) -> None:
        index = current.index
        spec = self.spec(task)
        base_digest = current.base.digest_hex
        if record.get("update") and record.get("base") == base_digest:
            from .chainview import content_ref

            ref = content_ref(record["update"])
            samples = int(record["samples"])
            loss = float(record["loss"])
            accuracy = float(record["accuracy"])
            self.emit("uploading", f"resuming with the uploaded update {ref.cid}", round=index)
        else:
            self.emit("fetching", f"base weights {current.base.cid}", round=index)
            base = self.learning.decode(self.store.cat(current.base))
            self.emit("training", f"training on {self.data_path.name}", round=index)
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
            )
            payload = self.learning.encode(trained.delta)
            self.emit("uploading", f"{len(payload)} bytes to IPFS", round=index)
            ref = self.store.add_bytes(payload).ref
            self.journal.update_round(
                index,
                status="uploaded",
                base=base_digest,
                update=ref.to_json(),
                samples=samples,
                loss=loss,
                accuracy=accuracy,
            )
        if self.stopped():
            return
        # The chain is the source of truth: check again right before sending.
        mine = self.chain.updates(self.task_id).get(self.chain.address)
        if mine is not None and mine.round == index:
            self.journal.update_round(index, status="submitted")
            return
        self.emit("submitting", f"update {ref.cid}", round=index, samples=samples)
        self.journal.update_round(index, status="submitting")
        try:
            receipt = self.chain.submit_update(
                self.task_id, index, ref, samples, max(loss, 0.0), min(max(accuracy, 0.0), 1.0)
            )
        except ExtrinsicFailed as exc:
            if exc.error == "AlreadySubmitted":
                self.journal.update_round(index, status="submitted")
                return
            if exc.error in ("DeadlinePassed", "RoundNotOpen", "WrongRound"):
                self.journal.update_round(index, status="missed")
                self.emit("rejected", f"update not accepted: {exc.error}", round=index)
                return
            raise
        self.journal.update_round(
            index, status="submitted", block=receipt.block_number, extrinsic=receipt.extrinsic_hash
        )
        self.emit(
            "submitted",
            f"update {ref.cid} in block {receipt.block_number}",
            round=index,
            loss=loss,
            accuracy=accuracy,
            samples=samples,
        )
        if self.options.max_rounds is not None and self.done_rounds() >= self.options.max_rounds:
            raise RoleFinished(f"{self.done_rounds()} rounds submitted")
