"""Secure aggregation of one round: key documents, masked updates, share documents, unmasking.

The protocol (after Bonawitz et al. 2017, with the chain as the arbiter of who submitted):

1. **Keys.** Each trainer publishes a key document (:func:`key_document`) once per task. The
   round's *masking set* is its on-chain members (``RoundMembers``: trainers due when it opened
   with keys published) whose key document is usable for the round (:func:`masking_set`), the
   same list for everyone because it is computed from public data only.
2. **Masked update** (:func:`mask_update`). A trainer clips its delta to the rule's bound,
   quantizes ``weight * delta`` to fixed point, and adds modulo 2^32 a self-mask from a fresh
   seed ``b`` and, for each other member, the pairwise mask of their shared seed (added by the
   member that sorts first, subtracted by the other). It Shamir-shares ``b`` and each of its
   pairwise seeds among all members (threshold: all but a third), encrypts each member's shares
   to it, and publishes hashes of every share and a commitment to every secret. The file is
   revealed on chain like any update, so only its digest is public before the deadline.
3. **Shares** (:func:`share_document`). Once the reveals are done, the submitted set ``S`` is
   the members whose reveal is on chain and whose file is well formed (:func:`decode_masked`);
   the rest, ``D``, dropped. Each member opens the boxes dealt to it and publishes, for every
   ``u`` in ``S``, its share of ``u``'s self-mask seed and of ``u``'s pairwise seeds with each
   member of ``D``: never both kinds for one trainer's update, so no update is ever unmasked
   alone.
4. **Unmask** (:func:`unmask`). The sum of ``S``'s masked words, minus each self-mask and each
   pairwise mask with ``D`` (seeds rebuilt from any ``threshold`` valid shares), is the exact
   integer sum of the quantized updates. Anyone with the files recomputes it bit for bit.

Bad input is excluded by rule, never summed: a member with an unusable key document is not in
the masking set; a masked update that is malformed (wrong length, members, threshold, scale, or
share tables) is in ``D``; a share that does not match its dealer's hash is ignored (the
member is named in ``rejected``); a share document that is malformed or sees another ``S`` is
ignored. What cannot be excluded stops the round with an error naming the trainer: fewer than
``threshold`` valid shares of a secret (wait for more share documents), shares that rebuild a
secret other than the one committed (an inconsistent dealer), or a sum outside the bound the
clipped updates imply (a member masked with other keys than it published).
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..weights import Array
from .crypto import (
    MAX_WEIGHT,
    WORD,
    SecAggError,
    TrainerSecret,
    box_key,
    combine,
    dequantize,
    exchange,
    expand,
    open_box,
    pair_seed,
    quantize,
    seal,
    share_bytes,
    share_value,
    split,
    threshold_for,
)

KEYS_FORMAT = "decentralml-secagg-keys/1"
SHARES_FORMAT = "decentralml-secagg-shares/1"
MAGIC = b"DMLSAG1\n"
MAX_KEY_ROUNDS = 4096
MAX_HEADER = 64 << 20
_PROBE = bytes(range(1, 33))  # a fixed private key to test peers' public keys with

Layout = tuple[tuple[str, tuple[int, ...]], ...]


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _json(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SecAggError(f"{what} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise SecAggError(f"{what} is not a JSON object")
    return value


def _hex(value: Any, size: int, what: str) -> bytes:
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != size:
        raise SecAggError(f"{what} must be {size} bytes of hex")
    return raw


# ---- 1. keys ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class KeyDocument:
    """A trainer's public keys for rounds ``first_round .. first_round + len(mask) - 1``."""

    task: int
    trainer: str
    first_round: int
    mask: tuple[bytes, ...]
    enc: tuple[bytes, ...]

    def keys(self, round_index: int) -> tuple[bytes, bytes]:
        """``(mask public key, share-box public key)`` for one round."""
        i = round_index - self.first_round
        if not 0 <= i < len(self.mask):
            raise SecAggError(
                f"{self.trainer}'s key document covers rounds {self.first_round}.."
                f"{self.first_round + len(self.mask) - 1}, not {round_index}"
            )
        return self.mask[i], self.enc[i]


