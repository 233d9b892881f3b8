"""The primitives of secure aggregation: per-round X25519 keys, the mask generator, Shamir
secret sharing, the share boxes and the fixed-point encoding.

- **Keys.** A trainer keeps one 32-byte secret (``TrainerSecret``, in its role's state
  directory, never on chain or in a log). Each round's two X25519 private keys, one for masking
  and one for encrypting shares, are HKDF-SHA256 of that secret with the task and round in the
  info string, so a round's key can be revealed (when its trainer drops out) without revealing
  any other round's. The public keys of a range of rounds go in one key document on IPFS,
  whose content reference the trainer publishes on chain once (``publish_keys``).
- **Masks.** A 16-byte seed expands to ``n`` uint32 words with ChaCha20 (a stream cipher run on
  zeros), so a mask is pseudorandom modulo 2^32 and the same on every machine.
- **Pairwise seeds.** ``HKDF(X25519(mine, theirs))`` with the task, round and the sorted pair in
  the info: both trainers of a pair derive the same 16 bytes; the one that sorts first adds the
  mask, the other subtracts it.
- **Shamir.** Secrets are 16-byte integers shared over GF(2^130 - 5) (a prime above 2^128), the
  holder with 0-based position ``i`` getting the polynomial's value at ``i + 1``; any
  ``threshold`` shares give the secret back by Lagrange interpolation at 0.
- **Boxes.** A dealer's shares for one holder travel encrypted with ChaCha20-Poly1305 under
  ``HKDF(X25519(dealer's enc key, holder's enc key))``, bound to (task, round, dealer, holder).
- **Fixed point.** A clipped update (L2 norm at most ``clip``) times its weight (samples, at
  most ``MAX_WEIGHT``) is rounded at ``2^-f``; ``f`` is chosen so the sum of ``max_trainers``
  such words can never pass 2^31 in magnitude, so the sum modulo 2^32 read as a signed integer
  is the exact integer sum.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass

import numpy as np

from ...errors import TrainingError
from ..weights import Array

PRIME = (1 << 130) - 5
SEED_BYTES = 16
SHARE_BYTES = 17  # a GF(2^130 - 5) element
MAX_WEIGHT = 1 << 16
"""Under secure aggregation a trainer's weight is min(samples, MAX_WEIGHT)."""
WORD = np.uint32


class SecAggError(TrainingError):
    """Secure aggregation cannot go on; the message says why and what to do."""


# ---- keys -------------------------------------------------------------------------------------
def _hkdf(key_material: bytes, info: str, length: int = 32) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info.encode()).derive(
        key_material
    )


@dataclass(frozen=True)
class TrainerSecret:
    """A trainer's long-term secure-aggregation secret (32 bytes)."""

    seed: bytes

    def __post_init__(self) -> None:
        if len(self.seed) != 32:
            raise SecAggError("a secure-aggregation secret is 32 bytes")

    @classmethod
    def generate(cls) -> TrainerSecret:
        return cls(secrets.token_bytes(32))

    def __repr__(self) -> str:  # never print the secret
        return "TrainerSecret(<secret>)"

    def private_key(self, task: int, round_index: int, purpose: str) -> bytes:
        """The raw X25519 private key of ``purpose`` ("mask" or "enc") for one round."""
        return _hkdf(self.seed, f"decentralml/secagg/{task}/{round_index}/{purpose}")

    def public_key(self, task: int, round_index: int, purpose: str) -> bytes:
        return public_of(self.private_key(task, round_index, purpose))


