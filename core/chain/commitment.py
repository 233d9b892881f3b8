"""The commitment a trainer publishes before revealing its update (pallet ``commitment_of``).

``blake2_256(SCALE(task_id: u32, round: u32, trainer: AccountId32, cid: Vec<u8>, digest:
[u8; 32], samples: u64, salt: [u8; 32]))``. The trainer and the round are inside the hash, so
a commitment copied from another trainer, or from another round, opens to nothing. The salt
(32 random bytes, kept private until the reveal) stops anyone from testing guesses of the
update against the commitment. Pure functions; the same test vector is pinned in the pallet's
tests (``commitment_encoding_is_pinned``) and in tests/unit/test_commitment.py.
"""

from __future__ import annotations

import hashlib
import secrets
import struct

from substrateinterface.utils.ss58 import ss58_decode

from ..errors import InputError
from ..types import Address, ContentRef

SALT_BYTES = 32


def compact_len(n: int) -> bytes:
    """SCALE compact encoding of a length."""
    if n < 0:
        raise InputError("a length cannot be negative")
    if n < 1 << 6:
        return bytes([n << 2])
    if n < 1 << 14:
        return struct.pack("<H", (n << 2) | 1)
    if n < 1 << 30:
        return struct.pack("<I", (n << 2) | 2)
    raise InputError("length too large for this encoder")


def account_bytes(trainer: Address | bytes) -> bytes:
    """The 32-byte account id of an SS58 address (or the bytes themselves)."""
    if isinstance(trainer, bytes):
        raw = trainer
    else:
        try:
            raw = bytes.fromhex(ss58_decode(trainer))
        except ValueError as exc:
            raise InputError(f"{trainer!r} is not an SS58 address: {exc}") from None
    if len(raw) != 32:
        raise InputError("an account id is 32 bytes")
    return raw


def update_commitment(
    task_id: int,
    round_index: int,
    trainer: Address | bytes,
    update: ContentRef,
    samples: int,
    salt: bytes,
) -> bytes:
    """The 32-byte commitment to ``update`` by ``trainer`` for ``round_index`` of ``task_id``."""
    if len(salt) != SALT_BYTES:
        raise InputError(f"a commitment salt is {SALT_BYTES} bytes")
    if not 0 <= samples < 1 << 64:
        raise InputError("samples must fit in a u64")
    cid = update.cid.encode()
    encoded = b"".join(
        (
            struct.pack("<II", task_id, round_index),
            account_bytes(trainer),
            compact_len(len(cid)),
            cid,
            update.digest,
            struct.pack("<Q", samples),
            salt,
        )
    )
    return hashlib.blake2b(encoded, digest_size=32).digest()


def new_salt() -> bytes:
    """Fresh salt from the OS's CSPRNG."""
    return secrets.token_bytes(SALT_BYTES)