def key_document(
    secret: TrainerSecret, task: int, trainer: str, first_round: int, rounds: int
) -> bytes:
    """The key document of ``rounds`` rounds from ``first_round`` (canonical JSON)."""
    if not 1 <= rounds <= MAX_KEY_ROUNDS:
        raise SecAggError(f"a key document covers 1..{MAX_KEY_ROUNDS} rounds, not {rounds}")
    span = range(first_round, first_round + rounds)
    return _canonical(
        {
            "format": KEYS_FORMAT,
            "task": task,
            "trainer": trainer,
            "first_round": first_round,
            "mask": [secret.public_key(task, r, "mask").hex() for r in span],
            "enc": [secret.public_key(task, r, "enc").hex() for r in span],
        }
    )


def parse_key_document(data: bytes, task: int, trainer: str) -> KeyDocument:
    raw = _json(data, f"{trainer}'s key document")
    if raw.get("format") != KEYS_FORMAT:
        raise SecAggError(f"{trainer}'s key document has format {raw.get('format')!r}")
    if raw.get("task") != task or raw.get("trainer") != trainer:
        raise SecAggError(
            f"{trainer}'s key document names task {raw.get('task')!r} and trainer "
            f"{raw.get('trainer')!r}: it is not this trainer's for task {task}"
        )
    first, mask, enc = raw.get("first_round"), raw.get("mask"), raw.get("enc")
    if not isinstance(first, int) or isinstance(first, bool) or first < 0:
        raise SecAggError(f"{trainer}'s key document has no valid first_round")
    if not (isinstance(mask, list) and isinstance(enc, list) and len(mask) == len(enc)):
        raise SecAggError(f"{trainer}'s key document needs equal mask and enc key lists")
    if not 1 <= len(mask) <= MAX_KEY_ROUNDS:
        raise SecAggError(f"{trainer}'s key document covers {len(mask)} rounds")
    return KeyDocument(
        task,
        trainer,
        first,
        tuple(_hex(k, 32, f"{trainer}'s mask key") for k in mask),
        tuple(_hex(k, 32, f"{trainer}'s enc key") for k in enc),
    )


def masking_set(
    members: Sequence[str], documents: Mapping[str, bytes | None], task: int, round_index: int
) -> tuple[dict[str, KeyDocument], dict[str, str]]:
    """``(usable key documents by member, in member order; {member: why excluded})``."""
    usable: dict[str, KeyDocument] = {}
    rejected: dict[str, str] = {}
    for member in sorted(members):
        data = documents.get(member)
        if data is None:
            rejected[member] = "no key document could be fetched"
            continue
        try:
            doc = parse_key_document(data, task, member)
            for public in doc.keys(round_index):
                exchange(_PROBE, public)  # a low-order point fails here
        except SecAggError as exc:
            rejected[member] = str(exc)
            continue
        usable[member] = doc
    return usable, rejected


# ---- 2. masked updates -----------------------------------------------------------------------
def _secret_ids(dealer: str, members: Iterable[str]) -> list[str]:
    return ["b"] + [f"p/{m}" for m in sorted(members) if m != dealer]


def _context(task: int, round_index: int, dealer: str, holder: str) -> str:
    return f"{task}/{round_index}/{dealer}/{holder}"


def _share_hash(context: str, sid: str, share: bytes) -> str:
    return hashlib.blake2b(f"{context}/{sid}".encode() + share, digest_size=16).hexdigest()


def _commitment(task: int, round_index: int, dealer: str, sid: str, secret: bytes) -> str:
    tag = f"decentralml/secagg/commit/{task}/{round_index}/{dealer}/{sid}".encode()
    return hashlib.blake2b(tag + secret, digest_size=32).hexdigest()


@dataclass
class MaskedUpdate:
    """A decoded masked update: its header fields and its uint32 words."""

    task: int
    round: int
    trainer: str
    members: tuple[str, ...]
    threshold: int
    bits: int
    weight: int
    layout: Layout
    commitments: dict[str, str]
    boxes: dict[str, bytes]
    share_hashes: dict[str, dict[str, str]]
    values: Array = field(repr=False)

    def header(self) -> dict[str, Any]:
        return {
            "format": MAGIC.decode().strip(),
            "task": self.task,
            "round": self.round,
            "trainer": self.trainer,
            "members": list(self.members),
            "threshold": self.threshold,
            "bits": self.bits,
            "weight": self.weight,
            "layout": [[name, list(shape)] for name, shape in self.layout],
            "commitments": self.commitments,
            "boxes": {h: box.hex() for h, box in self.boxes.items()},
            "share_hashes": self.share_hashes,
        }

    def encode(self) -> bytes:
        header = _canonical(self.header())
        return MAGIC + struct.pack(">I", len(header)) + header + self.values.astype("<u4").tobytes()


