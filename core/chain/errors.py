"""Decoding of ``DispatchError`` values from ``System.ExtrinsicFailed`` events."""

from __future__ import annotations

from typing import Any

from ..errors import ExtrinsicFailed

# Documentation of sp_runtime's non-module dispatch errors (sp-runtime/src/lib.rs).
_TOKEN_DOCS = {
    "FundsUnavailable": "Funds are unavailable.",
    "OnlyProvider": "Some part of the balance gives the only provider reference to the account "
    "and thus cannot be (re)moved.",
    "BelowMinimum": "Account cannot exist with the funds that would be given.",
    "CannotCreate": "Account cannot be created.",
    "UnknownAsset": "The asset in question is unknown.",
    "Frozen": "Funds exist but are frozen.",
    "Unsupported": "Operation is not supported by the asset.",
    "CannotCreateHold": "Account cannot be created for recording amount on hold.",
    "NotExpendable": "Withdrawal would cause unwanted loss of account.",
    "Blocked": "Account cannot receive the assets.",
}
_ARITHMETIC_DOCS = {
    "Underflow": "An underflow would occur.",
    "Overflow": "An overflow would occur.",
    "DivisionByZero": "Division by zero.",
}
_SIMPLE_DOCS = {
    "Other": "Some error occurred.",
    "CannotLookup": "Failed to lookup some data.",
    "BadOrigin": "A bad origin: the caller may not do this.",
    "ConsumerRemaining": "At least one consumer is remaining so the account cannot be destroyed.",
    "NoProviders": "There are no providers so the account cannot be created.",
    "TooManyConsumers": "There are too many consumers so the account cannot be created.",
    "Exhausted": "Resources exhausted, e.g. attempt to read/write data which is too large.",
    "Corruption": "The state is corrupt; this is generally not going to fix itself.",
    "Unavailable": "Some resource (e.g. a preimage) is unavailable right now.",
    "RootNotAllowed": "Root origin is not allowed.",
}


def dispatch_error(
    error: Any, metadata: Any, *, extrinsic_hash: str = "", block_hash: str = ""
) -> ExtrinsicFailed:
    """Turn a decoded ``DispatchError`` into :class:`ExtrinsicFailed` with name and docs."""
    where = {"extrinsic_hash": extrinsic_hash, "block_hash": block_hash}
    if isinstance(error, str):
        return ExtrinsicFailed("", error, _SIMPLE_DOCS.get(error, ""), **where)
    if not isinstance(error, dict) or len(error) != 1:
        return ExtrinsicFailed("", "DispatchError", repr(error), **where)
    kind, detail = next(iter(error.items()))
    if kind == "Module":
        if isinstance(detail, (tuple, list)):
            index, raw = detail[0], detail[1]
        else:
            index, raw = detail["index"], detail["error"]
        code = int(raw[2:4], 16) if isinstance(raw, str) else int(raw)
        pallet = _pallet_name(metadata, int(index))
        try:
            found = metadata.get_module_error(module_index=int(index), error_index=code)
            name, docs = str(found.name), " ".join(str(d).strip() for d in found.docs)
        except (AttributeError, IndexError, KeyError, ValueError):
            name, docs = f"Error{code}", "unknown error (metadata has no entry)"
        return ExtrinsicFailed(pallet, name, docs, **where)
    if kind == "Token":
        name = str(detail)
        return ExtrinsicFailed("Token", name, _TOKEN_DOCS.get(name, ""), **where)
    if kind == "Arithmetic":
        name = str(detail)
        return ExtrinsicFailed("Arithmetic", name, _ARITHMETIC_DOCS.get(name, ""), **where)
    if kind == "Transactional":
        return ExtrinsicFailed("Transactional", str(detail), "Transactional layer error.", **where)
    if kind == "Trie":
        return ExtrinsicFailed("Trie", str(detail), "A trie error.", **where)
    return ExtrinsicFailed("", str(kind), _SIMPLE_DOCS.get(str(kind), repr(detail)), **where)


def _pallet_name(metadata: Any, index: int) -> str:
    try:
        for pallet in metadata.pallets:
            if int(pallet["index"].value) == index:
                return str(pallet.name)
    except (AttributeError, KeyError, TypeError, ValueError):
        pass
    return f"pallet#{index}"
