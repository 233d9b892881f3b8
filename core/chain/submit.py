"""Signing and submitting extrinsics, with every outcome checked.

:class:`ChainSubmitter` adds to the connection what sending needs: calls composed by name from
the runtime's metadata, the fee estimated before anything is sent (``on_fee`` sees it and may
veto), a mortal era, nonces from a per-account :class:`NonceManager`, inclusion awaited by
scanning new blocks, and a receipt read from the block's events: a failed dispatch raises
:class:`~decentralml.core.errors.ExtrinsicFailed` with the pallet error's name and docs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from substrateinterface import Keypair, SubstrateInterface
from substrateinterface.exceptions import SubstrateRequestException

from ..errors import (
    Cancelled,
    ChainError,
    ExtrinsicFailed,
    InputError,
    SubmissionRejected,
    UnknownCall,
)
from ..retry import RetryPolicy
from ..types import Address, ChainEvent, FeeEstimate, Receipt
from .connection import ChainConnection
from .errors import dispatch_error
from .lean import LeanSubstrate
from .watch import Watched, extrinsic_hash, refusal_text, submit_and_watch

log = logging.getLogger(__name__)

DEFAULT_ERA_PERIOD = 256
INCLUSION_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class CallSpec:
    """One call to submit: pallet, call name and parameters (as substrate-interface takes them)."""

    pallet: str
    call: str
    params: dict[str, Any]


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


def accept_any_fee(_: FeeEstimate) -> bool:
    """The default ``on_fee``: send whatever the estimate says."""
    return True


class ChainSubmitter(ChainConnection):
    """A connection that also signs, submits and checks extrinsics."""

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
        super().__init__(url, policy=policy)
        self.era_period = era_period
        self.inclusion_timeout_s = inclusion_timeout_s
        self.nonces = NonceManager(self._chain_nonce)

    # ---- composing --------------------------------------------------------------------------
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

    def _sign(self, signer: Keypair, call: Any, nonce: int, head: int) -> Any:
        def build(si: SubstrateInterface) -> Any:
            era = si.era(self.era_period, head) if isinstance(si, LeanSubstrate) else None
            return si.create_signed_extrinsic(
                call=call, keypair=signer, era=era or {"period": self.era_period}, nonce=nonce
            )

        return self._rpc(build, "sign")

    def _send(self, extrinsic: Any) -> str:
        """Put a signed extrinsic into the pool; returns its hash. Resending is harmless."""
        data = str(extrinsic.data)

        def send(si: SubstrateInterface) -> str:
            try:
                reply = si.rpc_request("author_submitExtrinsic", [data])
            except SubstrateRequestException as exc:
                text = refusal_text(exc.args[0] if exc.args else exc)
                if "already imported" in text.lower():
                    # A resend after a reconnect: the pool has these exact bytes already.
                    return extrinsic_hash(data)
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
        on_fee: Callable[[FeeEstimate], bool] = accept_any_fee,
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
        on_fee: Callable[[FeeEstimate], bool] = accept_any_fee,
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
        if on_fee is not accept_any_fee:  # nobody looks at the estimate otherwise
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
        outcomes = self._dispatch(items)
        failure = next((error for _, error in outcomes if error is not None), None)
        if check and failure is not None:
            raise failure
        return [receipt for receipt, _ in outcomes]

    def _dispatch(
        self, items: Sequence[tuple[Keypair, CallSpec, Any]]
    ) -> list[tuple[Receipt, ExtrinsicFailed | None]]:
        """Sign, send and await ``items``; each one's receipt and its dispatch's failure."""
        if not items:
            return []
        start_block = self.block_number()
        hashes: list[str] = []
        watched: dict[str, str] = {}  # hash -> block pushed by a watch (one extrinsic alone)
        for signer, spec, item in items:
            for attempt in (1, 2):
                nonce = self.nonces.next(signer.ss58_address)
                extrinsic = self._sign(signer, item, nonce, start_block)
                try:
                    if len(items) == 1:
                        outcome = self._send_watched(extrinsic)
                        hashes.append(outcome.extrinsic_hash)
                        if outcome.block_hash is not None:
                            watched[outcome.extrinsic_hash] = outcome.block_hash
                    else:
                        hashes.append(self._send(extrinsic))
                    log.info("sent %s.%s nonce %d", spec.pallet, spec.call, nonce)
                    break
                except SubmissionRejected as exc:
                    self.nonces.forget(signer.ss58_address)
                    stale = any(
                        w in str(exc).lower()
                        for w in ("stale", "priority is too low", "outdated", "usurped")
                    )
                    if attempt == 2 or not stale:
                        raise
                    log.info("nonce %d was taken (%s); retrying with a fresh nonce", nonce, exc)
        found = self._located(watched) if watched else self._await_inclusion(hashes, start_block)
        outcomes: list[tuple[Receipt, ExtrinsicFailed | None]] = []
        records: dict[str, list[Any]] = {}  # each block's events are read and decoded once
        for (_, spec, _), xt_hash in zip(items, hashes, strict=True):
            block_hash, block_number, index = found[xt_hash]
            if block_hash not in records:
                records[block_hash] = self._block_events(block_hash)
            outcomes.append(
                self._receipt(spec, xt_hash, block_hash, block_number, index, records[block_hash])
            )
        return outcomes

    def submit_each(
        self, signer: Keypair, calls: Sequence[CallSpec]
    ) -> list[Receipt | ExtrinsicFailed]:
        """Send ``calls`` back to back (consecutive nonces, so one block can hold them all in
        order) and return each one's outcome: its receipt, or the failure of its dispatch."""
        composed = [(signer, c, self.compose(c.pallet, c.call, c.params)) for c in calls]
        return [error or receipt for receipt, error in self._dispatch(composed)]

    def _send_watched(self, extrinsic: Any) -> Watched:
        """Submit with a watch of its own (:mod:`.watch`); without one, as :meth:`_send`."""
        data = str(extrinsic.data)
        try:
            return submit_and_watch(self.url, data, self.inclusion_timeout_s)
        except ConnectionError as exc:
            log.info("%s; submitting without a watch", exc)
            return Watched(self._send(extrinsic), None)

    def _located(self, watched: dict[str, str]) -> dict[str, tuple[str, int, int]]:
        """{hash: (block hash, number, index)} of extrinsics whose blocks a watch named."""
        found: dict[str, tuple[str, int, int]] = {}
        for xt_hash, block_hash in watched.items():
            block = self.rpc("chain_getBlock", [block_hash])
            for index, raw in enumerate(block["block"]["extrinsics"]):
                if extrinsic_hash(raw) == xt_hash:
                    number = int(block["block"]["header"]["number"], 16)
                    found[xt_hash] = (block_hash, number, index)
            if xt_hash not in found:
                raise ChainError(f"block {block_hash} announced for {xt_hash} does not hold it")
        return found

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
                    digest = extrinsic_hash(raw)
                    if digest in wanted:
                        found[digest] = (block_hash, next_block, index)
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
