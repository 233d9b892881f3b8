"""Decoding plans: storage values decoded without scalecodec's per-run metadata decoding.

Decoding a runtime's metadata with scalecodec takes about 0.6 s on a 2-core machine, which
alone breaks the 0.5 s start-up budget of listing commands. The plan of a runtime is
everything :class:`~decentralml.core.chain.light.LightReader` needs to decode storage: for
each type of the portable registry, how scalecodec renders it (struct, tuple, enum, option,
vector, bytes, account ...), and for each storage item its hashers, key and value types and
default. It is built once per runtime from scalecodec's own decoder classes (so both paths
render values identically; tests/unit/test_scaleplan.py checks that on random values of
every type), cached as JSON keyed by the hash of the metadata bytes, and then interpreted
by the small decoder below. A type the plan cannot express is marked ``None`` and its
storage items fall back to scalecodec.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PLAN_VERSION = 1
_PREFIX = "scale_info::"
_UINTS = {"U8": 1, "U16": 2, "U32": 4, "U64": 8, "U128": 16, "U256": 32}
_INTS = {"I8": 1, "I16": 2, "I32": 4, "I64": 8, "I128": 16, "I256": 32}

Plan = dict[str, Any]


class Unsupported(Exception):
    """The plan cannot express this type; decode it with scalecodec."""


def _type_id(type_string: Any) -> int:
    if isinstance(type_string, str) and type_string.startswith(_PREFIX):
        return int(type_string[len(_PREFIX) :])
    raise Unsupported(f"type {type_string!r} is not a registry type")


def _library_class(cls: type) -> str:
    """The scalecodec class that decides how ``cls`` decodes.

    scalecodec creates a class per registry type at run time, and a later type with the same
    path subclasses the earlier one; the behaviour comes from the first class of the hierarchy
    that scalecodec's own modules define (Struct, Enum, Vec, GenericAccountId ...).
    """
    for klass in cls.__mro__:
        if klass.__module__.startswith("scalecodec."):
            return klass.__name__
    return "ScaleType"


def _member(runtime: Any, spec: Any) -> Any:
    """One member of a struct, tuple or enum variant: a type id or a nested shape."""
    if spec is None or spec == "Null":
        return None
    if isinstance(spec, dict):
        return {"k": "struct", "f": [[name, _type_id(t)] for name, t in spec.items()]}
    if isinstance(spec, str) and spec.startswith("(") and spec.endswith(")"):
        parts = [p.strip() for p in spec[1:-1].split(",") if p.strip()]
        return {"k": "tuple", "t": [_type_id(p) for p in parts]}
    return _type_id(spec)


def _plan_of(runtime: Any, type_id: int) -> Plan:
    cls = runtime.get_decoder_class(f"{_PREFIX}{type_id}")
    if cls is None:
        raise Unsupported(f"no decoder class for type {type_id}")
    lib = _library_class(cls)
    u8 = runtime.get_decoder_class("u8")

    def sub_is_u8() -> bool:
        return runtime.get_decoder_class(cls.sub_type) is u8

    if lib == "GenericAccountId":
        return {"k": "account"}
    if lib in _UINTS:
        return {"k": "uint", "n": _UINTS[lib]}
    if lib in _INTS:
        return {"k": "int", "n": _INTS[lib]}
    if lib == "H256":
        return {"k": "hexarr", "n": 32}
    if lib == "Bool":
        return {"k": "bool"}
    if lib == "Str":
        return {"k": "str"}
    if lib == "Compact":
        return {"k": "compact"}
    if lib == "Option":
        if _library_class(runtime.get_decoder_class(cls.sub_type)) == "Bool":
            raise Unsupported("Option<bool> has its own encoding")
        return {"k": "option", "t": _type_id(cls.sub_type)}
    if lib == "FixedLengthArray":
        if sub_is_u8():
            return {"k": "hexarr", "n": int(cls.element_count)}
        return {"k": "arr", "n": int(cls.element_count), "t": _type_id(cls.sub_type)}
    if lib == "Vec":
        if sub_is_u8():
            return {"k": "bytes"}
        return {"k": "vec", "t": _type_id(cls.sub_type)}
    if lib == "Enum":
        variants = [[name, _member(runtime, spec)] for name, spec in cls.type_mapping]
        return {"k": "enum", "v": variants}
    if lib == "Struct":
        return {"k": "struct", "f": [[name, _type_id(t)] for name, t in cls.type_mapping]}
    if lib == "Tuple":
        return {"k": "tuple", "t": [_type_id(t) for t in cls.type_mapping]}
    raise Unsupported(f"type {type_id} decodes through scalecodec's {lib}")


def _resolve(types: Mapping[str, Plan | None], node: Any) -> bool:
    """Whether ``node`` and everything it refers to is expressible."""
    seen: set[int] = set()

    def ok(item: Any) -> bool:
        if item is None:
            return True
        if isinstance(item, int):
            if item in seen:
                return True
            seen.add(item)
            plan = types.get(str(item))
            return plan is not None and ok(plan)
        kind = item["k"]
        if kind in ("option", "vec", "arr"):
            return ok(item["t"])
        if kind == "struct":
            return all(ok(t) for _, t in item["f"])
        if kind == "tuple":
            return all(ok(t) for t in item["t"])
        if kind == "enum":
            return all(ok(spec) for _, spec in item["v"])
        return True

    return ok(node)


def build_plan(runtime: Any, metadata: Any, ss58: int) -> Plan:
    """The plan of a runtime whose metadata scalecodec has decoded into ``runtime``."""
    value = metadata.value[1]
    (version,) = value.keys()
    registry = value[version]["types"]["types"]
    types: dict[str, Plan | None] = {}
    for entry in registry:
        type_id = int(entry["id"])
        try:
            types[str(type_id)] = _plan_of(runtime, type_id)
        except Unsupported as exc:
            log.debug("type %s stays with scalecodec: %s", type_id, exc)
            types[str(type_id)] = None
    storage: dict[str, dict[str, Any]] = {}
    for pallet in value[version]["pallets"]:
        if not pallet.get("storage"):
            continue
        items: dict[str, Any] = {}
        for entry in pallet["storage"]["entries"]:
            kind = entry["type"]
            if "Plain" in kind:
                hashers: list[str] = []
                keys: list[int] = []
                value_type = int(kind["Plain"])
            else:
                hashers = list(kind["Map"]["hashers"])
                key_type = int(kind["Map"]["key"])
                key_plan = types.get(str(key_type))
                if len(hashers) > 1 and key_plan is not None and key_plan["k"] == "tuple":
                    keys = list(key_plan["t"])
                else:
                    keys = [key_type]
                value_type = int(kind["Map"]["value"])
            default = entry.get("default")
            items[entry["name"]] = {
                "modifier": entry["modifier"],
                "hashers": hashers,
                "keys": keys,
                "value": value_type,
                "default": _default_hex(default),
                "ok": _resolve(types, value_type) and all(_resolve(types, k) for k in keys),
            }
        storage[pallet["name"]] = items
    return {"version": PLAN_VERSION, "ss58": ss58, "types": types, "storage": storage}


def _default_hex(default: Any) -> str:
    """scalecodec renders a storage default's bytes as text when they are valid UTF-8."""
    if default is None:
        return "0x"
    if isinstance(default, str) and default.startswith("0x"):
        try:
            bytes.fromhex(default[2:])
            return default
        except ValueError:
            pass
    return "0x" + str(default).encode().hex()


