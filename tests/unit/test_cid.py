"""Local CID computation against vectors produced by Kubo 0.43.0 itself:
`ipfs add --only-hash --cid-version=1 --raw-leaves --chunker=size-262144` on N bytes of 'a'."""

from __future__ import annotations

import hashlib

import pytest
from decentralml.core.storage.cid import (
    CHUNK_SIZE,
    CidBuilder,
    cid_from_str,
    cid_to_str,
    compute_cid,
)

KUBO_VECTORS = {
    0: "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
    5: "bafkreihns2hiidiq2ljrhkdqxqjrutrmgeoxvue334zlgqmbi4rb6ung4i",
    262_144: "bafkreig5hxpioyr5tjvtktdizfb5dcoitrrwklmulz5334eynsxjdjevee",
    262_145: "bafybeifwp2ckiq7kaefcrxkcalv6bs5x7e7ozrigy4ypvcqwetgnxfb2hi",
    174 * 262_144: "bafybeidmdbi67lxykleyk52nzphlaaadvuwzxsjhsjtqmgwxqq3btygebq",  # one full node
    174 * 262_144 + 1: "bafybeiam3vrs6si4qb52sq4rpx7pcidmypks2t3r2bh5wy47g3culywsxu",  # depth 2
}


@pytest.mark.parametrize(("size", "expected"), sorted(KUBO_VECTORS.items()))
def test_matches_kubo(size: int, expected: str) -> None:
    cid, digest, got_size = compute_cid([b"a" * size])
    assert cid == expected
    assert got_size == size
    assert digest == hashlib.sha256(b"a" * size).digest()


@pytest.mark.parametrize("piece", [1, 7, 1000, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 3, 10**6])
def test_piece_size_does_not_matter(piece: int) -> None:
    data = bytes(range(256)) * 4000  # 1,024,000 bytes: several leaves
    expected = compute_cid([data])
    builder = CidBuilder()
    for i in range(0, len(data), piece):
        builder.update(data[i : i + piece])
    assert builder.finish() == expected


def test_different_bytes_different_cid() -> None:
    assert compute_cid([b"a" * 300_000])[0] != compute_cid([b"a" * 299_999 + b"b"])[0]


def test_round_trip_string_form() -> None:
    cid = KUBO_VECTORS[5]
    assert cid_to_str(cid_from_str(cid)) == cid
    with pytest.raises(ValueError, match="base32"):
        cid_from_str("QmSomething")
