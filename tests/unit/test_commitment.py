"""The update commitment matches the pallet's SCALE layout bit for bit."""

from __future__ import annotations

import pytest
from decentralml.core.chain.commitment import compact_len, update_commitment
from decentralml.core.errors import InputError
from decentralml.core.types import ContentRef

CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
BOB = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"
REF = ContentRef(cid=CID, digest=bytes([1] * 32), size=11)


def test_matches_the_vector_pinned_in_the_pallet_tests() -> None:
    # pallet-decentralml/src/tests/rounds.rs::commitment_encoding_is_pinned
    got = update_commitment(7, 3, bytes([2] * 32), REF, 1_000, bytes([9] * 32))
    assert got.hex() == "513a8726a93180dd27448edacf0e6704d96c13bef0448aae0381dce5d541e420"


def test_every_field_is_bound() -> None:
    salt = bytes(32)
    base = update_commitment(1, 0, ALICE, REF, 10, salt)
    assert update_commitment(1, 0, ALICE, REF, 10, salt) == base
    others = [
        update_commitment(2, 0, ALICE, REF, 10, salt),
        update_commitment(1, 1, ALICE, REF, 10, salt),
        update_commitment(1, 0, BOB, REF, 10, salt),
        update_commitment(1, 0, ALICE, REF, 11, salt),
        update_commitment(1, 0, ALICE, REF, 10, bytes([1]) + bytes(31)),
        update_commitment(1, 0, ALICE, ContentRef(CID, bytes([2] * 32), 11), 10, salt),
    ]
    assert base not in others and len(set(others)) == len(others)


def test_compact_lengths_and_bad_input() -> None:
    assert compact_len(59) == bytes([59 << 2])
    assert compact_len(64) == bytes([0x01, 0x01])
    assert compact_len(1 << 14) == (((1 << 14) << 2) | 2).to_bytes(4, "little")
    with pytest.raises(InputError, match="salt"):
        update_commitment(1, 0, bytes(32), REF, 10, b"short")
    with pytest.raises(InputError, match="SS58"):
        update_commitment(1, 0, "not-an-address", REF, 10, bytes(32))
