"""Chain client over substrate-interface.

One :class:`ChainClient` per endpoint. Calls are composed by name from the runtime's
metadata (:meth:`ChainClient.submit`), so a new pallet call is usable at once; the typed
methods (``transfer``, ``asset_create``, ``register_model`` ...) are thin wrappers that
validate arguments and return a checked :class:`~decentralml.core.types.Receipt`.

Guarantees:

- every extrinsic is signed with a mortal era (``era_period`` blocks, 256 by default) and
  its fee is estimated before it is sent (``on_fee`` sees the estimate and may veto);
- every receipt is checked: a failed dispatch raises :class:`ExtrinsicFailed` with the
  pallet error's name and documentation; nothing is reported as done unless it was;
- nonces come from a per-account :class:`NonceManager` (the chain's view including the
  pool, never reused locally), so many extrinsics can be sent back to back;
- network calls go through :func:`~decentralml.core.retry.retry`; a dropped connection
  (node restart) reconnects with backoff. Re-sending after a reconnect resends the same
  signed bytes, so an extrinsic can never apply twice.

Three layers, one per module: :mod:`.connection` (reconnecting RPC, metadata, storage,
subscriptions), :mod:`.submit` (compose, fee, sign, send, inclusion, receipts) and this one
(the typed Balances and Assets calls and balance reads).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from substrateinterface import Keypair, SubstrateInterface

from ..errors import InputError
from ..types import (
    Address,
    AssetBalance,
    AssetId,
    AssetInfo,
    Balance,
    FeeEstimate,
    Hold,
    Lock,
    NativeBalance,
    Receipt,
    decode_text,
    enum_name,
    to_hex,
)
from .connection import TRANSIENT, ChainConnection
from .submit import (
    DEFAULT_ERA_PERIOD,
    INCLUSION_TIMEOUT_S,
    CallSpec,
    ChainSubmitter,
    NonceManager,
    accept_any_fee,
)

__all__ = [
    "DEFAULT_ERA_PERIOD",
    "INCLUSION_TIMEOUT_S",
    "TRANSIENT",
    "CallSpec",
    "Chain",
    "ChainClient",
    "ChainConnection",
    "ChainSubmitter",
    "NonceManager",
    "accept_any_fee",
]


class Chain(Protocol):
    """What the console and the roles need from the chain (the real one is ChainClient)."""

    def submit(
        self, signer: Keypair, pallet: str, call: str, params: dict[str, Any]
    ) -> Receipt: ...

    def native_balance(self, address: Address) -> NativeBalance: ...

    def storage(self, pallet: str, item: str, params: list[Any] | None = None) -> Any: ...

    def storage_entries(self, pallet: str, item: str) -> list[tuple[Any, Any]]: ...


class ChainClient(ChainSubmitter):
    """A node-decentralml connection: reads, checked submission, typed Balances/Assets calls."""

    # ---- typed calls: Balances -----------------------------------------------------------------
    def transfer(
        self,
        signer: Keypair,
        dest: Address,
        amount: Balance,
        *,
        keep_alive: bool = True,
        on_fee: Callable[[FeeEstimate], bool] = accept_any_fee,
    ) -> Receipt:
        _check_address(dest)
        _check_amount(amount)
        call = "transfer_keep_alive" if keep_alive else "transfer_allow_death"
        return self.submit(signer, "Balances", call, {"dest": dest, "value": amount}, on_fee=on_fee)

    # ---- typed calls: Assets ------------------------------------------------------------------
    def asset_create(
        self,
        signer: Keypair,
        asset_id: AssetId,
        min_balance: Balance,
        admin: Address | None = None,
        *,
        on_fee: Callable[[FeeEstimate], bool] = accept_any_fee,
    ) -> Receipt:
        _check_amount(min_balance, allow_zero=False, what="min_balance")
        params = {"id": asset_id, "admin": admin or signer.ss58_address, "min_balance": min_balance}
        return self.submit(signer, "Assets", "create", params, on_fee=on_fee)

    def asset_set_metadata(
        self,
        signer: Keypair,
        asset_id: AssetId,
        name: str,
        symbol: str,
        decimals: int,
        *,
        on_fee: Callable[[FeeEstimate], bool] = accept_any_fee,
    ) -> Receipt:
        params = {
            "id": asset_id,
            "name": to_hex(name.encode()),
            "symbol": to_hex(symbol.encode()),
            "decimals": decimals,
        }
        return self.submit(signer, "Assets", "set_metadata", params, on_fee=on_fee)

    def asset_mint(
        self,
        signer: Keypair,
        asset_id: AssetId,
        beneficiary: Address,
        amount: Balance,
        *,
        on_fee: Callable[[FeeEstimate], bool] = accept_any_fee,
    ) -> Receipt:
        _check_address(beneficiary)
        _check_amount(amount)
        params = {"id": asset_id, "beneficiary": beneficiary, "amount": amount}
        return self.submit(signer, "Assets", "mint", params, on_fee=on_fee)

    def asset_transfer(
        self,
        signer: Keypair,
        asset_id: AssetId,
        dest: Address,
        amount: Balance,
        *,
        on_fee: Callable[[FeeEstimate], bool] = accept_any_fee,
    ) -> Receipt:
        _check_address(dest)
        _check_amount(amount)
        params = {"id": asset_id, "target": dest, "amount": amount}
        return self.submit(signer, "Assets", "transfer", params, on_fee=on_fee)

    # ---- balances and assets ----------------------------------------------------------------
    def native_balance(self, address: Address) -> NativeBalance:
        _check_address(address)

        def read(si: SubstrateInterface) -> NativeBalance:
            account = si.query("System", "Account", [address]).value
            data = account["data"]
            holds: list[Hold] = []
            freezes: list[Hold] = []
            locks: list[Lock] = []
            if self.has_storage_unlocked(si, "Balances", "Holds"):
                for hold in si.query("Balances", "Holds", [address]).value or []:
                    holds.append(Hold(_reason(hold["id"]), int(hold["amount"])))
            if self.has_storage_unlocked(si, "Balances", "Freezes"):
                for freeze in si.query("Balances", "Freezes", [address]).value or []:
                    freezes.append(Hold(_reason(freeze["id"]), int(freeze["amount"])))
            if self.has_storage_unlocked(si, "Balances", "Locks"):
                for lock in si.query("Balances", "Locks", [address]).value or []:
                    locks.append(
                        Lock(
                            decode_text(lock["id"]), int(lock["amount"]), enum_name(lock["reasons"])
                        )
                    )
            return NativeBalance(
                address=address,
                free=int(data["free"]),
                reserved=int(data["reserved"]),
                frozen=int(data.get("frozen", data.get("misc_frozen", 0))),
                nonce=int(account["nonce"]),
                holds=tuple(holds),
                locks=tuple(locks),
                freezes=tuple(freezes),
            )

        return self._rpc(read, "balance")

    def asset(self, asset_id: AssetId) -> AssetInfo | None:
        def read(si: SubstrateInterface) -> AssetInfo | None:
            details = si.query("Assets", "Asset", [asset_id]).value
            if details is None:
                return None
            meta = si.query("Assets", "Metadata", [asset_id]).value or {}
            return _asset_info(asset_id, details, meta)

        return self._rpc(read, f"asset {asset_id}")

    def assets(self) -> list[AssetInfo]:
        def read(si: SubstrateInterface) -> list[AssetInfo]:
            metas = {int(k.value): v.value for k, v in si.query_map("Assets", "Metadata")}
            out = [
                _asset_info(int(k.value), v.value, metas.get(int(k.value), {}))
                for k, v in si.query_map("Assets", "Asset")
            ]
            return sorted(out, key=lambda a: a.id)

        return self._rpc(read, "assets")

    def asset_balance(self, asset_id: AssetId, address: Address) -> AssetBalance:
        _check_address(address)

        def read(si: SubstrateInterface) -> AssetBalance:
            if si.query("Assets", "Asset", [asset_id]).value is None:
                raise InputError(f"no asset with id {asset_id}")
            account = si.query("Assets", "Account", [asset_id, address]).value
            if account is None:
                return AssetBalance(asset_id, address, 0, "None")
            return AssetBalance(
                asset_id, address, int(account["balance"]), enum_name(account.get("status", ""))
            )

        return self._rpc(read, "asset balance")


# ---- helpers ------------------------------------------------------------------------------------
def _check_address(address: str) -> None:
    try:
        Keypair(ss58_address=address)
    except (ValueError, TypeError, IndexError):
        raise InputError(f"invalid address {address!r} (expected an SS58 address)") from None


def _check_amount(amount: int, *, allow_zero: bool = False, what: str = "amount") -> None:
    if not isinstance(amount, int) or amount < 0 or (amount == 0 and not allow_zero):
        raise InputError(f"{what} must be a positive whole number of planck, got {amount!r}")
    if amount >= 2**128:
        raise InputError(f"{what} {amount} does not fit in a u128")


def _reason(value: Any) -> str:
    """``{"DecentralMl": "ModelDeposit"}`` -> ``"DecentralMl.ModelDeposit"``."""
    if isinstance(value, dict) and len(value) == 1:
        outer, inner = next(iter(value.items()))
        return f"{outer}.{enum_name(inner)}"
    return enum_name(value)


def _asset_info(asset_id: int, details: dict[str, Any], meta: dict[str, Any]) -> AssetInfo:
    return AssetInfo(
        id=asset_id,
        owner=str(details["owner"]),
        admin=str(details["admin"]),
        supply=int(details["supply"]),
        min_balance=int(details["min_balance"]),
        accounts=int(details["accounts"]),
        status=enum_name(details["status"]),
        name=decode_text(meta.get("name", "")),
        symbol=decode_text(meta.get("symbol", "")),
        decimals=int(meta.get("decimals", 0) or 0),
    )
