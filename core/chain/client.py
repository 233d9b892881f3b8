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
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from substrateinterface import Keypair, SubstrateInterface
from substrateinterface.exceptions import SubstrateRequestException
from websocket import WebSocketException

from ..errors import (
    Cancelled,
    ChainError,
    ExtrinsicFailed,
    InputError,
    NodeUnreachable,
    SubmissionRejected,
    UnknownCall,
)
from ..retry import RetryPolicy, retry
from ..types import (
    Address,
    AssetBalance,
    AssetId,
    AssetInfo,
    Balance,
    BlockHeader,
    ChainEvent,
    ChainType,
    FeeEstimate,
    Hold,
    Lock,
    NativeBalance,
    Receipt,
    decode_text,
    enum_name,
    to_hex,
)
from .errors import dispatch_error

log = logging.getLogger(__name__)

T = TypeVar("T")

TRANSIENT: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    BrokenPipeError,
    WebSocketException,
    OSError,
)
"""Errors that mean 'the connection is gone', retried with a reconnect."""

DEFAULT_ERA_PERIOD = 256
INCLUSION_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class CallSpec:
    """One call to submit: pallet, call name and parameters (as substrate-interface takes them)."""

    pallet: str
    call: str
    params: dict[str, Any]


class Chain(Protocol):
    """What the console and the roles need from the chain (the real one is ChainClient)."""

    def submit(
        self, signer: Keypair, pallet: str, call: str, params: dict[str, Any]
    ) -> Receipt: ...

    def native_balance(self, address: Address) -> NativeBalance: ...

    def storage(self, pallet: str, item: str, params: list[Any] | None = None) -> Any: ...

    def storage_entries(self, pallet: str, item: str) -> list[tuple[Any, Any]]: ...


class NonceManager:
    """Hands out nonces per account: max(chain's next index incl. the pool, last given + 1)."""

    def __init__(self, fetch: Callable[[Address], int]) -> None:
        self._fetch = fetch
        self._next: dict[Address, int] = {}
        self._lock = threading.Lock()

    def next(self, address: Address) -> int:
        with self._lock:
            nonce = max(self._fetch(address), self._next.get(address, 0))
            self._next[address] = nonce + 1
            return nonce

    def forget(self, address: Address) -> None:
        """After a rejected submission: ask the chain again next time."""
        with self._lock:
            self._next.pop(address, None)


def _fee_veto_none(_: FeeEstimate) -> bool:
    return True


