"""Chain-side logic that needs no node: nonces, dispatch errors, pallet parameter builders."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest
from decentralml.core.chain.client import ChainClient, NonceManager
from decentralml.core.chain.decentralml import (
    TaskTerms,
    aggregation_rule,
    conviction,
    jurisdictions,
    licence,
    metrics,
    proposal_kind,
)
from decentralml.core.chain.errors import dispatch_error
from decentralml.core.errors import ExtrinsicFailed, InputError
from decentralml.core.types import ContentRef


def test_nonce_manager_never_hands_out_a_nonce_twice() -> None:
    chain_view = {"a": 5}
    nonces = NonceManager(lambda addr: chain_view[addr])
    assert [nonces.next("a") for _ in range(3)] == [5, 6, 7]
    # The pool catches up: the chain's view wins when it is ahead.
    chain_view["a"] = 10
    assert nonces.next("a") == 10
    # A lagging chain view never makes us reuse a nonce.
    chain_view["a"] = 3
    assert nonces.next("a") == 11
    nonces.forget("a")
    assert nonces.next("a") == 3


def test_nonce_manager_is_thread_safe() -> None:
    nonces = NonceManager(lambda _: 0)
    got: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(200):
            n = nonces.next("x")
            with lock:
                got.append(n)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(800))


def test_era_period_must_be_a_power_of_two() -> None:
    with pytest.raises(InputError):
        ChainClient("ws://127.0.0.1:1", era_period=100)
    ChainClient("ws://127.0.0.1:1", era_period=128)


class FakeMetadata:
    """Just enough of scalecodec's metadata for error lookup."""

    def __init__(self) -> None:
        self.pallets = [SimpleNamespace(name="DecentralMl", **{"__getitem__": None})]

    def get_module_error(self, module_index: int, error_index: int) -> Any:
        if (module_index, error_index) == (20, 5):
            return SimpleNamespace(
                name="NotModelOwner", docs=["Only the model's owner may do this."]
            )
        raise IndexError


class Pallet:
    def __init__(self, name: str, index: int) -> None:
        self.name = name
        self._index = index

    def __getitem__(self, key: str) -> Any:
        assert key == "index"
        return SimpleNamespace(value=self._index)


def metadata() -> Any:
    meta = FakeMetadata()
    meta.pallets = [Pallet("Balances", 5), Pallet("DecentralMl", 20)]  # type: ignore[list-item]
    return meta


def test_module_error_carries_pallet_name_and_docs() -> None:
    error = dispatch_error(
        {"Module": {"index": 20, "error": "0x05000000"}}, metadata(), extrinsic_hash="0xab"
    )
    assert isinstance(error, ExtrinsicFailed)
    assert (error.pallet, error.error) == ("DecentralMl", "NotModelOwner")
    assert error.docs == "Only the model's owner may do this."
    assert (
        str(error)
        == "extrinsic failed: DecentralMl.NotModelOwner: Only the model's owner may do this."
    )
    assert error.extrinsic_hash == "0xab"


def test_unknown_module_error_is_still_reported() -> None:
    error = dispatch_error({"Module": {"index": 20, "error": "0x63000000"}}, metadata())
    assert error.pallet == "DecentralMl" and error.error == "Error99"


@pytest.mark.parametrize(
    ("value", "pallet", "name"),
    [
        ({"Token": "FundsUnavailable"}, "Token", "FundsUnavailable"),
        ({"Arithmetic": "Overflow"}, "Arithmetic", "Overflow"),
        ("BadOrigin", "", "BadOrigin"),
        ({"Other": None}, "", "Other"),
    ],
)
def test_system_errors(value: Any, pallet: str, name: str) -> None:
    error = dispatch_error(value, metadata())
    assert (error.pallet, error.error) == (pallet, name)
    assert error.docs


