from __future__ import annotations

import pytest
from decentralml.core.errors import InputError
from decentralml.core.types import (
    ContentRef,
    decode_text,
    format_amount,
    from_hex,
    parse_amount,
    parse_planck,
)


@pytest.mark.parametrize(
    ("text", "planck"),
    [
        ("1", 10**12),
        ("1.5", 1_500_000_000_000),
        ("0.000000000001", 1),
        ("  2  ", 2 * 10**12),
        ("0", 0),
        ("1000000", 10**18),
    ],
)
def test_parse_amount(text: str, planck: int) -> None:
    assert parse_amount(text) == planck


@pytest.mark.parametrize(
    "bad",
    ["", "-1", "1e3", "1,5", "1.", ".5", "abc", "0.0000000000001", "1 000", "+1", "0x10", "NaN"],
)
def test_malformed_amounts_are_rejected(bad: str) -> None:
    with pytest.raises(InputError, match="malformed amount"):
        parse_amount(bad)


def test_parse_amount_with_other_decimals() -> None:
    assert parse_amount("1.25", 2) == 125
    with pytest.raises(InputError):
        parse_amount("1.255", 2)
    assert parse_amount("7", 0) == 7


def test_parse_planck() -> None:
    assert parse_planck("42") == 42
    with pytest.raises(InputError):
        parse_planck("4.2")


def test_format_amount_is_exact() -> None:
    assert format_amount(1_500_000_000_000, 12, "DML") == "1.5 DML"
    assert format_amount(1, 12) == "0.000000000001"
    assert format_amount(10**30, 12) == "1000000000000000000"
    assert format_amount(0, 12, "DML") == "0 DML"


def test_content_ref_validation_and_chain_form() -> None:
    ref = ContentRef("bafkreiabc", b"\x01" * 32, 10)
    chain = ref.to_chain()
    assert chain == {"cid": "0x" + b"bafkreiabc".hex(), "digest": "0x" + "01" * 32, "size": 10}
    assert ContentRef.from_chain(chain) == ref
    # substrate-interface decodes printable byte vectors to text: accepted too.
    assert (
        ContentRef.from_chain({"cid": "bafkreiabc", "digest": "0x" + "01" * 32, "size": 10}) == ref
    )
    with pytest.raises(InputError):
        ContentRef("", b"\x01" * 32, 1)
    with pytest.raises(InputError):
        ContentRef("x", b"\x01" * 31, 1)


def test_hex_helpers() -> None:
    assert from_hex("0x0102") == b"\x01\x02"
    assert from_hex([1, 2]) == b"\x01\x02"
    assert decode_text("0x6869") == "hi"
    assert decode_text("plain") == "plain"
