"""Privacy accounting with ``dp_accounting`` (the library TFF and TensorFlow Privacy use).

- DP-SGD (``plan.dp_sgd``): each round a trainer trains is ``steps`` compositions of a
  Poisson-subsampled Gaussian mechanism (sampling rate ``q``, noise multiplier ``sigma``), the
  mechanism ``dpsgd.py`` runs. :func:`dpsgd_epsilon` composes every round a trainer spent, with
  the RDP accountant, and converts to epsilon at the task's delta. RDP is an upper bound (the
  PLD accountant gives about 10 % less for the demo plan, at 10x the time); a trainer checks its
  budget before every round, so the bound it enforces is the conservative one.
- DP-FedAvg (``plan.dp``): ``aggregate.py`` reports the epsilon of its rounds (``rounds``
  compositions of the Gaussian mechanism on the clipped sum).

:class:`Spend` is one round's record in a trainer's ledger (its role journal): what it trained
with, so the epsilon can be recomputed from the record alone and a plan change between rounds
is accounted correctly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from ..errors import InputError
from .spec import DPSGDConfig


@dataclass(frozen=True)
class Spend:
    """One round of DP-SGD local work: ``steps`` Poisson-subsampled Gaussian steps."""

    round: int
    sampling_rate: float
    noise_multiplier: float
    steps: int

    @classmethod
    def of(cls, round_index: int, dp: DPSGDConfig, local_epochs: int) -> Spend:
        return cls(round_index, dp.sampling_rate, dp.noise_multiplier, dp.steps(local_epochs))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Any) -> Spend:
        try:
            spend = cls(
                int(raw["round"]),
                float(raw["sampling_rate"]),
                float(raw["noise_multiplier"]),
                int(raw["steps"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"malformed privacy ledger entry {raw!r}: {exc}") from None
        if not (0 < spend.sampling_rate <= 1 and spend.noise_multiplier > 0 and spend.steps > 0):
            raise InputError(f"privacy ledger entry out of range: {raw!r}")
        return spend


def dpsgd_epsilon(spends: Iterable[Spend], delta: float) -> float:
    """Epsilon at ``delta`` of all ``spends`` composed (0 for none), RDP accountant."""
    import dp_accounting  # type: ignore[import-untyped]
    from dp_accounting.rdp import rdp_privacy_accountant  # type: ignore[import-untyped]

    steps: dict[tuple[float, float], int] = {}  # rounds of one plan compose as one event
    for s in spends:
        key = (s.sampling_rate, s.noise_multiplier)
        steps[key] = steps.get(key, 0) + s.steps
    events = [
        dp_accounting.SelfComposedDpEvent(
            dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma)), count
        )
        for (q, sigma), count in sorted(steps.items())
    ]
    if not events:
        return 0.0
    accountant = rdp_privacy_accountant.RdpAccountant()
    accountant.compose(dp_accounting.ComposedDpEvent(events))
    epsilon = float(accountant.get_epsilon(delta))
    return epsilon if math.isfinite(epsilon) else math.inf


def rounds_within(dp: DPSGDConfig, local_epochs: int, delta: float, max_epsilon: float) -> int:
    """How many rounds of this plan fit in ``max_epsilon`` (what the console shows a sponsor
    before creating a task); at most 10 000."""
    low, high = 0, 1
    while high <= 10_000 and _plan_epsilon(dp, local_epochs, delta, high) <= max_epsilon:
        low, high = high, high * 2
    high = min(high, 10_001)
    while high - low > 1:
        mid = (low + high) // 2
        if _plan_epsilon(dp, local_epochs, delta, mid) <= max_epsilon:
            low = mid
        else:
            high = mid
    return low


def _plan_epsilon(dp: DPSGDConfig, local_epochs: int, delta: float, rounds: int) -> float:
    one = Spend.of(0, dp, local_epochs)
    return dpsgd_epsilon(
        [Spend(0, one.sampling_rate, one.noise_multiplier, one.steps * rounds)], delta
    )


def spent_bound(mode: str, plan: Any, rounds: int, delta: float) -> float | None:
    """The most epsilon a task's privacy mode can have spent after ``rounds`` rounds opened:
    DP-SGD, per trainer, if it trained every one of them with the plan's ``dp_sgd``; DP-FedAvg,
    for the aggregate with the plan's ``dp``. None for other modes or a plan without them."""
    if rounds <= 0:
        return 0.0 if mode in ("dp-sgd", "dp-fedavg") else None
    if mode == "dp-sgd" and getattr(plan, "dp_sgd", None) is not None:
        one = Spend.of(0, plan.dp_sgd, int(plan.local_epochs))
        total = Spend(0, one.sampling_rate, one.noise_multiplier, one.steps * rounds)
        return dpsgd_epsilon([total], delta)
    if mode == "dp-fedavg" and getattr(plan, "dp", None) is not None:
        from .aggregate import dp_epsilon
        from .spec import DPConfig

        return dp_epsilon(DPConfig(plan.dp.clip, plan.dp.noise_multiplier, delta), rounds)
    return None
