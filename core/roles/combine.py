"""Fetching, checking and combining updates: shared by the aggregator and the verifier, so both
compute the aggregate the same way (same order, same rule, same seed, same bytes)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ChainError, IntegrityError, StorageError, TrainingError
from ..storage.kubo import ContentStore
from ..types import ContentRef
from .chainview import ParticipantView, UpdateView, content_ref
from .learning import Learning, Weights, aggregation_seed, updates_digest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checked:
    """An update that passed every check, with its decoded delta."""

    update: UpdateView
    delta: Weights


@dataclass(frozen=True)
class Rejected:
    """An update left out of the aggregate, and why."""

    trainer: str
    reason: str
    kind: str | None = None
    """For a free rider: "copy", "zero" or "noise" (what a verifier reports on chain)."""
    evidence: ContentRef | None = None
    """For a copy: the content it duplicates (or the update itself, whose manifest names
    another origin)."""


def check_update(
    store: ContentStore,
    learning: Learning,
    base: Weights,
    update: UpdateView,
    round_index: int,
    participants: dict[str, ParticipantView],
    *,
    task_id: int,
) -> Checked | Rejected:
    """Fetch one update (verified against its on-chain digest) and validate it: its manifest
    must name this task, round and trainer as its origin (so bytes re-submitted by another
    account, or from an earlier round, are excluded), and its tensors must match the base
    weights' names, shapes and dtypes, with no NaN/Inf. Never raises for a bad update."""
    if update.trainer not in participants:
        return Rejected(update.trainer, "update from an account that is not a participant")
    if update.round != round_index:
        return Rejected(update.trainer, f"update is for round {update.round}, not {round_index}")
    if update.samples <= 0:
        return Rejected(update.trainer, "update declares no samples")
    try:
        data = store.cat(update.content)
    except IntegrityError as exc:
        return Rejected(update.trainer, f"digest mismatch: {exc}")
    except StorageError as exc:
        return Rejected(update.trainer, f"content {update.content.cid} unavailable: {exc}")
    try:
        origin = learning.origin(data)
        delta = learning.decode(data, like=base)
    except TrainingError as exc:
        return Rejected(update.trainer, f"invalid update: {exc}")
    if origin is None:
        return Rejected(update.trainer, "update names no origin (task, round, trainer)")
    if (origin.task, origin.round, origin.trainer) != (task_id, round_index, update.trainer):
        return Rejected(
            update.trainer,
            f"update was made by {origin.trainer} for task {origin.task} round {origin.round}: "
            "a copy, excluded",
            kind="copy",
            evidence=update.content,
        )
    return Checked(update, delta)


@dataclass(frozen=True)
class Screened:
    """The outcome of free-rider screening: what stays, what is excluded, and the sketches of
    what stays (kept as the next round's "previous round")."""

    kept: list[Checked]
    flagged: list[Rejected]
    kinds: dict[str, str]  # trainer -> "zero" | "copy" | "noise"
    sketches: Any  # numpy (len(kept), SKETCH) float64
    trainers: list[str]  # of the kept sketches, in order

    @property
    def previous(self) -> Previous:
        """What the next round's screening compares with: these sketches, trainers, refs."""
        return self.sketches, self.trainers, [c.update.content for c in self.kept]


Previous = tuple[Any, list[str], list[ContentRef]]
"""The previous round's kept sketches, their trainers and their updates' content refs."""


def screen_free_riders(checked: Sequence[Checked], previous: Previous | None = None) -> Screened:
    """Flag zero deltas, copies (of this round's earlier updates or of ``previous``: the
    sketches and trainers of the previous round's included updates) and noise
    (``core/fl/freeriders.py``)."""
    import numpy as np

    from ..fl.freeriders import SKETCH, flag_free_riders, sketch, update_norm

    sketches = [sketch(c.delta) for c in checked]
    norms = [update_norm(c.delta) for c in checked]
    prev, prev_owners, prev_refs = ([], [], []) if previous is None else previous
    prev = list(prev)
    owners = [c.update.trainer for c in checked]
    flags = {
        f.index: f
        for f in flag_free_riders(sketches, norms, prev, owners=owners, previous_owners=prev_owners)
    }
    flagged = []
    kinds = {}
    for i, f in flags.items():
        reason = f.reason
        evidence = None
        if f.other is not None:
            evidence = checked[f.other].update.content
            reason += f" ({checked[f.other].update.trainer}, {evidence.cid})"
        elif f.previous is not None and f.previous < len(prev_refs):
            evidence = prev_refs[f.previous]
            reason += f" ({prev_owners[f.previous]}, {evidence.cid})"
        trainer = checked[i].update.trainer
        flagged.append(Rejected(trainer, f"free rider ({f.kind}): {reason}", f.kind, evidence))
        kinds[trainer] = f.kind
    kept = [c for i, c in enumerate(checked) if i not in flags]
    kept_sketches = np.asarray(
        [s for i, s in enumerate(sketches) if i not in flags], dtype=np.float64
    ).reshape(-1, SKETCH)
    return Screened(kept, flagged, kinds, kept_sketches, [c.update.trainer for c in kept])


