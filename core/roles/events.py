"""Progress events of the training roles (contract C).

Every role (trainer, aggregator, verifier) reports what it is doing as :class:`ProgressEvent`
records, one JSON object per line, appended to an events file and flushed at once so a reader
(the console, the dev stack, a test) can follow the file while the role runs::

    {"ts": 1732460000.5, "role": "trainer", "account": "5Grw...", "task": 3, "round": 1,
     "phase": "training", "loss": 0.41, "accuracy": 0.87, "samples": 120,
     "message": "trained 1 epoch on 120 samples"}

This module has no dependency on the chain, IPFS or TensorFlow: the console imports it alone.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TextIO, cast

from ..errors import InputError

log = logging.getLogger(__name__)

Role = Literal["trainer", "aggregator", "verifier"]
ROLES: Final[tuple[str, ...]] = ("trainer", "aggregator", "verifier")

PHASES: Final[tuple[str, ...]] = (
    "joining",
    "waiting",
    "fetching",
    "training",
    "committing",
    "committed",
    "uploading",
    "submitting",
    "submitted",
    "replicated",
    "aggregating",
    "aggregated",
    "verifying",
    "verified",
    "attested",
    "reported",
    "challenged",
    "finalized",
    "rejected",
    "error",
    "stopped",
    "done",
)
"""Known phases. Readers must accept unknown phases (new ones may be added)."""


def _opt_float(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"progress event field {name!r} must be a number or null")
    return float(value)


def _opt_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"progress event field {name!r} must be an integer or null")
    return int(value)


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report of a role. ``loss``, ``accuracy`` and ``samples`` are optional."""

    role: str
    account: str
    task: int
    round: int | None
    phase: str
    message: str = ""
    loss: float | None = None
    accuracy: float | None = None
    samples: int | None = None
    epsilon: float | None = None
    """DP-SGD: the trainer's privacy spent over the task so far (at the task's delta)."""
    ts: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        # JSON has no NaN/Inf: a diverged loss is reported as null.
        for key in ("loss", "accuracy", "epsilon"):
            value = data[key]
            if value is not None and not math.isfinite(value):
                data[key] = None
        return {
            "ts": data["ts"],
            "role": data["role"],
            "account": data["account"],
            "task": data["task"],
            "round": data["round"],
            "phase": data["phase"],
            "loss": data["loss"],
            "accuracy": data["accuracy"],
            "samples": data["samples"],
            "epsilon": data["epsilon"],
            "message": " ".join(str(data["message"]).split()),
        }

    def to_json(self) -> str:
        """One line of JSON (no newline inside; the message is collapsed to one line)."""
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProgressEvent:
        try:
            role, account, task, phase = (
                data["role"],
                data["account"],
                data["task"],
                data["phase"],
            )
        except KeyError as exc:
            raise InputError(f"progress event lacks the field {exc.args[0]!r}") from None
        if not isinstance(role, str) or not isinstance(account, str) or not isinstance(phase, str):
            raise InputError("progress event fields role, account and phase must be strings")
        if isinstance(task, bool) or not isinstance(task, int):
            raise InputError("progress event field 'task' must be an integer")
        ts = _opt_float(data.get("ts"), "ts")
        return cls(
            role=role,
            account=account,
            task=task,
            round=_opt_int(data.get("round"), "round"),
            phase=phase,
            message=str(data.get("message") or ""),
            loss=_opt_float(data.get("loss"), "loss"),
            accuracy=_opt_float(data.get("accuracy"), "accuracy"),
            samples=_opt_int(data.get("samples"), "samples"),
            epsilon=_opt_float(data.get("epsilon"), "epsilon"),
            ts=time.time() if ts is None else ts,
        )

    @classmethod
    def from_json(cls, line: str | bytes) -> ProgressEvent:
        """Parse one line; raises :class:`InputError` for anything that is not an event."""
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise InputError(f"progress event is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InputError("progress event must be a JSON object")
        return cls.from_dict(cast(dict[str, Any], data))


Sink = Callable[[ProgressEvent], None]


class EventLog:
    """Writes events to a JSON-lines file and/or a stream and/or callbacks, flushed at once.

    Thread-safe. A failing sink is logged and otherwise ignored: reporting progress must never
    stop a role.
    """

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        stream: TextIO | None = None,
        sinks: tuple[Sink, ...] = (),
    ) -> None:
        self._path = Path(path) if path is not None else None
        self._stream = stream
        self._sinks = list(sinks)
        self._lock = threading.Lock()
        self._file: TextIO | None = None
        if self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self._path.open("a", encoding="utf-8")

    def add_sink(self, sink: Sink) -> None:
        with self._lock:
            self._sinks.append(sink)

    def emit(self, event: ProgressEvent) -> None:
        line = event.to_json()
        with self._lock:
            for out in (self._file, self._stream):
                if out is None:
                    continue
                try:
                    out.write(line + "\n")
                    out.flush()
                except (OSError, ValueError):
                    log.warning("could not write a progress event", exc_info=True)
            sinks = list(self._sinks)
        for sink in sinks:
            try:
                sink(event)
            except Exception:  # a sink must never stop a role
                log.warning("progress event sink failed", exc_info=True)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_events(path: Path | str, *, skip_bad: bool = True) -> Iterator[ProgressEvent]:
    """Every event in a file, in order. Malformed lines (a line still being written) are skipped
    unless ``skip_bad`` is false."""
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                yield ProgressEvent.from_json(line)
            except InputError:
                if not skip_bad:
                    raise


class EventFollower:
    """Incremental reader of an events file: each :meth:`poll` returns the events appended since
    the last call (only complete lines). Works before the file exists."""

    def __init__(self, path: Path | str) -> None:
        self._path = Path(path)
        self._offset = 0
        self._partial = b""

    def poll(self) -> list[ProgressEvent]:
        try:
            with self._path.open("rb") as fh:
                fh.seek(self._offset)
                chunk = fh.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        out: list[ProgressEvent] = []
        for raw in lines:
            if not raw.strip():
                continue
            try:
                out.append(ProgressEvent.from_json(raw))
            except InputError:
                log.debug("skipping a malformed progress event line")
        return out