def public_of(private: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = X25519PrivateKey.from_private_bytes(private).public_key()
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def exchange(private: bytes, public: bytes) -> bytes:
    """X25519; a public key that is not 32 bytes, or a low-order point (all-zero shared
    secret), raises :class:`SecAggError`."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )

    try:
        peer = X25519PublicKey.from_public_bytes(public)
        return X25519PrivateKey.from_private_bytes(private).exchange(peer)
    except ValueError as exc:
        raise SecAggError(f"unusable X25519 public key {public.hex()}: {exc}") from None


def pair_seed(
    mask_private: bytes, peer_public: bytes, task: int, round_index: int, a: str, b: str
) -> bytes:
    """The pairwise mask seed of trainers ``a`` and ``b`` for one round."""
    low, high = sorted((a, b))
    shared = exchange(mask_private, peer_public)
    return _hkdf(shared, f"decentralml/secagg/pair/{task}/{round_index}/{low}/{high}", SEED_BYTES)


def box_key(enc_private: bytes, peer_public: bytes, task: int, round_index: int) -> bytes:
    return _hkdf(exchange(enc_private, peer_public), f"decentralml/secagg/box/{task}/{round_index}")


def seal(key: bytes, plaintext: bytes, context: str) -> bytes:
    """``nonce || ChaCha20-Poly1305(plaintext)``, the context as associated data."""
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    nonce = secrets.token_bytes(12)
    return nonce + ChaCha20Poly1305(key).encrypt(nonce, plaintext, context.encode())


def open_box(key: bytes, box: bytes, context: str) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    if len(box) < 12 + 16:
        raise SecAggError("a share box is too short")
    try:
        return ChaCha20Poly1305(key).decrypt(box[:12], box[12:], context.encode())
    except InvalidTag:
        raise SecAggError(
            f"a share box for {context} does not decrypt (wrong key or tampered)"
        ) from None


# ---- masks ------------------------------------------------------------------------------------
def expand(seed: bytes, words: int) -> Array:
    """``words`` pseudorandom uint32 words from a 16-byte seed (ChaCha20 keystream)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

    if len(seed) != SEED_BYTES:
        raise SecAggError(f"a mask seed is {SEED_BYTES} bytes, got {len(seed)}")
    key = hashlib.blake2b(seed, digest_size=32, person=b"dml-secagg-prg").digest()
    encryptor = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor()
    stream = encryptor.update(bytes(4 * words))
    words_out: Array = np.frombuffer(stream, dtype="<u4").astype(WORD, copy=False)
    return words_out


# ---- Shamir over GF(2^130 - 5) -----------------------------------------------------------------
def split(secret: bytes, holders: int, threshold: int) -> list[int]:
    """Shares of ``secret`` for ``holders`` holders (share ``i`` is the value at ``i + 1``)."""
    if not (1 <= threshold <= holders):
        raise SecAggError(f"threshold {threshold} must be 1..{holders}")
    coefficients = [int.from_bytes(secret, "big")] + [
        secrets.randbelow(PRIME) for _ in range(threshold - 1)
    ]
    shares = []
    for x in range(1, holders + 1):
        y = 0
        for c in reversed(coefficients):
            y = (y * x + c) % PRIME
        shares.append(y)
    return shares


def combine(points: list[tuple[int, int]], size: int = SEED_BYTES) -> bytes:
    """The secret from ``(x, share)`` points (Lagrange at 0)."""
    xs = [x for x, _ in points]
    if len(set(xs)) != len(xs) or any(not (0 < x < PRIME) for x in xs):
        raise SecAggError("shares must come from distinct holders")
    secret = 0
    for j, (xj, yj) in enumerate(points):
        num, den = 1, 1
        for m, xm in enumerate(xs):
            if m != j:
                num = num * xm % PRIME
                den = den * (xm - xj) % PRIME
        secret = (secret + yj * num * pow(den, -1, PRIME)) % PRIME
    if secret >= 1 << (8 * size):
        raise SecAggError("the shares do not interpolate to a secret of the dealt size")
    return secret.to_bytes(size, "big")


def share_bytes(value: int) -> bytes:
    return value.to_bytes(SHARE_BYTES, "big")


def share_value(data: bytes) -> int:
    if len(data) != SHARE_BYTES:
        raise SecAggError(f"a share is {SHARE_BYTES} bytes, got {len(data)}")
    value = int.from_bytes(data, "big")
    if value >= PRIME:
        raise SecAggError("a share is not an element of the field")
    return value


def threshold_for(members: int) -> int:
    """Shares needed of ``members`` holders: all but a third, so up to ``members // 3`` may drop
    after submitting and the sum is still recovered (and fewer than that many colluding
    holders learn nothing)."""
    return max(1, members - members // 3)


# ---- fixed point ------------------------------------------------------------------------------
def scale_bits(max_trainers: int, clip: float) -> int:
    """The largest ``f`` with ``max_trainers * MAX_WEIGHT * clip * 2^f < 2^31``."""
    if max_trainers < 1 or not (math.isfinite(clip) and clip > 0):
        raise SecAggError("secure aggregation needs max_trainers >= 1 and a positive clip")
    bits = math.floor(math.log2((2**31 - 1) / (max_trainers * MAX_WEIGHT * clip)))
    if bits < 0:
        raise SecAggError(
            f"{max_trainers} trainers at clip {clip} do not fit 32-bit fixed point; "
            "lower the clip bound or the task's max trainers"
        )
    return min(bits, 30)


def quantize(values: Array, weight: int, bits: int) -> Array:
    """``round(weight * values * 2^bits)`` modulo 2^32 (values already clipped)."""
    scaled = np.rint(values.astype(np.float64) * (float(weight) * float(1 << bits)))
    words: Array = scaled.astype(np.int64).astype(WORD)
    return words


def dequantize(total: Array, bits: int) -> Array:
    """The signed integer sum (modulo 2^32 read as int32) over ``2^bits``, as float64."""
    return total.astype(WORD).view(np.int32).astype(np.float64) / float(1 << bits)
