"""A DP-SGD trainer's privacy budget: what it spent over a task, and whether a round still fits.

The ledger is the trainer's journal (``dp_spent``: one :class:`~decentralml.core.fl.accounting.
Spend` per round it trained, recorded *before* training, so a crash can only over-count). The
epsilon of all of them composed (RDP accountant, at the task's ``delta``) is checked against the
task's ``max_epsilon`` before every round: a round that would pass it is refused. The journal is
the only record of what this trainer released; losing the state directory loses the count, so
docs/federated-learning.md asks operators to keep it with the keystore.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import TrainingError
from .chainview import TaskView
from .state import Journal

LEDGER = "dp_spent"


@dataclass
class Budget:
    """The DP-SGD ledger of one trainer in one task."""

    journal: Journal
    dp: Any  # DPSGDConfig
    local_epochs: int
    max_epsilon: float | None
    delta: float

    @classmethod
    def of(cls, journal: Journal, task: TaskView, spec: Any) -> Budget | None:
        """The budget for a task whose plan trains with DP-SGD; None without DP-SGD. A task
        that promises DP-SGD on a model whose plan has none is an error a person must fix."""
        plan: Any = getattr(spec, "plan", None)
        dp = getattr(plan, "dp_sgd", None)
        promised = task.privacy.mode == "dp-sgd"
        if dp is None:
            if promised:
                raise TrainingError(
                    f"task {task.id} promises DP-SGD but its model's training plan has no "
                    "dp_sgd section: the trainer will not train without it (register a "
                    "model version whose plan sets dp_sgd)"
                )
            return None
        max_epsilon = task.privacy.max_epsilon if promised else None
        delta = task.privacy.delta if promised and task.privacy.delta else 1e-5
        return cls(journal, dp, int(plan.local_epochs), max_epsilon, float(delta))

    def spends(self) -> list[Any]:
        from ..fl.accounting import Spend

        return [Spend.from_json(raw) for raw in self.journal.meta(LEDGER) or []]

    def epsilon(self, *, with_round: int | None = None) -> float:
        """Epsilon spent so far, or after also training ``with_round`` (counted once)."""
        from ..fl.accounting import Spend, dpsgd_epsilon

        spends = self.spends()
        if with_round is not None and all(s.round != with_round for s in spends):
            spends.append(Spend.of(with_round, self.dp, self.local_epochs))
        return dpsgd_epsilon(spends, self.delta)

    def allows(self, round_index: int) -> tuple[bool, float]:
        """``(fits, epsilon after the round)``."""
        after = self.epsilon(with_round=round_index)
        return (self.max_epsilon is None or after <= self.max_epsilon), after

    def record(self, round_index: int) -> None:
        from ..fl.accounting import Spend

        spends = self.spends()
        if any(s.round == round_index for s in spends):
            return
        spends.append(Spend.of(round_index, self.dp, self.local_epochs))
        self.journal.set_meta(LEDGER, [s.to_json() for s in spends])

    def describe(self, epsilon: float) -> str:
        limit = "" if self.max_epsilon is None else f" of {self.max_epsilon:g}"
        return f"DP-SGD epsilon {epsilon:.2f}{limit} at delta {self.delta:g}"
