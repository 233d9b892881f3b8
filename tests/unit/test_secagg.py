"""Secure aggregation: the unmasked sum is the exact sum of the quantized updates, with
dropouts before and after submitting, and every forged input is excluded or refused, never
summed."""

from __future__ import annotations

import json

import numpy as np
import pytest
from decentralml.core.fl.secagg import (
    SecAggError,
    TrainerSecret,
    decode_masked,
    key_document,
    mask_update,
    masking_set,
    scale_bits,
    share_document,
    threshold_for,
    unmask,
)
from decentralml.core.fl.secagg.crypto import combine, dequantize, quantize, split

TASK, ROUND, CLIP = 4, 2, 1.0
LAYOUT = (("dense/kernel", (8, 4)), ("dense/bias", (4,)))
NAMES = [f"trainer-{i:02d}" for i in range(10)]


class Round:
    """Ten trainers with keys; each masks a random update of its own."""

    def __init__(self, names: list[str] = NAMES, seed: int = 0) -> None:
        self.secrets = {n: TrainerSecret.generate() for n in names}
        self.documents = {n: key_document(self.secrets[n], TASK, n, 0, 4) for n in names}
        self.keys, self.excluded = masking_set(names, self.documents, TASK, ROUND)
        self.bits = scale_bits(len(names), CLIP)
        rng = np.random.default_rng(seed)
        self.deltas = {
            n: {name: rng.normal(0, 0.2, shape).astype(np.float32) for name, shape in LAYOUT}
            for n in names
        }
        self.samples = {n: 50 + 7 * i for i, n in enumerate(names)}

    def masked(self, name: str) -> bytes:
        return mask_update(
            self.secrets[name],
            task=TASK,
            round_index=ROUND,
            trainer=name,
            keys=self.keys,
            delta=self.deltas[name],
            samples=self.samples[name],
            clip=CLIP,
            bits=self.bits,
        ).encode()

    def decode(self, name: str, data: bytes):
        return decode_masked(
            data,
            task=TASK,
            round_index=ROUND,
            trainer=name,
            members=sorted(self.keys),
            bits=self.bits,
            layout=LAYOUT,
        )

    def shares(self, holder: str, submitted) -> bytes:
        return share_document(
            self.secrets[holder],
            task=TASK,
            round_index=ROUND,
            holder=holder,
            keys=self.keys,
            submitted=submitted,
        )

    def unmask(self, submitted, documents):
        return unmask(
            task=TASK,
            round_index=ROUND,
            members=sorted(self.keys),
            submitted=submitted,
            share_documents=documents,
            clip=CLIP,
        )

    def expected(self, names) -> np.ndarray:
        total = np.zeros(sum(int(np.prod(s)) for _, s in LAYOUT), np.uint32)
        for n in names:
            flat = np.concatenate([self.deltas[n][k].astype(np.float64).ravel() for k, _ in LAYOUT])
            flat *= min(1.0, CLIP / np.linalg.norm(flat))
            total += quantize(flat, self.samples[n], self.bits)
        return total


def _run(world: Round, submitting: list[str], online: list[str]):
    submitted = {n: world.decode(n, world.masked(n)) for n in submitting}
    documents = {h: world.shares(h, submitted) for h in online}
    return world.unmask(submitted, documents), submitted


def test_shamir_rebuilds_from_any_threshold_and_not_fewer() -> None:
    secret = bytes(range(16))
    shares = split(secret, 10, 7)
    points = list(enumerate(shares, start=1))
    assert combine(points[:7]) == secret
    assert combine(points[3:]) == secret
    # Six points fit a random polynomial: almost never this secret, often none at all.
    rebuilt: bytes | str
    try:
        rebuilt = combine(points[:6])
    except SecAggError as exc:
        rebuilt = str(exc)
    assert rebuilt != secret
    assert threshold_for(10) == 7 and threshold_for(3) == 2


def test_a_third_dropping_after_submitting_still_unmasks_the_exact_sum() -> None:
    world = Round()
    result, _ = _run(world, NAMES, NAMES[3:])  # three killed after submitting
    assert np.array_equal(result.total, world.expected(NAMES))
    assert result.included == NAMES and result.rejected == {}
    assert result.weight == sum(world.samples.values())
    mean = result.mean()
    flat = np.concatenate([mean[k].ravel() for k, _ in LAYOUT])
    want = dequantize(world.expected(NAMES), world.bits) / result.weight
    assert np.allclose(flat, want)


