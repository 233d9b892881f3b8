"""Secure aggregation in the roles (``fl/secagg`` over the chain and IPFS), shared by the
trainer (keys, masked update, shares), the aggregator (unmask and aggregate) and the verifier
(unmask again and compare), so all three read the round the same way.

Everything a step uses comes from the chain and from IPFS bytes verified against their on-chain
digests: the round's members (``RoundMembers``), their key documents (``SecAggKeys``), the
revealed masked updates (``Updates``) and the members' share documents (``UnmaskShares``).
A trainer's secret lives in its role's state directory (``secagg.secret``, mode 0600); it never
reaches a log, an event or the chain.
"""

from __future__ import annotations

import logging
import os
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ExtrinsicFailed, IntegrityError, StorageError
from ..types import ContentRef
from .combine import Rejected, order_updates
from .learning import Weights, rule_text, updates_digest
from .state import write_atomic

if TYPE_CHECKING:
    from ..fl.secagg import KeyDocument, MaskedUpdate, TrainerSecret
    from .base import Role
    from .chainview import TaskView, UpdateView

log = logging.getLogger(__name__)

SECRET_FILE = "secagg.secret"  # noqa: S105 - a file name, not a secret


def is_secure(task: TaskView) -> bool:
    return task.privacy.mode == "secagg"


def clip_of(task: TaskView) -> float:
    """The L2 bound of the task's ``clip:<millionths>`` rule (the pallet requires it)."""
    rule = rule_text(task.aggregation)
    if not rule.startswith("clip:"):
        from ..fl.secagg import SecAggError

        raise SecAggError(f"secure aggregation needs the clip rule, the task has {rule}")
    return int(rule.split(":", 1)[1]) / 1_000_000


def scale_of(task: TaskView) -> tuple[float, int]:
    """``(clip bound, fixed-point bits)`` of the task's masked updates."""
    from ..fl.secagg import scale_bits

    clip = clip_of(task)
    return clip, scale_bits(task.max_trainers, clip)


def layout_of(base: Weights) -> tuple[tuple[str, tuple[int, ...]], ...]:
    return tuple((name, tuple(int(d) for d in array.shape)) for name, array in base.items())


def load_secret(directory: Path, *, create: bool) -> TrainerSecret | None:
    """The trainer's secret from its state directory (made, mode 0600, if ``create``)."""
    from ..fl.secagg import TrainerSecret

    path = directory / SECRET_FILE
    if path.is_file():
        return TrainerSecret(path.read_bytes())
    if not create:
        return None
    secret = TrainerSecret.generate()
    write_atomic(path, secret.seed)
    os.chmod(path, 0o600)
    return secret


_key_documents: weakref.WeakKeyDictionary[Role, dict[str, bytes]] = weakref.WeakKeyDictionary()
"""Key documents a role has fetched (and verified), by CID: they never change."""


def _fetch(role: Role, ref: ContentRef) -> bytes | None:
    try:
        return role.store.cat(ref)
    except (IntegrityError, StorageError) as exc:
        log.warning("secure aggregation: %s unavailable: %s", ref.cid, exc)
        return None


def _key_document(role: Role, ref: ContentRef) -> bytes | None:
    cache = _key_documents.setdefault(role, {})
    if ref.cid not in cache:
        data = _fetch(role, ref)
        if data is None:
            return None
        cache[ref.cid] = data
    return cache[ref.cid]


# ---- the trainer's side ------------------------------------------------------------------------
def ensure_keys(role: Role, task: TaskView) -> bool:
    """Publish this trainer's key document once; refuse to go on if the one on chain is not
    made from the local secret (a lost state directory: masks would not cancel). True once
    the keys on chain are checked (or just published)."""
    from ..fl.secagg import SecAggError, key_document, parse_key_document

    me = role.chain.address
    published = role.chain.secagg_keys(role.task_id).get(me)
    secret = load_secret(role.journal.directory, create=published is None)
    if published is not None:
        data = _fetch(role, published)
        if data is None:
            return False  # checked again on the next block
        doc = parse_key_document(data, role.task_id, me)
        r = doc.first_round
        if secret is None or doc.mask[0] != secret.public_key(role.task_id, r, "mask"):
            raise SecAggError(
                "the secure-aggregation keys on chain were not made from this trainer's "
                f"secret ({role.journal.directory / SECRET_FILE} lost or replaced): leave the "
                "task and join again to publish new keys"
            )
        return True
    assert secret is not None
    first = task.next_round
    rounds = min(4096, 2 * max(task.total_rounds - first, 1) + 16)
    ref = role.store.add_bytes(key_document(secret, role.task_id, me, first, rounds)).ref
    role.emit("joining", f"publishing secure-aggregation keys {ref.cid}")
    try:
        role.chain.publish_keys(role.task_id, ref)
    except ExtrinsicFailed as exc:
        if exc.error != "KeysAlreadyPublished":
            raise
        return False  # someone's keys are there: checked against ours on the next block
    return True


def round_keys(role: Role, index: int) -> tuple[dict[str, KeyDocument], dict[str, str]]:
    """The round's masking set (usable key documents by member) and the members excluded."""
    from ..fl.secagg import masking_set

    members = role.chain.round_members(role.task_id, index) or []
    refs = role.chain.secagg_keys(role.task_id)
    docs = {m: _key_document(role, refs[m]) if m in refs else None for m in members}
    return masking_set(members, docs, role.task_id, index)


