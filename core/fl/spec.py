"""Model specifications: the architecture file a model's owner stores on IPFS.

A :class:`ModelSpec` says which network to build (an MLP for tabular data or a small CNN for
images), the shape and schema of its input, and the :class:`TrainingPlan` every trainer follows
(local epochs, batch size, learning rates, optional differential privacy). ``to_bytes`` gives
canonical JSON (sorted keys, no whitespace), so the same spec always has the same CID;
``from_bytes`` validates everything and raises :class:`ModelSpecError` on bad input.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import ModelSpecError

FORMAT = "decentralml-model/1"
KINDS = ("mlp", "cnn")
MAX_SPEC_BYTES = 1 << 20
MAX_DIM = 1 << 16
MAX_LAYERS = 16


@dataclass(frozen=True)
class DPConfig:
    """Differential privacy for the aggregate (Gaussian mechanism over clipped updates).

    ``clip`` bounds each update's L2 norm, ``noise_multiplier`` is the noise's standard
    deviation divided by ``clip``; ``delta`` is the delta the reported epsilon is computed for.
    """

    clip: float
    noise_multiplier: float
    delta: float = 1e-5

    def __post_init__(self) -> None:
        if not (math.isfinite(self.clip) and self.clip > 0):
            raise ModelSpecError(f"dp.clip must be a positive number, got {self.clip!r}")
        if not (math.isfinite(self.noise_multiplier) and self.noise_multiplier >= 0):
            raise ModelSpecError(
                f"dp.noise_multiplier must be zero or positive, got {self.noise_multiplier!r}"
            )
        if not (0 < self.delta < 1):
            raise ModelSpecError(f"dp.delta must be between 0 and 1, got {self.delta!r}")


@dataclass(frozen=True)
class DPSGDConfig:
    """Example-level DP-SGD in each trainer's local work (``dpsgd.py``).

    Every step takes each local example with probability ``sampling_rate`` (Poisson
    sampling), clips each example's gradient to L2 norm ``clip``, adds Gaussian noise of
    standard deviation ``noise_multiplier * clip`` to their sum and divides by the expected
    batch, ``sampling_rate * examples``. A local epoch is ``ceil(1 / sampling_rate)`` steps.
    """

    clip: float
    noise_multiplier: float
    sampling_rate: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.clip) and self.clip > 0):
            raise ModelSpecError(f"dp_sgd.clip must be a positive number, got {self.clip!r}")
        if not (math.isfinite(self.noise_multiplier) and self.noise_multiplier > 0):
            raise ModelSpecError(
                f"dp_sgd.noise_multiplier must be positive, got {self.noise_multiplier!r}"
            )
        if not (0 < self.sampling_rate <= 1):
            raise ModelSpecError(
                f"dp_sgd.sampling_rate must be in (0, 1], got {self.sampling_rate!r}"
            )

    def steps(self, local_epochs: int) -> int:
        """DP-SGD steps in one round's local work."""
        return local_epochs * math.ceil(1 / self.sampling_rate - 1e-9)