def test_members_that_never_submitted_have_their_pairwise_masks_removed() -> None:
    world = Round()
    submitting = NAMES[2:]  # two dropped before submitting
    result, _ = _run(world, submitting, NAMES[2:9])  # and one more after
    assert np.array_equal(result.total, world.expected(submitting))
    assert result.included == submitting


def test_too_few_share_documents_are_refused_not_guessed() -> None:
    world = Round()
    with pytest.raises(SecAggError, match="wait for more members' share documents"):
        _run(world, NAMES, NAMES[4:])  # 6 of the 7 needed


def test_no_single_update_is_ever_unmasked_alone() -> None:
    # A holder reveals, for a submitted trainer, its self-mask share only, never shares of its
    # pairwise seeds with submitted members.
    world = Round()
    submitted = {n: world.decode(n, world.masked(n)) for n in NAMES[1:]}
    doc = json.loads(world.shares(NAMES[5], submitted))
    for dealer, shares in doc["shares"].items():
        assert set(shares) == {"b", f"p/{NAMES[0]}"}, dealer


def test_a_masked_update_of_the_wrong_length_is_rejected() -> None:
    world = Round()
    data = world.masked(NAMES[0])
    with pytest.raises(SecAggError, match="words, the model has"):
        world.decode(NAMES[0], data[:-4])
    with pytest.raises(SecAggError, match="members"):
        decode_masked(
            data,
            task=TASK,
            round_index=ROUND,
            trainer=NAMES[0],
            members=sorted(world.keys)[1:],
            bits=world.bits,
            layout=LAYOUT,
        )


def test_a_wrong_public_key_excludes_its_trainer_from_the_masking_set() -> None:
    names = NAMES[:6]
    world = Round(names)
    doc = json.loads(world.documents[names[0]])
    doc["mask"][ROUND] = "00" * 32  # a low-order point: every shared secret would be zero
    world.documents[names[0]] = json.dumps(doc).encode()
    doc = json.loads(world.documents[names[1]])
    doc["trainer"] = names[2]  # someone else's
    world.documents[names[1]] = json.dumps(doc).encode()
    keys, excluded = masking_set(names, world.documents, TASK, ROUND)
    assert sorted(excluded) == names[:2]
    assert "unusable X25519 public key" in excluded[names[0]]
    world.keys = keys
    rest = names[2:]
    result, _ = _run(world, rest, rest)
    assert np.array_equal(result.total, world.expected(rest))


def test_a_forged_share_is_ignored_and_its_holder_named() -> None:
    world = Round()
    submitted = {n: world.decode(n, world.masked(n)) for n in NAMES}
    documents = {h: world.shares(h, submitted) for h in NAMES[2:]}
    forged = json.loads(documents[NAMES[2]])
    share = forged["shares"][NAMES[5]]["b"]
    forged["shares"][NAMES[5]]["b"] = ("0" if share[0] != "0" else "1") + share[1:]
    documents[NAMES[2]] = json.dumps(forged).encode()
    result = world.unmask(submitted, documents)
    assert np.array_equal(result.total, world.expected(NAMES))
    assert "does not match its dealer's hash" in result.rejected[NAMES[2]]


def test_a_share_document_with_another_view_of_the_round_is_ignored() -> None:
    world = Round()
    submitted = {n: world.decode(n, world.masked(n)) for n in NAMES}
    documents = {h: world.shares(h, submitted) for h in NAMES}
    other = json.loads(documents[NAMES[0]])
    other["submitted"] = NAMES[1:]
    documents[NAMES[0]] = json.dumps(other).encode()
    documents[NAMES[1]] = b"not json"
    result = world.unmask(submitted, documents)
    assert np.array_equal(result.total, world.expected(NAMES))
    assert sorted(result.rejected) == NAMES[:2]


def test_masking_with_unpublished_keys_stops_the_round_instead_of_a_wrong_sum() -> None:
    world = Round(NAMES[:5])
    cheat = NAMES[0]
    world.secrets[cheat] = TrainerSecret.generate()  # not the keys it published
    submitted = {n: world.decode(n, world.masked(n)) for n in NAMES[:5]}
    documents = {h: world.shares(h, submitted) for h in NAMES[1:5]}
    with pytest.raises(SecAggError):
        world.unmask(submitted, documents)