class ChainClient:
    """A connection to a node-decentralml (or any Substrate node with these pallets)."""

    def __init__(
        self,
        url: str,
        *,
        era_period: int = DEFAULT_ERA_PERIOD,
        policy: RetryPolicy | None = None,
        inclusion_timeout_s: float = INCLUSION_TIMEOUT_S,
    ) -> None:
        if era_period < 4 or era_period & (era_period - 1):
            raise InputError(f"era_period must be a power of two >= 4, got {era_period}")
        self.url = url
        self.era_period = era_period
        self.policy = policy or RetryPolicy(attempts=6, deadline_s=30.0)
        self.inclusion_timeout_s = inclusion_timeout_s
        self._substrate: SubstrateInterface | None = None
        self._lock = threading.RLock()
        self.nonces = NonceManager(self._chain_nonce)

    # ---- connection ------------------------------------------------------------------------
    def _connect(self) -> SubstrateInterface:
        if self._substrate is None:
            log.debug("connecting to %s", self.url)
            substrate = SubstrateInterface(url=self.url, ss58_format=42)
            substrate.init_runtime()  # metadata of the current runtime, for calls by name
            self._substrate = substrate
        return self._substrate

    @property
    def substrate(self) -> SubstrateInterface:
        """The underlying connection (connects, with retries, on first use)."""
        return self._rpc(lambda si: si, "connect")

    def _drop(self, _exc: BaseException | None = None) -> None:
        with self._lock:
            if self._substrate is not None:
                try:
                    self._substrate.close()
                except Exception:
                    log.debug("close failed", exc_info=True)
            self._substrate = None

    def _rpc(self, fn: Callable[[SubstrateInterface], T], what: str) -> T:
        def attempt() -> T:
            with self._lock:
                return fn(self._connect())

        try:
            return retry(
                attempt, what=what, transient=TRANSIENT, policy=self.policy, on_retry=self._drop
            )
        except TRANSIENT as exc:
            self._drop()
            raise NodeUnreachable(
                f"node at {self.url} is unreachable ({type(exc).__name__}: {exc}): start it "
                "(scripts/run) or fix chain.url"
            ) from None
        except SubstrateRequestException as exc:
            raise ChainError(f"{what}: the node answered with an error: {exc}") from None

    def close(self) -> None:
        self._drop()

    def __enter__(self) -> ChainClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        reply = self._rpc(lambda si: si.rpc_request(method, params or []), method)
        return reply.get("result")

    # ---- chain identity ---------------------------------------------------------------------
    def chain_type(self) -> ChainType:
        raw = self.rpc("system_chainType")
        name = enum_name(raw)
        try:
            return ChainType(name)
        except ValueError:
            return ChainType.CUSTOM

    def info(self) -> dict[str, Any]:
        def read(si: SubstrateInterface) -> dict[str, Any]:
            props = si.rpc_request("system_properties", [])["result"]
            version = si.rpc_request("state_getRuntimeVersion", [])["result"]
            head = si.get_block_header(finalized_only=False)["header"]
            finalized_hash = si.get_chain_finalised_head()
            finalized = si.get_block_number(finalized_hash)
            return {
                "chain": si.rpc_request("system_chain", [])["result"],
                "chain_type": enum_name(si.rpc_request("system_chainType", [])["result"]),
                "node": si.rpc_request("system_name", [])["result"],
                "node_version": si.rpc_request("system_version", [])["result"],
                "spec_name": version["specName"],
                "spec_version": version["specVersion"],
                "token_symbol": props.get("tokenSymbol"),
                "token_decimals": props.get("tokenDecimals"),
                "ss58_format": props.get("ss58Format"),
                "best_block": int(head["number"]),
                "finalized_block": int(finalized),
                "pallets": sorted(p.name for p in si.metadata.pallets),
            }

        return self._rpc(read, "chain info")

    def token(self) -> tuple[str, int]:
        def read(si: SubstrateInterface) -> tuple[str, int]:
            return str(si.token_symbol or "DML"), int(si.token_decimals or 12)

        return self._rpc(read, "token")

    def block_number(self, finalized: bool = False) -> int:
        def read(si: SubstrateInterface) -> int:
            if finalized:
                return int(si.get_block_number(si.get_chain_finalised_head()))
            return int(si.get_block_header()["header"]["number"])

        return self._rpc(read, "block number")

    # ---- metadata -------------------------------------------------------------------------------
    def pallets(self) -> list[str]:
        return self._rpc(lambda si: sorted(p.name for p in si.metadata.pallets), "metadata")

    def calls(self, pallet: str) -> list[dict[str, Any]]:
        """The pallet's calls with their arguments and docs, from the metadata."""

        def read(si: SubstrateInterface) -> list[dict[str, Any]]:
            module = self._module(si, pallet)
            out = []
            for call in module.calls or []:
                out.append(
                    {
                        "name": call.name,
                        "args": [{"name": a.name, "type": a.type} for a in call.args],
                        "docs": " ".join(d.strip() for d in call.docs),
                    }
                )
            return out

        return self._rpc(read, f"calls of {pallet}")

    def has_call(self, pallet: str, call: str) -> bool:
        try:
            return any(c["name"] == call for c in self.calls(pallet))
        except UnknownCall:
            return False

    def has_storage(self, pallet: str, item: str) -> bool:
        def read(si: SubstrateInterface) -> bool:
            try:
                module = self._module(si, pallet)
            except UnknownCall:
                return False
            return any(s.name == item for s in (module.storage or []))

        return self._rpc(read, "metadata")

    @staticmethod
    def _module(si: SubstrateInterface, pallet: str) -> Any:
        for module in si.metadata.pallets:
            if module.name == pallet:
                return module
        raise UnknownCall(f"the runtime has no pallet {pallet!r}")

    def compose(self, pallet: str, call: str, params: dict[str, Any]) -> Any:
        """A call composed by name; :class:`UnknownCall` if the runtime lacks it."""

        def build(si: SubstrateInterface) -> Any:
            module = self._module(si, pallet)
            names = [c.name for c in (module.calls or [])]
            if call not in names:
                raise UnknownCall(
                    f"the runtime has no call {pallet}.{call} "
                    f"(its calls: {', '.join(names) or 'none'})"
                )
            spec = next(c for c in module.calls if c.name == call)
            expected = {a.name for a in spec.args}
            missing, extra = expected - set(params), set(params) - expected
            if missing or extra:
                raise InputError(
                    f"{pallet}.{call} takes ({', '.join(a.name for a in spec.args)})"
                    + (f"; missing {', '.join(sorted(missing))}" if missing else "")
                    + (f"; unknown {', '.join(sorted(extra))}" if extra else "")
                )
            try:
                return si.compose_call(call_module=pallet, call_function=call, call_params=params)
            except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
                raise InputError(f"bad arguments for {pallet}.{call}: {exc}") from None

        return self._rpc(build, f"compose {pallet}.{call}")

    # ---- fees and submission ----------------------------------------------------------------
    def estimate_fee(self, signer: Keypair, call: Any) -> FeeEstimate:
        def read(si: SubstrateInterface) -> FeeEstimate:
            info = si.get_payment_info(call=call, keypair=signer)
            weight = info.get("weight", {})
            if not isinstance(weight, dict):
                weight = {"ref_time": int(weight)}
            fee = info.get("partial_fee", info.get("partialFee"))
            return FeeEstimate(int(fee), {k: int(v) for k, v in weight.items()})

        return self._rpc(read, "fee estimate")

    def _chain_nonce(self, address: Address) -> int:
        return int(self.rpc("system_accountNextIndex", [address]))

    def _sign(self, signer: Keypair, call: Any, nonce: int) -> Any:
        def build(si: SubstrateInterface) -> Any:
            return si.create_signed_extrinsic(
                call=call, keypair=signer, era={"period": self.era_period}, nonce=nonce
            )

        return self._rpc(build, "sign")

    def _send(self, extrinsic: Any) -> str:
        """Put a signed extrinsic into the pool; returns its hash. Resending is harmless."""
        data = str(extrinsic.data)

        def send(si: SubstrateInterface) -> str:
            try:
                reply = si.rpc_request("author_submitExtrinsic", [data])
            except SubstrateRequestException as exc:
                error = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
                text = f"{error.get('message', exc)} {error.get('data', '')}".strip()
                if "already imported" in text.lower():
                    # A resend after a reconnect: the pool has these exact bytes already.
                    digest = hashlib.blake2b(bytes.fromhex(data[2:]), digest_size=32).hexdigest()
                    return "0x" + digest
                raise SubmissionRejected(f"the node refused the extrinsic: {text}") from None
            return str(reply["result"])

        return self._rpc(send, "submit")

    def prepare(
        self,
        signer: Keypair,
        pallet: str,
        call: str,
        params: dict[str, Any],
    ) -> tuple[Any, FeeEstimate]:
        """Compose a call and estimate its fee, without submitting (``--dry-run``)."""
        composed = self.compose(pallet, call, params)
        return composed, self.estimate_fee(signer, composed)

    def submit(
        self,
        signer: Keypair,
        pallet: str,
        call: str,
        params: dict[str, Any],
        *,
        on_fee: Callable[[FeeEstimate], bool] = _fee_veto_none,
    ) -> Receipt:
        """Compose, estimate the fee, sign, submit, wait for inclusion and check the result.

        ``on_fee`` sees the estimate first and may return False to cancel (nothing is sent).
        Raises :class:`ExtrinsicFailed` if the dispatch failed.
        """
        return self.submit_many(signer, [CallSpec(pallet, call, params)], on_fee=on_fee)[0]

    def submit_many(
        self,
        signer: Keypair,
        calls: Sequence[CallSpec],
        *,
        on_fee: Callable[[FeeEstimate], bool] = _fee_veto_none,
        check: bool = True,
    ) -> list[Receipt]:
        """Send many extrinsics back to back (consecutive nonces), then wait for all.

        With ``check`` (the default) the first failed dispatch raises :class:`ExtrinsicFailed`
        after every extrinsic has been included; with ``check=False`` failures are returned
        as receipts whose ``events`` contain ``System.ExtrinsicFailed``.
        """
        if not calls:
            return []
        composed = [self.compose(c.pallet, c.call, c.params) for c in calls]
        total = FeeEstimate(0, {})
        for item in composed:
            fee = self.estimate_fee(signer, item)
            total = FeeEstimate(total.partial_fee + fee.partial_fee, fee.weight)
        if not on_fee(total):
            raise Cancelled("cancelled after the fee estimate: nothing was sent")
        return self.submit_composed(
            [(signer, spec, item) for spec, item in zip(calls, composed, strict=True)], check=check
        )

    def submit_from_many(
        self, items: Sequence[tuple[Keypair, CallSpec]], *, check: bool = True
    ) -> list[Receipt]:
        """Send one extrinsic per item, each signed by its own account, then wait for all.

        For many accounts acting at once (seeding, benchmarks): no fee prompt; nonces are
        consecutive per signer as in :meth:`submit_many`; ``check`` as there.
        """
        composed = [(k, c, self.compose(c.pallet, c.call, c.params)) for k, c in items]
        return self.submit_composed(composed, check=check)

    def submit_composed(
        self, items: Sequence[tuple[Keypair, CallSpec, Any]], *, check: bool = True
    ) -> list[Receipt]:
        """Sign and send calls composed beforehand (:meth:`compose`), then wait for all.

        One composed call may serve many items (seeding thousands of identical calls composes
        each distinct one once); each item's :class:`CallSpec` is the call it holds and names
        it in the receipt. Nonces, inclusion and ``check`` as in :meth:`submit_many`.
        """
        if not items:
            return []
        start_block = self.block_number()
        hashes: list[str] = []
        for signer, spec, item in items:
            for attempt in (1, 2):
                nonce = self.nonces.next(signer.ss58_address)
                extrinsic = self._sign(signer, item, nonce)
                try:
                    hashes.append(self._send(extrinsic))
                    log.info("sent %s.%s nonce %d", spec.pallet, spec.call, nonce)
                    break
                except SubmissionRejected as exc:
                    self.nonces.forget(signer.ss58_address)
                    stale = any(
                        w in str(exc).lower() for w in ("stale", "priority is too low", "outdated")
                    )
                    if attempt == 2 or not stale:
                        raise
                    log.info("nonce %d was taken (%s); retrying with a fresh nonce", nonce, exc)
        found = self._await_inclusion(hashes, start_block)
        receipts: list[Receipt] = []
        failure: ExtrinsicFailed | None = None
        records: dict[str, list[Any]] = {}  # each block's events are read and decoded once
        for (_, spec, _), xt_hash in zip(items, hashes, strict=True):
            block_hash, block_number, index = found[xt_hash]
            if block_hash not in records:
                records[block_hash] = self._block_events(block_hash)
            receipt, error = self._receipt(
                spec, xt_hash, block_hash, block_number, index, records[block_hash]
            )
            receipts.append(receipt)
            if error is not None and failure is None:
                failure = error
        if check and failure is not None:
            raise failure
        return receipts

    def _await_inclusion(
        self, hashes: list[str], start_block: int
    ) -> dict[str, tuple[str, int, int]]:
        """Scan new blocks until every hash is included; {hash: (block hash, number, index)}."""
        wanted = set(hashes)
        found: dict[str, tuple[str, int, int]] = {}
        next_block = max(0, start_block)
        deadline = time.monotonic() + self.inclusion_timeout_s
        pause = 0.02  # a dev chain seals at once; a slot-based chain takes up to a slot
        while wanted - set(found):
            head = self.block_number()
            while next_block <= head and wanted - set(found):
                block_hash = self.rpc("chain_getBlockHash", [next_block])
                block = self.rpc("chain_getBlock", [block_hash])
                for index, raw in enumerate(block["block"]["extrinsics"]):
                    digest = hashlib.blake2b(bytes.fromhex(raw[2:]), digest_size=32).hexdigest()
                    if "0x" + digest in wanted:
                        found["0x" + digest] = (block_hash, next_block, index)
                next_block += 1
            if wanted - set(found):
                if time.monotonic() > deadline:
                    raise ChainError(
                        f"{len(wanted - set(found))} extrinsic(s) not included within "
                        f"{self.inclusion_timeout_s:.0f} s (still in the pool or dropped)"
                    )
                time.sleep(pause)
                pause = min(pause * 2, 0.25)
        return found

    def _block_events(self, block_hash: str) -> list[Any]:
        def read(si: SubstrateInterface) -> list[Any]:
            return list(si.get_events(block_hash))

        return self._rpc(read, "events")

    def _receipt(
        self,
        spec: CallSpec,
        xt_hash: str,
        block_hash: str,
        block_number: int,
        index: int,
        records: list[Any],
    ) -> tuple[Receipt, ExtrinsicFailed | None]:
        """The receipt of the extrinsic at ``index``, from its block's event ``records``."""

        def read(si: SubstrateInterface) -> tuple[Receipt, ExtrinsicFailed | None]:
            events: list[ChainEvent] = []
            fee = 0
            error: ExtrinsicFailed | None = None
            succeeded = False
            for record in records:
                value = record.value
                if value.get("extrinsic_idx") != index:
                    continue
                event = value["event"]
                chain_event = ChainEvent(
                    event["module_id"], event["event_id"], event["attributes"], block_number, index
                )
                events.append(chain_event)
                if (
                    chain_event.pallet == "TransactionPayment"
                    and chain_event.name == "TransactionFeePaid"
                ):
                    fee = int(chain_event.attributes["actual_fee"])
                elif chain_event.pallet == "System" and chain_event.name == "ExtrinsicSuccess":
                    succeeded = True
                elif chain_event.pallet == "System" and chain_event.name == "ExtrinsicFailed":
                    error = dispatch_error(
                        chain_event.attributes["dispatch_error"],
                        si.metadata,
                        extrinsic_hash=xt_hash,
                        block_hash=block_hash,
                    )
            if not succeeded and error is None:
                error = ExtrinsicFailed(
                    "",
                    "Unknown",
                    "no ExtrinsicSuccess/ExtrinsicFailed event found",
                    extrinsic_hash=xt_hash,
                    block_hash=block_hash,
                )
            receipt = Receipt(
                xt_hash, block_hash, block_number, spec.pallet, spec.call, fee, tuple(events)
            )
            return receipt, error

        return self._rpc(read, "receipt")

    # ---- typed calls: Balances -----------------------------------------------------------------
    def transfer(
        self,
        signer: Keypair,
        dest: Address,
        amount: Balance,
        *,
        keep_alive: bool = True,
        on_fee: Callable[[FeeEstimate], bool] = _fee_veto_none,
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
        on_fee: Callable[[FeeEstimate], bool] = _fee_veto_none,
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
        on_fee: Callable[[FeeEstimate], bool] = _fee_veto_none,
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
        on_fee: Callable[[FeeEstimate], bool] = _fee_veto_none,
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
        on_fee: Callable[[FeeEstimate], bool] = _fee_veto_none,
    ) -> Receipt:
        _check_address(dest)
        _check_amount(amount)
        params = {"id": asset_id, "target": dest, "amount": amount}
        return self.submit(signer, "Assets", "transfer", params, on_fee=on_fee)

    # ---- queries -----------------------------------------------------------------------------
    def storage(self, pallet: str, item: str, params: list[Any] | None = None) -> Any:
        """One storage value (decoded to plain data), or None."""

        def read(si: SubstrateInterface) -> Any:
            if not self.has_storage_unlocked(si, pallet, item):
                raise UnknownCall(f"the runtime has no storage {pallet}.{item}")
            return si.query(pallet, item, params or []).value

        return self._rpc(read, f"query {pallet}.{item}")

    def storage_entries(
        self, pallet: str, item: str, prefix: list[Any] | None = None
    ) -> list[tuple[Any, Any]]:
        """Every (key, value) of a storage map (of a double map: under ``prefix``), decoded."""

        def read(si: SubstrateInterface) -> list[tuple[Any, Any]]:
            if not self.has_storage_unlocked(si, pallet, item):
                raise UnknownCall(f"the runtime has no storage {pallet}.{item}")
            result = si.query_map(pallet, item, params=prefix or None, page_size=500)
            return [(key.value, value.value) for key, value in result]

        return self._rpc(read, f"query {pallet}.{item}")

    def has_storage_unlocked(self, si: SubstrateInterface, pallet: str, item: str) -> bool:
        try:
            module = self._module(si, pallet)
        except UnknownCall:
            return False
        return any(s.name == item for s in (module.storage or []))

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

    def constant(self, pallet: str, name: str) -> Any:
        def read(si: SubstrateInterface) -> Any:
            found = si.get_constant(pallet, name)
            if found is None:
                raise UnknownCall(f"the runtime has no constant {pallet}.{name}")
            return found.value

        return self._rpc(read, f"constant {pallet}.{name}")

    # ---- subscriptions ---------------------------------------------------------------------------
    def watch_heads(
        self,
        handler: Callable[[BlockHeader], bool | None],
        *,
        finalized: bool = False,
    ) -> None:
        """Call ``handler`` for each new block header until it returns True.

        Survives node restarts: the subscription is re-established with backoff and no
        block number is reported twice.
        """
        last = -1

        def on_header(obj: Any, _update: int, _sub: str) -> bool | None:
            nonlocal last
            header = obj["header"]
            number = (
                int(header["number"], 16)
                if isinstance(header["number"], str)
                else int(header["number"])
            )
            if number <= last:
                return None
            last = number
            block_hash = header.get("hash") or self._substrate_hash(number)
            stop = handler(BlockHeader(number, str(block_hash), str(header["parentHash"])))
            return True if stop else None

        def subscribe() -> None:
            with self._lock:
                si = self._connect()
            si.subscribe_block_headers(on_header, finalized_only=finalized)

        retry(
            subscribe,
            what="block subscription",
            transient=TRANSIENT,
            policy=RetryPolicy(attempts=12, deadline_s=120.0),
            on_retry=self._drop,
        )

    def _substrate_hash(self, number: int) -> str:
        return str(self.rpc("chain_getBlockHash", [number]))

    def watch_events(
        self,
        handler: Callable[[ChainEvent], bool | None],
        *,
        pallets: Iterable[str] | None = None,
        finalized: bool = False,
    ) -> None:
        """Call ``handler`` for each event of ``pallets`` (None: all) in new blocks until True."""
        wanted = set(pallets) if pallets else None

        def on_block(header: BlockHeader) -> bool:
            for event in self.events(header.hash, header.number):
                if (wanted is None or event.pallet in wanted) and handler(event):
                    return True
            return False

        self.watch_heads(on_block, finalized=finalized)

    def events(self, block_hash: str, block_number: int | None = None) -> list[ChainEvent]:
        def read(si: SubstrateInterface) -> list[ChainEvent]:
            out = []
            for record in si.get_events(block_hash):
                value = record.value
                event = value["event"]
                out.append(
                    ChainEvent(
                        event["module_id"],
                        event["event_id"],
                        event["attributes"],
                        block_number,
                        value.get("extrinsic_idx"),
                    )
                )
            return out

        return self._rpc(read, "events")


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
