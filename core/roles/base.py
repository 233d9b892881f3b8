"""The follow loop every role shares.

A role is a state machine driven by the chain: on each new best block it reads the task and
its round and does at most one step (join, train, submit, aggregate, verify, finalize). It
never trusts its own memory over the chain: a step that races with another account (a round
started by someone else, an update already on chain after a restart) is re-read on the next
block. Connection loss (node or IPFS restart) is reported as ``waiting`` and retried with
backoff; only errors a person must fix (bad dataset, bad key, unknown task) end the role.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import (
    ChainError,
    ConfigError,
    DecentralMLError,
    ExtrinsicFailed,
    InputError,
    KeystoreError,
    StorageError,
    TrainingError,
    UnknownCall,
)
from ..storage.kubo import ContentStore
from .chainview import ChainPort, ModelFiles, TaskView
from .events import EventLog, ProgressEvent
from .learning import Learning
from .replicas import KEEP_ROUNDS
from .state import Journal

log = logging.getLogger(__name__)

FATAL: tuple[type[DecentralMLError], ...] = (
    ConfigError,
    InputError,
    KeystoreError,
    TrainingError,
    UnknownCall,
)
"""Errors that retrying cannot fix: the role stops and says why."""


class RoleFinished(Exception):
    """Raised inside a step to end the role (task over, rounds done)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RoleFailed(DecentralMLError):
    """The role stopped on an error a person has to fix."""


STOPPING: tuple[type[DecentralMLError], ...] = (*FATAL, RoleFailed)


@dataclass
class RoleOptions:
    task: int
    poll_s: float = 1.0
    max_rounds: int | None = None
    """Stop after this many rounds done (trainer: submitted; aggregator: finalized; verifier:
    verified). None: until the task ends."""
    max_backoff_s: float = 15.0
    keep_pins: int | None = KEEP_ROUNDS
    """Finalized rounds whose updates the aggregator and verifiers keep pinned (at least 2);
    None keeps every update pinned (an archive for audits)."""
    extra: dict[str, Any] = field(default_factory=dict)


class Role:
    """Base of :class:`Trainer`, :class:`Aggregator` and :class:`Verifier`."""

    name = "role"

    def __init__(
        self,
        chain: ChainPort,
        store: ContentStore,
        learning: Learning,
        journal: Journal,
        events: EventLog,
        options: RoleOptions,
        *,
        stop: threading.Event | None = None,
    ) -> None:
        self.chain = chain
        self.store = store
        self.learning = learning
        self.journal = journal
        self.events = events
        self.options = options
        self.task_id = options.task
        self.stop_event = stop or threading.Event()
        self._last_emitted: tuple[Any, ...] | None = None
        self._spec: Any = None
        self._spec_model: int | None = None
        self.failure: str | None = None
        """Why the role stopped, after a fatal error."""

    # ---- events ------------------------------------------------------------------------------
    def emit(
        self,
        phase: str,
        message: str = "",
        *,
        round: int | None = None,
        loss: float | None = None,
        accuracy: float | None = None,
        samples: int | None = None,
        epsilon: float | None = None,
        once: bool = False,
    ) -> None:
        """Report progress. ``once``: skip if it repeats the previous event (waiting loops)."""
        key = (phase, round, message)
        if once and key == self._last_emitted:
            return
        self._last_emitted = key
        event = ProgressEvent(
            role=self.name,
            account=self.chain.address,
            task=self.task_id,
            round=round,
            phase=phase,
            message=message,
            loss=loss,
            accuracy=accuracy,
            samples=samples,
            epsilon=epsilon,
        )
        if phase in ("error", "rejected"):
            log.warning("%s %s: %s", self.name, phase, message)
        else:
            log.info("%s %s round=%s %s", self.name, phase, round, message)
        self.events.emit(event)

    # ---- shared helpers ------------------------------------------------------------------------
    def require_task(self) -> TaskView:
        task = self.chain.task(self.task_id)
        if task is None:
            raise RoleFailed(
                f"task {self.task_id} does not exist on this chain: check --task and the node URL"
            )
        if not task.live:
            raise RoleFinished(f"task {self.task_id} is {task.status}")
        return task

    def spec(self, task: TaskView) -> Any:
        """The model's spec (its architecture file from IPFS, verified), cached."""
        if self._spec is None or self._spec_model != task.model:
            files = self.model_files(task)
            self._spec = self.learning.load_spec(self.store.cat(files.architecture))
            self._spec_model = task.model
        return self._spec

    def combine_round(
        self, task: TaskView, rule: str, base: Any, checked: Any, round_index: int
    ) -> tuple[Any, bytes]:
        """The aggregate of ``checked`` for ``round_index`` and its bytes, exactly as every
        aggregator and verifier computes it (with the previous base for server momentum)."""
        from .combine import combine, previous_base

        spec = self.spec(task)
        previous = previous_base(self.store, self.learning, spec, task, round_index, base)
        return combine(
            self.learning,
            spec,
            rule,
            base,
            checked,
            task=self.task_id,
            round_index=round_index,
            previous=previous,
        )

    def model_files(self, task: TaskView) -> ModelFiles:
        files = self.chain.model_files(task.model)
        if files is None:
            raise RoleFailed(f"model {task.model} of task {self.task_id} does not exist")
        return files

    def stopped(self) -> bool:
        return self.stop_event.is_set()

    # ---- the loop ------------------------------------------------------------------------------
    def start(self) -> None:
        """Called once before the loop (load data, check the spec)."""

    def step(self, block: int) -> None:
        """One look at the chain at best block ``block``; raise RoleFinished to end."""
        raise NotImplementedError

    def run(self) -> int:
        """Follow the chain until the task ends, ``max_rounds`` are done, or stop is set.

        Returns 0 when finished or stopped, 1 after a fatal error (reported as an event).
        """
        backoff = self.options.poll_s
        last_block = -1
        try:
            self.start()
            while not self.stopped():
                try:
                    block = self.chain.best_block()
                    if block != last_block:
                        self.step(block)
                        last_block = block
                    backoff = self.options.poll_s
                except RoleFinished:
                    raise
                except ExtrinsicFailed as exc:
                    # A race with another account or a deadline: the next block's state decides.
                    self.emit("waiting", f"{exc.pallet}.{exc.error}; re-reading the chain")
                except (ChainError, StorageError) as exc:
                    if isinstance(exc, FATAL):
                        raise
                    self.emit("waiting", f"retrying after: {exc}", once=True)
                    backoff = min(backoff * 2, self.options.max_backoff_s)
                    last_block = -1
                self.stop_event.wait(backoff)
        except RoleFinished as done:
            self.emit("done", done.message)
            return 0
        except STOPPING as exc:
            self.failure = str(exc)
            self.emit("error", self.failure)
            return 1
        finally:
            self.learning.shutdown()
        self.emit("stopped", "stopped on request")
        return 0

    def wait_s(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopped() and time.monotonic() < deadline:
            self.stop_event.wait(min(0.2, deadline - time.monotonic()))