@dataclass(frozen=True)
class TrainingPlan:
    """What every trainer does in a round, and the server step the aggregator applies."""

    local_epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 0.1
    server_learning_rate: float = 1.0
    server_momentum: float = 0.0
    """Heavy-ball server momentum: each new global model also moves by this share of the
    previous server step (base minus the previous round's base), 0 <= it < 1."""
    dp: DPConfig | None = None
    dp_sgd: DPSGDConfig | None = None

    def __post_init__(self) -> None:
        if self.dp is not None and self.dp_sgd is not None:
            raise ModelSpecError(
                "plan.dp (DP-FedAvg, noise on the aggregate) and plan.dp_sgd (example-level "
                "DP in each trainer) are two modes: set one"
            )
        if not (isinstance(self.local_epochs, int) and 1 <= self.local_epochs <= 1000):
            raise ModelSpecError(
                f"plan.local_epochs must be a whole number 1..1000, got {self.local_epochs!r}"
            )
        if not (isinstance(self.batch_size, int) and 1 <= self.batch_size <= 1 << 16):
            raise ModelSpecError(
                f"plan.batch_size must be a whole number 1..65536, got {self.batch_size!r}"
            )
        for name in ("learning_rate", "server_learning_rate"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ModelSpecError(f"plan.{name} must be a positive number, got {value!r}")
        beta = self.server_momentum
        if not (isinstance(beta, int | float) and math.isfinite(beta) and 0 <= beta < 1):
            raise ModelSpecError(f"plan.server_momentum must be in [0, 1), got {beta!r}")
        if beta and self.dp is not None:
            raise ModelSpecError(
                "plan.dp and plan.server_momentum do not go together: the momentum carries "
                "each round's DP noise on (digits: 10 % accuracy with 0.7); set "
                "server_momentum to 0 when using dp"
            )


@dataclass(frozen=True)
class ModelSpec:
    """A model's architecture and training plan.

    ``kind`` is ``"mlp"`` (``input_shape`` is ``(features,)``, ``hidden`` the widths of the
    hidden dense layers) or ``"cnn"`` (``input_shape`` is ``(height, width, channels)``,
    ``hidden`` the filters of each 3x3 convolution, each followed by 2x2 max pooling).
    ``features`` names the tabular columns in order (empty for images).
    """

    kind: str
    input_shape: tuple[int, ...]
    num_classes: int
    hidden: tuple[int, ...] = ()
    features: tuple[str, ...] = ()
    plan: TrainingPlan = field(default_factory=TrainingPlan)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ModelSpecError(f"model kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        _dims(self.input_shape, "input_shape")
        _dims(self.hidden, "hidden", allow_empty=True)
        if len(self.hidden) > MAX_LAYERS:
            raise ModelSpecError(f"at most {MAX_LAYERS} hidden layers, got {len(self.hidden)}")
        if not (isinstance(self.num_classes, int) and 2 <= self.num_classes <= MAX_DIM):
            raise ModelSpecError(
                f"num_classes must be a whole number 2..{MAX_DIM}, got {self.num_classes!r}"
            )
        if not all(isinstance(f, str) and f for f in self.features):
            raise ModelSpecError("features must be non-empty column names")
        if len(set(self.features)) != len(self.features):
            raise ModelSpecError("features must not repeat a column name")
        if "label" in self.features:
            raise ModelSpecError("'label' is the label column and cannot be a feature")
        if self.kind == "mlp":
            if len(self.input_shape) != 1:
                raise ModelSpecError(
                    f"an mlp takes a flat input (features,), got input_shape {self.input_shape}"
                )
            if self.features and len(self.features) != self.input_shape[0]:
                raise ModelSpecError(
                    f"{len(self.features)} feature names for an input of {self.input_shape[0]}"
                )
        else:
            if len(self.input_shape) != 3:
                raise ModelSpecError(
                    "a cnn takes images (height, width, channels), "
                    f"got input_shape {self.input_shape}"
                )
            if self.features:
                raise ModelSpecError("a cnn takes images; leave features empty")
            if not self.hidden:
                raise ModelSpecError("a cnn needs at least one convolution (hidden = filters)")
            h, w, _ = self.input_shape
            pools = len(self.hidden)
            if h >> pools < 1 or w >> pools < 1:
                raise ModelSpecError(
                    f"{pools} 2x2 poolings do not fit an image of {h}x{w}; use fewer layers"
                )

    # ---- canonical JSON -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        plan: dict[str, Any] = {
            "local_epochs": self.plan.local_epochs,
            "batch_size": self.plan.batch_size,
            "learning_rate": float(self.plan.learning_rate),
            "server_learning_rate": float(self.plan.server_learning_rate),
            "dp": None,
        }
        if self.plan.server_momentum:  # absent at 0, so older specs keep their bytes
            plan["server_momentum"] = float(self.plan.server_momentum)
        if self.plan.dp is not None:
            plan["dp"] = {
                "clip": float(self.plan.dp.clip),
                "noise_multiplier": float(self.plan.dp.noise_multiplier),
                "delta": float(self.plan.dp.delta),
            }
        if self.plan.dp_sgd is not None:  # absent without it, so older specs keep their bytes
            plan["dp_sgd"] = {
                "clip": float(self.plan.dp_sgd.clip),
                "noise_multiplier": float(self.plan.dp_sgd.noise_multiplier),
                "sampling_rate": float(self.plan.dp_sgd.sampling_rate),
            }
        return {
            "format": FORMAT,
            "kind": self.kind,
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "hidden": list(self.hidden),
            "features": list(self.features),
            "plan": plan,
        }

    def to_bytes(self) -> bytes:
        """Canonical JSON: the same spec always gives the same bytes (and CID)."""
        return json.dumps(
            self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> ModelSpec:
        """Parse and validate an architecture file; :class:`ModelSpecError` on bad input."""
        if len(data) > MAX_SPEC_BYTES:
            raise ModelSpecError(f"model spec is {len(data)} bytes; at most {MAX_SPEC_BYTES}")
        try:
            raw = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ModelSpecError(f"model spec is not JSON: {exc}") from None
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: Any) -> ModelSpec:
        if not isinstance(raw, dict):
            raise ModelSpecError("model spec must be a JSON object")
        if raw.get("format", FORMAT) != FORMAT:
            raise ModelSpecError(f"unknown model spec format {raw.get('format')!r}; want {FORMAT}")
        known = {"format", "kind", "input_shape", "num_classes", "hidden", "features", "plan"}
        extra = set(raw) - known
        if extra:
            raise ModelSpecError(f"unknown model spec fields: {', '.join(sorted(extra))}")
        for key in ("kind", "input_shape", "num_classes"):
            if key not in raw:
                raise ModelSpecError(f"model spec lacks {key!r}")
        plan_raw = raw.get("plan") or {}
        if not isinstance(plan_raw, dict):
            raise ModelSpecError("plan must be a JSON object")
        plan_known = {
            "local_epochs",
            "batch_size",
            "learning_rate",
            "server_learning_rate",
            "server_momentum",
            "dp",
            "dp_sgd",
        }
        extra = set(plan_raw) - plan_known
        if extra:
            raise ModelSpecError(f"unknown plan fields: {', '.join(sorted(extra))}")
        dp_raw = plan_raw.get("dp")
        dp: DPConfig | None = None
        if dp_raw is not None:
            if not isinstance(dp_raw, dict) or not {"clip", "noise_multiplier"} <= set(dp_raw):
                raise ModelSpecError("plan.dp must be an object with clip and noise_multiplier")
            if set(dp_raw) - {"clip", "noise_multiplier", "delta"}:
                raise ModelSpecError("plan.dp takes only clip, noise_multiplier and delta")
            dp = DPConfig(
                clip=_number(dp_raw["clip"], "dp.clip"),
                noise_multiplier=_number(dp_raw["noise_multiplier"], "dp.noise_multiplier"),
                delta=_number(dp_raw.get("delta", 1e-5), "dp.delta"),
            )
        dp_sgd = _dp_sgd(plan_raw.get("dp_sgd"))
        defaults = TrainingPlan()
        plan = TrainingPlan(
            local_epochs=_integer(plan_raw.get("local_epochs", defaults.local_epochs), "epochs"),
            batch_size=_integer(plan_raw.get("batch_size", defaults.batch_size), "batch_size"),
            learning_rate=_number(
                plan_raw.get("learning_rate", defaults.learning_rate), "learning_rate"
            ),
            server_learning_rate=_number(
                plan_raw.get("server_learning_rate", defaults.server_learning_rate),
                "server_learning_rate",
            ),
            server_momentum=_fraction(
                plan_raw.get("server_momentum", defaults.server_momentum), "server_momentum"
            ),
            dp=dp,
            dp_sgd=dp_sgd,
        )
        return cls(
            kind=_string(raw["kind"], "kind"),
            input_shape=_int_tuple(raw["input_shape"], "input_shape"),
            num_classes=_integer(raw["num_classes"], "num_classes"),
            hidden=_int_tuple(raw.get("hidden", []), "hidden"),
            features=_str_tuple(raw.get("features", []), "features"),
            plan=plan,
        )


def _dp_sgd(raw: Any) -> DPSGDConfig | None:
    if raw is None:
        return None
    fields = {"clip", "noise_multiplier", "sampling_rate"}
    if not isinstance(raw, dict) or set(raw) != fields:
        raise ModelSpecError(
            "plan.dp_sgd must be an object with exactly clip, noise_multiplier and sampling_rate"
        )
    return DPSGDConfig(**{k: _number(raw[k], f"dp_sgd.{k}") for k in sorted(fields)})


def _fraction(value: Any, what: str) -> float:
    """A number in [0, 1) (0 allowed, unlike :func:`_number`)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ModelSpecError(f"plan.{what} must be a number, got {value!r}")
    if not (math.isfinite(value) and 0 <= value < 1):
        raise ModelSpecError(f"plan.{what} must be in [0, 1), got {value!r}")
    return float(value)


def _dims(values: tuple[int, ...], what: str, *, allow_empty: bool = False) -> None:
    if not isinstance(values, tuple) or (not values and not allow_empty):
        raise ModelSpecError(f"{what} must be a non-empty list of sizes")
    for v in values:
        if not (isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_DIM):
            raise ModelSpecError(f"{what} sizes must be whole numbers 1..{MAX_DIM}, got {v!r}")


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ModelSpecError(f"{what} must be a whole number, got {value!r}")
    return int(value)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ModelSpecError(f"{what} must be a number, got {value!r}")
    return float(value)


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ModelSpecError(f"{what} must be a string, got {value!r}")
    return value


def _int_tuple(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise ModelSpecError(f"{what} must be a list of whole numbers, got {value!r}")
    return tuple(_integer(v, what) for v in value)


def _str_tuple(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ModelSpecError(f"{what} must be a list of names, got {value!r}")
    return tuple(_string(v, what) for v in value)