class PlanDecoder:
    """Decodes SCALE bytes by a plan, rendering values exactly as scalecodec does."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.types: Mapping[str, Plan | None] = plan["types"]
        self.ss58 = int(plan["ss58"])

    def item(self, pallet: str, name: str) -> dict[str, Any] | None:
        entry = self.plan["storage"].get(pallet, {}).get(name)
        return entry if entry is not None and entry["ok"] else None

    def decode(self, type_id: int, data: bytes, offset: int = 0) -> tuple[Any, int]:
        return self._node(type_id, data, offset)

    def _node(self, node: Any, data: bytes, at: int) -> tuple[Any, int]:
        if node is None:
            return None, at
        if isinstance(node, int):
            plan = self.types[str(node)]
            if plan is None:
                raise Unsupported(f"type {node}")
            return self._node(plan, data, at)
        kind = node["k"]
        if kind == "uint":
            n = node["n"]
            return int.from_bytes(_take(data, at, n), "little"), at + n
        if kind == "int":
            n = node["n"]
            return int.from_bytes(_take(data, at, n), "little", signed=True), at + n
        if kind == "bool":
            byte = _take(data, at, 1)[0]
            if byte > 1:
                raise ValueError(f"invalid bool byte {byte}")
            return byte == 1, at + 1
        if kind == "compact":
            return _compact(data, at)
        if kind == "account":
            from scalecodec.utils.ss58 import ss58_encode

            raw = _take(data, at, 32)
            return ss58_encode(raw.hex(), ss58_format=self.ss58), at + 32
        if kind == "str":
            length, at = _compact(data, at)
            return _take(data, at, length).decode(), at + length
        if kind == "bytes":
            length, at = _compact(data, at)
            raw = _take(data, at, length)
            try:
                text: str = raw.decode()
            except UnicodeDecodeError:
                text = "0x" + raw.hex()
            return text, at + length
        if kind == "hexarr":
            n = node["n"]
            return "0x" + _take(data, at, n).hex(), at + n
        if kind == "option":
            flag = _take(data, at, 1)[0]
            if flag == 0:
                return None, at + 1
            return self._node(node["t"], data, at + 1)
        if kind == "vec":
            count, at = _compact(data, at)
            items = []
            for _ in range(count):
                item, at = self._node(node["t"], data, at)
                items.append(item)
            return items, at
        if kind == "arr":
            items = []
            for _ in range(node["n"]):
                item, at = self._node(node["t"], data, at)
                items.append(item)
            return items, at
        if kind == "struct":
            out: dict[str, Any] = {}
            for name, member in node["f"]:
                out[name], at = self._node(member, data, at)
            return out, at
        if kind == "tuple":
            members = node["t"]
            if len(members) == 1:
                return self._node(members[0], data, at)
            values: tuple[Any, ...] = ()
            for member in members:
                value, at = self._node(member, data, at)
                values += (value,)
            return values, at
        if kind == "enum":
            index = _take(data, at, 1)[0]
            variants = node["v"]
            if index >= len(variants):
                raise ValueError(f"Index '{index}' not present in Enum type mapping")
            name, member = variants[index]
            if member is None:
                return name, at + 1
            value, at = self._node(member, data, at + 1)
            return {name: value}, at
        raise Unsupported(f"plan kind {kind!r}")


def _take(data: bytes, at: int, n: int) -> bytes:
    if at + n > len(data):
        raise ValueError("SCALE data ends early")
    return data[at : at + n]


def _compact(data: bytes, at: int) -> tuple[int, int]:
    first = _take(data, at, 1)[0]
    mode = first & 0b11
    if mode == 0:
        return first >> 2, at + 1
    if mode == 1:
        return int.from_bytes(_take(data, at, 2), "little") >> 2, at + 2
    if mode == 2:
        return int.from_bytes(_take(data, at, 4), "little") >> 2, at + 4
    length = (first >> 2) + 4
    return int.from_bytes(_take(data, at + 1, length), "little"), at + 1 + length


# ---- cache ---------------------------------------------------------------------------------------


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    explicit = env.get("DECENTRALML_METADATA_CACHE")
    if explicit:
        return Path(explicit)
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "decentralml" / "metadata"


def load_cached(key: str, directory: Path | None = None) -> Plan | None:
    path = (directory or cache_dir()) / f"{key}.json"
    try:
        plan: Plan = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable metadata cache %s (%s); it will be rebuilt", path, exc)
        return None
    if not isinstance(plan, dict) or plan.get("version") != PLAN_VERSION:
        return None
    return plan


def store(key: str, plan: Plan, directory: Path | None = None) -> None:
    directory = directory or cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{key}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(plan, separators=(",", ":")))
        tmp.replace(directory / f"{key}.json")
    except OSError as exc:
        log.warning(
            "cannot write the metadata cache in %s (%s); start-up stays slower", directory, exc
        )