def load_sketches(directory: Any, round_index: int) -> Previous | None:
    """The sketches (with their trainers and content refs) a role kept for ``round_index``;
    None if it has none or the file is torn (then copies of that round simply go unchecked)."""
    import json

    import numpy as np

    path = directory / f"sketches-r{round_index}.npz"
    try:
        with np.load(path, allow_pickle=False) as data:
            sketches, trainers = data["sketches"], [str(t) for t in data["trainers"]]
            refs = [content_ref(r) for r in json.loads(str(data["refs"]))]
    except (OSError, ValueError, KeyError, TypeError, ChainError):
        return None
    if not len(sketches) == len(trainers) == len(refs):
        return None
    return sketches, trainers, refs


def save_sketches(directory: Any, round_index: int, screened: Screened) -> None:
    import io
    import json

    import numpy as np

    from .state import write_atomic

    buf = io.BytesIO()
    trainers = np.asarray(screened.trainers, dtype=np.str_)
    refs = json.dumps([c.update.content.to_json() for c in screened.kept])
    np.savez(buf, sketches=screened.sketches, trainers=trainers, refs=np.asarray(refs))
    write_atomic(directory / f"sketches-r{round_index}.npz", buf.getvalue())
    (directory / f"sketches-r{round_index - 2}.npz").unlink(missing_ok=True)


def order_updates(updates: dict[str, UpdateView], round_index: int) -> list[UpdateView]:
    """This round's updates in the aggregator's order: by submission block, then address."""
    mine = [u for u in updates.values() if u.round == round_index]
    return sorted(mine, key=lambda u: (u.submitted_at, u.trainer))


def combine(
    learning: Learning,
    spec: Any,
    rule: str,
    base: Weights,
    checked: Sequence[Checked],
    *,
    task: int,
    round_index: int,
    previous: Weights | None = None,
) -> tuple[Weights, bytes]:
    """The aggregate of ``checked`` (in order) and its encoded bytes; ``previous`` is the
    previous round's base (:func:`previous_base`) for the plan's server momentum."""
    digest = updates_digest([c.update.content.digest for c in checked])
    weights = learning.aggregate(
        rule,
        base,
        [(c.delta, c.update.samples) for c in checked],
        spec=spec,
        seed=aggregation_seed(task, round_index, digest),
        previous=previous,
    )
    return weights, learning.encode(weights)


def previous_base(
    store: ContentStore, learning: Learning, spec: Any, task: Any, round_index: int, base: Weights
) -> Weights | None:
    """The previous round's base, fetched and verified against its on-chain digest, when the
    plan has server momentum and that round succeeded (``task.last_result``); else None.
    Raises StorageError / IntegrityError / TrainingError: without it the aggregate cannot be
    computed (or checked), so the caller waits and retries."""
    if not getattr(getattr(spec, "plan", None), "server_momentum", 0.0):
        return None
    ref = task.previous_base(round_index)
    if ref is None:
        return None
    return learning.decode(store.cat(ref), like=base)


def reported_metrics(updates: Sequence[UpdateView]) -> tuple[float, float]:
    """Sample-weighted mean of the trainers' reported loss and accuracy."""
    total = sum(u.samples for u in updates)
    if total <= 0:
        return 0.0, 0.0
    loss = sum((u.loss or 0.0) * u.samples for u in updates) / total
    acc = sum((u.accuracy or 0.0) * u.samples for u in updates) / total
    return max(loss, 0.0), min(max(acc, 0.0), 1.0)
