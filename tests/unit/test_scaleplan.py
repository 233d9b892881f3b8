"""Decoding plans render every value exactly as scalecodec does.

The metadata is our runtime's, captured into tests/unit/data (any real metadata serves: the
test compares two decoders over it). For every type a plan expresses, random valid SCALE
bytes are decoded by scalecodec and by the plan, and the values must be equal.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path
from typing import Any

import pytest
import scalecodec
from decentralml.core.chain import scaleplan
from decentralml.core.chain.light import LightReader
from scalecodec.base import RuntimeConfigurationObject, ScaleBytes

DATA = Path(__file__).parent / "data" / "decentralml-metadata.scale.gz"
SS58 = 42


@pytest.fixture(scope="module")
def decoded() -> tuple[Any, Any]:
    runtime = RuntimeConfigurationObject(ss58_format=SS58, implements_scale_info=True)
    preset = Path(scalecodec.__file__).parent / "type_registry" / "core.json"
    runtime.update_type_registry(json.loads(preset.read_text()))
    metadata = runtime.create_scale_object(
        "MetadataVersioned", data=ScaleBytes(gzip.decompress(DATA.read_bytes()))
    )
    metadata.decode()
    runtime.add_portable_registry(metadata)
    return runtime, metadata


@pytest.fixture(scope="module")
def plan(decoded: tuple[Any, Any]) -> scaleplan.Plan:
    runtime, metadata = decoded
    return scaleplan.build_plan(runtime, metadata, SS58)


def _compact(n: int) -> bytes:
    if n < 1 << 6:
        return bytes([n << 2])
    if n < 1 << 14:
        return ((n << 2) | 1).to_bytes(2, "little")
    if n < 1 << 30:
        return ((n << 2) | 2).to_bytes(4, "little")
    body = n.to_bytes((n.bit_length() + 7) // 8, "little")
    return bytes([((len(body) - 4) << 2) | 3]) + body


class Uninhabited(Exception):
    """The type has no values (an enum without variants, like sp_core::Void)."""


class Gen:
    """Random valid SCALE bytes for a plan node."""

    def __init__(self, plan: scaleplan.Plan, rng: random.Random) -> None:
        self.types = plan["types"]
        self.rng = rng

    def bytes_for(self, node: Any, depth: int = 0) -> bytes:
        rng = self.rng
        if node is None:
            return b""
        if isinstance(node, int):
            return self.bytes_for(self.types[str(node)], depth + 1)
        kind = node["k"]
        small = depth > 6
        if kind in ("uint", "int"):
            n = node["n"]
            return rng.choice([0, 1, (1 << (8 * n)) - 1, rng.getrandbits(8 * n)]).to_bytes(
                n, "little"
            )
        if kind == "bool":
            return bytes([rng.randint(0, 1)])
        if kind == "compact":
            return _compact(rng.choice([0, 63, 64, 16383, 16384, 1 << 30, rng.getrandbits(100)]))
        if kind == "account":
            return rng.randbytes(32)
        if kind == "str":
            text = "".join(rng.choice("abcé✓ ") for _ in range(rng.randint(0, 5))).encode()
            return _compact(len(text)) + text
        if kind == "bytes":
            body = rng.choice([b"", b"ResNet-18", rng.randbytes(rng.randint(1, 40))])
            return _compact(len(body)) + body
        if kind == "hexarr":
            return rng.randbytes(node["n"])
        if kind == "option":
            if small or rng.random() < 0.3:
                return b"\x00"
            return b"\x01" + self.bytes_for(node["t"], depth + 1)
        if kind == "vec":
            count = 0 if small else rng.randint(0, 3)
            return _compact(count) + b"".join(
                self.bytes_for(node["t"], depth + 1) for _ in range(count)
            )
        if kind == "arr":
            return b"".join(self.bytes_for(node["t"], depth + 1) for _ in range(node["n"]))
        if kind == "struct":
            return b"".join(self.bytes_for(t, depth + 1) for _, t in node["f"])
        if kind == "tuple":
            return b"".join(self.bytes_for(t, depth + 1) for t in node["t"])
        if kind == "enum":
            real = [i for i, (name, _) in enumerate(node["v"]) if name is not None]
            if not real:
                raise Uninhabited
            index = rng.choice(real)
            return bytes([index]) + self.bytes_for(node["v"][index][1], depth + 1)
        raise AssertionError(kind)


def test_every_planned_type_decodes_like_scalecodec(
    decoded: tuple[Any, Any], plan: scaleplan.Plan
) -> None:
    runtime, metadata = decoded
    decoder = scaleplan.PlanDecoder(plan)
    rng = random.Random(20261124)
    gen = Gen(plan, rng)
    planned = [int(k) for k, v in plan["types"].items() if v is not None]
    assert len(planned) > 150, "most of the runtime's types should be planned"
    checked = 0
    for type_id in planned:
        if not scaleplan._resolve(plan["types"], type_id):
            continue
        for _ in range(8):
            try:
                data = gen.bytes_for(type_id)
            except Uninhabited:
                break
            obj = runtime.create_scale_object(
                f"scale_info::{type_id}", data=ScaleBytes(data), metadata=metadata
            )
            expected = obj.decode(check_remaining=False)
            value, end = decoder.decode(type_id, data)
            assert value == expected, f"type {type_id}: {data.hex()}"
            assert end == len(data), f"type {type_id} consumed {end} of {len(data)} bytes"
            checked += 1
    assert checked > 1000


def test_pallet_storage_items_are_all_planned(plan: scaleplan.Plan) -> None:
    items = plan["storage"]["DecentralMl"]
    assert {"Models", "Tasks", "Rounds", "Proposals", "VotingOf", "Params"} <= set(items)
    assert all(entry["ok"] for entry in items.values())
    assert plan["storage"]["Assets"]["Metadata"]["ok"]
    assert plan["storage"]["System"]["Account"]["ok"]


def test_defaults_decode_like_scalecodec(decoded: tuple[Any, Any], plan: scaleplan.Plan) -> None:
    runtime, metadata = decoded
    decoder = scaleplan.PlanDecoder(plan)
    checked = 0
    for pallet in metadata.pallets:
        for function in pallet.storage or []:
            entry = plan["storage"][pallet.name].get(function.name)
            if entry is None:  # scalecodec's synthetic ':__STORAGE_VERSION__:'
                continue
            checked += 1
            if not entry["ok"] or function.value["modifier"] != "Default":
                continue
            default = function.value_object["default"].value_object
            expected = runtime.create_scale_object(
                function.get_value_type_string(), data=ScaleBytes(default), metadata=metadata
            ).decode(check_remaining=False)
            value, _ = decoder.decode(entry["value"], bytes.fromhex(entry["default"][2:]))
            assert value == expected, f"{pallet.name}.{function.name}"
    assert checked > 50


def test_truncated_data_is_an_error_not_a_wrong_value(plan: scaleplan.Plan) -> None:
    decoder = scaleplan.PlanDecoder(plan)
    params = plan["storage"]["DecentralMl"]["Params"]
    data = bytes.fromhex(params["default"][2:])
    with pytest.raises(ValueError, match="ends early"):
        decoder.decode(params["value"], data[:-3])


def test_cache_round_trip_and_corrupt_file(tmp_path: Path, plan: scaleplan.Plan) -> None:
    scaleplan.store("k1", plan, tmp_path)
    assert scaleplan.load_cached("k1", tmp_path) == plan
    assert scaleplan.load_cached("missing", tmp_path) is None
    (tmp_path / "k2.json").write_text("{not json")
    assert scaleplan.load_cached("k2", tmp_path) is None
    (tmp_path / "k3.json").write_text(json.dumps({"version": -1}))
    assert scaleplan.load_cached("k3", tmp_path) is None


class _ScriptedReader(LightReader):
    """A LightReader whose node is a table of RPC answers (no network)."""

    def __init__(self, answers: dict[str, Any], cache: Path) -> None:
        super().__init__("ws://127.0.0.1:1", cache_dir=cache)
        self.answers = answers
        self.calls: list[str] = []

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        self.calls.append(method)
        answer = self.answers[method]
        return answer(params) if callable(answer) else answer


def test_second_reader_uses_the_cache_and_never_decodes_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metadata_hex = "0x" + gzip.decompress(DATA.read_bytes()).hex()
    prefix = LightReader._prefix("DecentralMl", "NextTaskId")
    answers = {
        "system_properties": {"ss58Format": SS58},
        "state_getMetadata": metadata_hex,
        "state_getStorage": lambda params: "0x07000000" if params[0] == prefix else None,
    }
    first = _ScriptedReader(answers, tmp_path)
    assert first.storage("DecentralMl", "NextTaskId") == 7
    assert list(tmp_path.glob("*.json")), "the first reader writes the plan cache"

    def forbidden(self: LightReader) -> None:
        raise AssertionError("metadata decoded despite a cached plan")

    monkeypatch.setattr(LightReader, "_init_scalecodec", forbidden)
    second = _ScriptedReader(answers, tmp_path)
    assert second.storage("DecentralMl", "NextTaskId") == 7
    assert second.storage("DecentralMl", "NextModelId") == 0  # the default