def masked_payload(
    role: Role, task: TaskView, index: int, base: Weights, delta: Weights, samples: int
) -> bytes:
    """This trainer's masked update for round ``index`` (raises SecAggError if it cannot
    take part: not a member, or its own keys unusable)."""
    from ..fl.secagg import SecAggError, mask_update

    keys, excluded = round_keys(role, index)
    me = role.chain.address
    if me not in keys:
        why = excluded.get(me, "not a member (its keys were published after the round opened)")
        raise SecAggError(f"cannot mask round {index}: {why}")
    secret = load_secret(role.journal.directory, create=False)
    if secret is None:
        raise SecAggError(f"the secure-aggregation secret is missing from {role.journal.directory}")
    ordered = {name: delta[name] for name in base}
    clip, bits = scale_of(task)
    update = mask_update(
        secret,
        task=role.task_id,
        round_index=index,
        trainer=me,
        keys=keys,
        delta=ordered,
        samples=samples,
        clip=clip,
        bits=bits,
    )
    return update.encode()


def publish_shares(role: Role, task: TaskView, index: int, base_ref: ContentRef) -> bool:
    """Publish this member's share document for round ``index`` (whose base weights are
    ``base_ref``); True once it is on chain or there is nothing to publish."""
    from ..fl.secagg import share_document

    me = role.chain.address
    if me in role.chain.unmask_shares(role.task_id, index):
        return True
    members = role.chain.round_members(role.task_id, index)
    if not members or me not in members:
        return True  # not a member: nothing to publish
    secret = load_secret(role.journal.directory, create=False)
    if secret is None:
        return True
    base = role.learning.decode(role.store.cat(base_ref))
    keys, _ = round_keys(role, index)
    submitted, _ = submitted_updates(role, task, index, base, keys)
    document = share_document(
        secret, task=role.task_id, round_index=index, holder=me, keys=keys, submitted=submitted
    )
    ref = role.store.add_bytes(document).ref
    try:
        role.chain.publish_shares(role.task_id, index, ref)
    except ExtrinsicFailed as exc:
        if exc.error in ("SharesAlreadyPublished", "WrongRound", "RoundNotOpen", "NoActiveRound"):
            return True
        raise
    role.emit("submitted", f"unmasking shares for {len(submitted)} updates", round=index)
    return True


# ---- reading a round ---------------------------------------------------------------------------
def submitted_updates(
    role: Role,
    task: TaskView,
    index: int,
    base: Weights,
    keys: dict[str, KeyDocument],
    updates: dict[str, UpdateView] | None = None,
) -> tuple[dict[str, MaskedUpdate], list[Rejected]]:
    """The round's submitted set: members of the masking set with a revealed, well-formed
    masked update (in address order); the others' updates are rejected with the reason.
    ``updates``: the round's revealed updates as read once by the caller (else read now)."""
    from ..fl.secagg import SecAggError, decode_masked

    _, bits = scale_of(task)
    layout = layout_of(base)
    submitted: dict[str, MaskedUpdate] = {}
    rejected: list[Rejected] = []
    if updates is None:
        updates = role.chain.updates(role.task_id, index)
    for update in order_updates(updates, index):
        if update.trainer not in keys:
            rejected.append(Rejected(update.trainer, "not in the round's masking set"))
            continue
        data = _fetch(role, update.content)
        if data is None:
            rejected.append(Rejected(update.trainer, f"content {update.content.cid} unavailable"))
            continue
        try:
            submitted[update.trainer] = decode_masked(
                data,
                task=role.task_id,
                round_index=index,
                trainer=update.trainer,
                members=sorted(keys),
                bits=bits,
                layout=layout,
            )
        except SecAggError as exc:
            rejected.append(Rejected(update.trainer, f"malformed masked update: {exc}"))
    return dict(sorted(submitted.items())), rejected


@dataclass(frozen=True)
class SecureAggregate:
    """An unmasked round's aggregate: weights, bytes, who is in the sum and who is not."""

    weights: Weights
    payload: bytes
    included: list[str]
    rejected: list[Rejected]
    digest: bytes


def unmask_round(role: Role, task: TaskView, index: int, base: Weights) -> SecureAggregate:
    """Unmask round ``index`` from what the chain records and compute its aggregate; raises
    SecAggError while too few share documents are published (the caller waits)."""
    from ..fl.secagg import unmask
    from .combine import previous_base

    keys, _ = round_keys(role, index)
    updates = role.chain.updates(role.task_id, index)  # one read: the round may end meanwhile
    submitted, rejected = submitted_updates(role, task, index, base, keys, updates)
    documents = {
        holder: data
        for holder, ref in role.chain.unmask_shares(role.task_id, index).items()
        if (data := _fetch(role, ref)) is not None
    }
    result = unmask(
        task=role.task_id,
        round_index=index,
        members=sorted(keys),
        submitted=submitted,
        share_documents=documents,
        clip=clip_of(task),
    )
    for holder, why in result.rejected.items():
        rejected.append(Rejected(holder, f"share document: {why}"))
    spec = role.spec(task)
    previous = previous_base(role.store, role.learning, spec, task, index, base)
    weights = role.learning.server_step(spec, base, result.mean(), previous)
    digest = updates_digest([updates[t].content.digest for t in result.included])
    return SecureAggregate(
        weights, role.learning.encode(weights), list(result.included), rejected, digest
    )