def test_parameter_builders() -> None:
    assert jurisdictions(["de", "US"]) == [["0x4445", "0x5553"]]
    assert jurisdictions(["eu"]) == [["0x4555"]]  # reserved by ISO for the European Union
    for bad in (["DEU"], ["1A"], [""], ["XX"], ["UK"]):  # UK: the code is GB
        with pytest.raises(InputError, match="jurisdiction"):
            jurisdictions(bad)
    assert metrics(0.25, 0.9) == {"loss_micros": 250_000, "accuracy": 900_000_000}
    with pytest.raises(InputError):
        metrics(0.1, 1.5)
    assert aggregation_rule("fedavg") == "FedAvg"
    assert aggregation_rule("trimmed:10") == {"TrimmedMean": 100_000_000}
    assert aggregation_rule("clip:5") == {"NormClippedFedAvg": 5}
    with pytest.raises(InputError):
        aggregation_rule("mean")
    assert conviction(0) == "None" and conviction("3") == "Locked3x"
    with pytest.raises(InputError):
        conviction(7)


def test_licence_builder() -> None:
    assert licence("Apache-2.0", commercial_use=True) == {
        "terms": {"Spdx": "0x" + b"Apache-2.0".hex()},
        "commercial_use": True,
        "attribution": True,
        "share_alike": False,
    }
    ref = ContentRef("bafkreiabc", b"\x02" * 32, 3)
    assert licence(custom=ref)["terms"] == {"Custom": ref.to_chain()}
    with pytest.raises(InputError):
        licence()
    with pytest.raises(InputError):
        licence("not a licence!")
    # Ids from the SPDX list, in their canonical case; SPDX's own form for other licences.
    assert licence("apache-2.0")["terms"] == {"Spdx": "0x" + b"Apache-2.0".hex()}
    with pytest.raises(InputError, match=r"did you mean Apache-2\.0"):
        licence("Apache-2")
    assert licence("LicenseRef-acme-1.2")["terms"] == {"Spdx": "0x" + b"LicenseRef-acme-1.2".hex()}
    with pytest.raises(InputError, match="licence reference"):
        licence("LicenseRef-")


def test_task_terms() -> None:
    terms = TaskTerms(10, 3, 1, 5, 2, 20, 5, aggregation="median", asset=1, jurisdictions=("DE",))
    chain = terms.to_chain()
    assert chain["asset"] == {"Asset": 1}
    assert chain["aggregation"] == "CoordinateMedian"
    assert chain["jurisdictions"] == [["0x4445"]]
    assert TaskTerms(10, 3, 1, 5, 2, 20, 5).to_chain()["asset"] == "Native"
    with pytest.raises(InputError, match="min trainers"):
        TaskTerms(10, 3, 6, 5, 2, 20, 5).to_chain()
    with pytest.raises(InputError, match="total rounds"):
        TaskTerms(10, 0, 1, 5, 2, 20, 5).to_chain()


def test_proposal_kinds() -> None:
    assert proposal_kind("approve-version", model=1, version=2) == {
        "ApproveVersion": {"model": 1, "version": 2}
    }
    assert proposal_kind("safety", model=1, action="suspend") == {
        "Safety": {"model": 1, "action": "Suspend"}
    }
    assert proposal_kind("jurisdictions", model=1, jurisdictions=["fr"]) == {
        "SetJurisdictions": {"model": 1, "jurisdictions": [["0x4652"]]}
    }
    assert proposal_kind("parameter", name="aggregator-fee", value="5") == {
        "SetParameter": {"AggregatorFee": 50_000_000}
    }
    assert proposal_kind("parameter", name="voting_period", value="30") == {
        "SetParameter": {"VotingPeriod": 30}
    }
    with pytest.raises(InputError):
        proposal_kind("parameter", name="nope", value="1")
    with pytest.raises(InputError):
        proposal_kind("safety", model=1, action="explode")
    with pytest.raises(InputError):
        proposal_kind("abolish-everything")


def test_light_reader_storage_prefix_and_hashers() -> None:
    from decentralml.core.chain.light import LightReader, _hash

    # Well-known: twox128("System") ++ twox128("Account").
    assert LightReader._prefix("System", "Account") == (
        "0x26aa394eea5630e07c48ae0c9558cef7b99d880ec681799c0cf30e8886371da9"
    )
    assert _hash("Identity", b"\x01") == "01"
    assert _hash("Blake2_128Concat", b"\x00").endswith("00")
    assert len(_hash("Blake2_128Concat", b"\x00")) == 34
    assert len(_hash("Twox64Concat", b"\x00\x00\x00\x00")) == 24