def _words(layout: Layout) -> int:
    return sum(math.prod(shape) for _, shape in layout)


def mask_update(
    secret: TrainerSecret,
    *,
    task: int,
    round_index: int,
    trainer: str,
    keys: Mapping[str, KeyDocument],
    delta: Mapping[str, Array],
    samples: int,
    clip: float,
    bits: int,
) -> MaskedUpdate:
    """``trainer``'s masked update of ``delta`` among the masking set ``keys``."""
    members = tuple(sorted(keys))
    if trainer not in keys:
        raise SecAggError(f"{trainer} is not in the round's masking set")
    if len(members) < 2:
        raise SecAggError("secure aggregation needs at least 2 members with keys in the round")
    layout: Layout = tuple((name, tuple(int(d) for d in a.shape)) for name, a in delta.items())
    flat = np.concatenate([np.asarray(a, np.float64).ravel() for a in delta.values()])
    norm = float(np.linalg.norm(flat))
    if not math.isfinite(norm):
        raise SecAggError("the update is not finite")
    if norm > clip:
        flat *= clip / norm
    weight = max(1, min(int(samples), MAX_WEIGHT))
    words = quantize(flat, weight, bits)
    seeds = {"b": secrets.token_bytes(16)}
    np.add(words, expand(seeds["b"], words.size), out=words)
    mask_private = secret.private_key(task, round_index, "mask")
    for peer in members:
        if peer == trainer:
            continue
        seed = pair_seed(
            mask_private, keys[peer].keys(round_index)[0], task, round_index, trainer, peer
        )
        seeds[f"p/{peer}"] = seed
        mask = expand(seed, words.size)
        if trainer < peer:
            np.add(words, mask, out=words)
        else:
            np.subtract(words, mask, out=words)
    threshold = threshold_for(len(members))
    dealt = {sid: split(value, len(members), threshold) for sid, value in seeds.items()}
    enc_private = secret.private_key(task, round_index, "enc")
    boxes: dict[str, bytes] = {}
    hashes: dict[str, dict[str, str]] = {}
    for i, holder in enumerate(members):
        context = _context(task, round_index, trainer, holder)
        mine = {sid: share_bytes(shares[i]) for sid, shares in dealt.items()}
        hashes[holder] = {sid: _share_hash(context, sid, s) for sid, s in mine.items()}
        key = box_key(enc_private, keys[holder].keys(round_index)[1], task, round_index)
        boxes[holder] = seal(key, _canonical({s: v.hex() for s, v in mine.items()}), context)
    commitments = {
        sid: _commitment(task, round_index, trainer, sid, value) for sid, value in seeds.items()
    }
    return MaskedUpdate(
        task,
        round_index,
        trainer,
        members,
        threshold,
        bits,
        weight,
        layout,
        commitments,
        boxes,
        hashes,
        words,
    )


