"""A task's privacy term (pallet ``Privacy``): its mode and, for the DP modes, the budget.

The chain holds what the sponsor promised: the mode and, for DP-SGD and DP-FedAvg, the most
epsilon each trainer (DP-SGD) or the aggregate (DP-FedAvg) may spend over the task at ``delta``.
The mechanism's parameters (clip, noise multiplier, sampling rate) are in the model's training
plan. ``max_epsilon`` is stored in thousandths and ``delta`` as a Perbill (parts per billion),
so what a term can say is exactly what the chain can hold: :meth:`PrivacyTerms.to_chain`
refuses a value that would be rounded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .errors import InputError

MODES = ("none", "dp-sgd", "dp-fedavg", "secagg")
"""The CLI's names, in the pallet's variant order."""
_VARIANTS = {
    "none": "None",
    "dp-sgd": "DpSgd",
    "dp-fedavg": "DpFedAvg",
    "secagg": "SecureAggregation",
}
_NAMES = {variant: name for name, variant in _VARIANTS.items()}
LABELS = {
    "none": "none",
    "dp-sgd": "DP-SGD",
    "dp-fedavg": "DP-FedAvg",
    "secagg": "secure aggregation",
}
PERBILL = 1_000_000_000
MILLI = 1_000


@dataclass(frozen=True)
class PrivacyTerms:
    """``mode`` is one of :data:`MODES`; the DP modes need ``max_epsilon`` and ``delta``."""

    mode: str = "none"
    max_epsilon: float | None = None
    delta: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"unknown privacy mode {self.mode!r} (use {', '.join(MODES)})")
        if not self.is_dp:
            if self.max_epsilon is not None or self.delta is not None:
                raise InputError(
                    f"privacy mode {self.mode} takes no epsilon budget: "
                    "use --privacy dp-sgd or dp-fedavg with --max-epsilon"
                )
            return
        eps, delta = self.max_epsilon, self.delta
        if eps is None or not (math.isfinite(eps) and 0 < eps <= (1 << 32) / MILLI):
            raise InputError(
                f"privacy mode {self.mode} needs --max-epsilon, a positive number "
                f"(at most {(1 << 32) // MILLI}), got {eps!r}"
            )
        if delta is None or not (0 < delta < 1):
            raise InputError(f"--delta must be between 0 and 1 (say 1e-5), got {delta!r}")
        if abs(eps * MILLI - round(eps * MILLI)) > 1e-6:
            raise InputError(f"--max-epsilon has at most 3 decimals on chain, got {eps!r}")
        if round(delta * PERBILL) < 1 or abs(delta * PERBILL - round(delta * PERBILL)) > 1e-3:
            raise InputError(f"--delta is held in whole billionths on chain, got {delta!r}")

    @property
    def is_dp(self) -> bool:
        return self.mode in ("dp-sgd", "dp-fedavg")

    @property
    def label(self) -> str:
        return LABELS[self.mode]

    def to_chain(self) -> Any:
        variant = _VARIANTS[self.mode]
        if not self.is_dp:
            return variant
        assert self.max_epsilon is not None  # checked in __post_init__
        assert self.delta is not None
        return {
            variant: {
                "max_epsilon": round(self.max_epsilon * MILLI),
                "delta": round(self.delta * PERBILL),
            }
        }

    @classmethod
    def from_chain(cls, value: Any) -> PrivacyTerms:
        """The decoded on-chain value (``"None"`` or ``{"DpSgd": {...}}``); a task stored before
        the term existed (``None``) has no privacy."""
        if value is None:
            return cls()
        if isinstance(value, str):
            name, body = value, None
        elif isinstance(value, dict) and len(value) == 1:
            name, body = next(iter(value.items()))
        else:
            raise InputError(f"unknown privacy term {value!r}")
        mode = _NAMES.get(name)
        if mode is None:
            raise InputError(f"unknown privacy term {value!r}")
        if mode in ("dp-sgd", "dp-fedavg"):
            if not isinstance(body, dict):
                raise InputError(f"privacy term {name} without its budget: {value!r}")
            return cls(
                mode,
                max_epsilon=int(body["max_epsilon"]) / MILLI,
                delta=int(body["delta"]) / PERBILL,
            )
        return cls(mode)

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "max_epsilon": self.max_epsilon, "delta": self.delta}

    def describe(self, spent: float | None = None) -> str:
        """``DP-SGD, epsilon 3.10 of 8 at delta 1e-05`` (``spent`` if known)."""
        if not self.is_dp:
            return self.label
        used = "" if spent is None else f"{spent:.2f} of "
        return f"{self.label}, epsilon {used}{self.max_epsilon:g} at delta {self.delta:g}"


NO_PRIVACY = PrivacyTerms()