def decode_masked(
    data: bytes,
    *,
    task: int,
    round_index: int,
    trainer: str,
    members: Sequence[str],
    bits: int,
    layout: Layout,
) -> MaskedUpdate:
    """Decode and check a masked update against what the round expects; every mismatch
    raises :class:`SecAggError` naming it (the rule then puts the trainer in ``D``)."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
        raise SecAggError(f"{trainer}'s update is not a masked update")
    (size,) = struct.unpack(">I", data[len(MAGIC) : len(MAGIC) + 4])
    start = len(MAGIC) + 4
    if size > MAX_HEADER or start + size > len(data):
        raise SecAggError(f"{trainer}'s masked update has a truncated header")
    raw = _json(data[start : start + size], f"{trainer}'s masked update header")
    body = data[start + size :]
    expected_members = sorted(members)
    threshold = threshold_for(len(expected_members))
    checks: dict[str, Any] = {
        "task": task,
        "round": round_index,
        "trainer": trainer,
        "members": expected_members,
        "threshold": threshold,
        "bits": bits,
        "layout": [[n, list(s)] for n, s in layout],
    }
    for name, want in checks.items():
        if raw.get(name) != want:
            raise SecAggError(
                f"{trainer}'s masked update has {name} {raw.get(name)!r}, "
                f"the round expects {want!r}"
            )
    words = _words(layout)
    if len(body) != 4 * words:
        raise SecAggError(
            f"{trainer}'s masked update has {len(body) // 4} words, the model has {words}"
        )
    weight = raw.get("weight")
    if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= MAX_WEIGHT:
        raise SecAggError(f"{trainer}'s masked update has weight {weight!r}")
    sids = set(_secret_ids(trainer, expected_members))
    commitments, boxes, hashes = raw.get("commitments"), raw.get("boxes"), raw.get("share_hashes")
    if not isinstance(commitments, dict) or set(commitments) != sids:
        raise SecAggError(f"{trainer}'s masked update does not commit to each of its secrets")
    if not isinstance(boxes, dict) or set(boxes) != set(expected_members):
        raise SecAggError(f"{trainer}'s masked update does not deal a share box to each member")
    if not isinstance(hashes, dict) or set(hashes) != set(expected_members):
        raise SecAggError(f"{trainer}'s masked update lacks share hashes for some member")
    for holder, table in hashes.items():
        if not isinstance(table, dict) or set(table) != sids:
            raise SecAggError(f"{trainer}'s share hashes for {holder} do not cover its secrets")
    try:
        decoded_boxes = {h: bytes.fromhex(b) for h, b in boxes.items()}
    except (TypeError, ValueError):
        raise SecAggError(f"{trainer}'s share boxes are not hex") from None
    return MaskedUpdate(
        task,
        round_index,
        trainer,
        tuple(expected_members),
        checks["threshold"],
        bits,
        weight,
        layout,
        dict(commitments),
        decoded_boxes,
        {h: dict(t) for h, t in hashes.items()},
        np.frombuffer(body, dtype="<u4").astype(WORD),
    )


# ---- 3. share documents ----------------------------------------------------------------------
def share_document(
    secret: TrainerSecret,
    *,
    task: int,
    round_index: int,
    holder: str,
    keys: Mapping[str, KeyDocument],
    submitted: Mapping[str, MaskedUpdate],
) -> bytes:
    """``holder``'s shares for the unmasking: self-mask seeds of ``submitted`` and their
    pairwise seeds with the members that did not submit. A box that does not open, or a share
    that does not match its hash, is left out and listed in ``complaints``."""
    members = sorted(keys)
    dropped = [m for m in members if m not in submitted]
    enc_private = secret.private_key(task, round_index, "enc")
    out: dict[str, dict[str, str]] = {}
    complaints: dict[str, str] = {}
    for dealer, update in sorted(submitted.items()):
        context = _context(task, round_index, dealer, holder)
        try:
            key = box_key(enc_private, keys[dealer].keys(round_index)[1], task, round_index)
            mine = _json(open_box(key, update.boxes[holder], context), f"{dealer}'s box")
            wanted = ["b"] + [f"p/{w}" for w in dropped]
            shares = {sid: _hex(mine.get(sid), 17, f"{dealer}'s share {sid}") for sid in wanted}
            for sid, value in shares.items():
                if _share_hash(context, sid, value) != update.share_hashes[holder][sid]:
                    raise SecAggError(f"{dealer}'s share {sid} does not match its hash")
        except (SecAggError, KeyError) as exc:
            complaints[dealer] = str(exc)
            continue
        out[dealer] = {sid: value.hex() for sid, value in shares.items()}
    return _canonical(
        {
            "format": SHARES_FORMAT,
            "task": task,
            "round": round_index,
            "trainer": holder,
            "submitted": sorted(submitted),
            "shares": out,
            "complaints": complaints,
        }
    )


# ---- 4. unmasking -----------------------------------------------------------------------------
@dataclass
class Unmasked:
    """The exact integer sum of the submitted updates, and what was left out and why."""

    total: Array
    weight: int
    included: list[str]
    bits: int
    layout: Layout
    rejected: dict[str, str] = field(default_factory=dict)

    def mean(self) -> dict[str, Array]:
        """The weighted mean delta (float64 per tensor)."""
        flat = dequantize(self.total, self.bits) / float(self.weight)
        out, offset = {}, 0
        for name, shape in self.layout:
            size = math.prod(shape)
            out[name] = flat[offset : offset + size].reshape(shape)
            offset += size
        return out


def unmask(
    *,
    task: int,
    round_index: int,
    members: Sequence[str],
    submitted: Mapping[str, MaskedUpdate],
    share_documents: Mapping[str, bytes],
    clip: float,
) -> Unmasked:
    """Unmask the sum of ``submitted`` (the well-formed revealed updates) among the masking
    set ``members`` with the members' share documents; see the module doc for the rules."""
    order = sorted(members)
    if not submitted:
        raise SecAggError("no masked update was submitted in the round")
    first = next(iter(submitted.values()))
    layout, bits = first.layout, first.bits
    threshold = threshold_for(len(order))
    included = sorted(submitted)
    dropped = [m for m in order if m not in submitted]
    rejected: dict[str, str] = {}
    docs: dict[str, dict[str, Any]] = {}
    for holder, data in share_documents.items():
        try:
            doc = _json(data, f"{holder}'s share document")
            if (doc.get("format"), doc.get("task"), doc.get("round"), doc.get("trainer")) != (
                SHARES_FORMAT,
                task,
                round_index,
                holder,
            ) or holder not in order:
                raise SecAggError(f"{holder}'s share document is not for this round and member")
            if doc.get("submitted") != included:
                raise SecAggError(
                    f"{holder}'s share document sees submitted {doc.get('submitted')!r}, "
                    f"the round's is {included!r}"
                )
            if not isinstance(doc.get("shares"), dict):
                raise SecAggError(f"{holder}'s share document has no shares")
        except SecAggError as exc:
            rejected[holder] = str(exc)
            continue
        docs[holder] = doc

    def rebuild(dealer: str, sid: str) -> bytes:
        update = submitted[dealer]
        points: list[tuple[int, int]] = []
        for position, holder in enumerate(order):
            doc = docs.get(holder)
            shares = doc["shares"].get(dealer) if doc else None
            value = shares.get(sid) if isinstance(shares, dict) else None
            if value is None:
                continue
            context = _context(task, round_index, dealer, holder)
            try:
                raw = _hex(value, 17, "a share")
                if _share_hash(context, sid, raw) != update.share_hashes[holder][sid]:
                    raise SecAggError("does not match its dealer's hash")
                points.append((position + 1, share_value(raw)))
            except SecAggError as exc:
                rejected.setdefault(holder, f"share of {dealer}'s {sid} ignored: {exc}")
                continue
            if len(points) == threshold:
                break
        if len(points) < threshold:
            raise SecAggError(
                f"only {len(points)} of the {threshold} shares needed to rebuild {dealer}'s "
                f"{sid} are valid: wait for more members' share documents"
            )
        seed = combine(points)
        if _commitment(task, round_index, dealer, sid, seed) != update.commitments[sid]:
            raise SecAggError(
                f"{dealer}'s shares of {sid} rebuild another secret than it committed to: "
                "it dealt inconsistent shares, so the round cannot be unmasked"
            )
        return seed

    words = _words(layout)
    total = np.zeros(words, dtype=WORD)
    weight = 0
    for dealer in included:
        update = submitted[dealer]
        np.add(total, update.values, out=total)
        np.subtract(total, expand(rebuild(dealer, "b"), words), out=total)
        for other in dropped:
            mask = expand(rebuild(dealer, f"p/{other}"), words)
            if dealer < other:
                np.subtract(total, mask, out=total)
            else:
                np.add(total, mask, out=total)
        weight += update.weight
    result = Unmasked(total, weight, included, bits, layout, rejected)
    _check_bound(result, clip, len(included))
    return result


def _check_bound(result: Unmasked, clip: float, count: int) -> None:
    """The sum of clipped, weighted updates has norm at most ``weight * clip`` (plus rounding):
    a mask that did not cancel makes it far larger, so it can never pass as a result."""
    flat = dequantize(result.total, result.bits)
    rounding = 0.5 * count * math.sqrt(flat.size) / float(1 << result.bits)
    bound = result.weight * clip * (1 + 1e-9) + rounding
    norm = float(np.linalg.norm(flat))
    if norm > bound:
        raise SecAggError(
            f"the unmasked sum has norm {norm:.3g}, above the {bound:.3g} its clipped updates "
            "allow: some member's masks do not cancel (it masked with keys other than it "
            "published); the round cannot be aggregated"
        )
