"""Audit a stretch of chain after a fault: no token made or lost, no update lost or doubled.

Used by the federation's fault tests and bench/federation.py. Two checks over every block in
``(start, end]`` (both finalized):

- **balances**: for every account any ``Balances`` event names, the change of free + held
  between the two blocks equals what the events say (transfers, fee withdrawals, transfers
  on hold, burns...; a hold or a release moves nothing out of free + held), and total issuance
  changed by exactly minus the fees paid (this runtime burns fees, and nothing else may create
  or destroy a token);
- **updates**: each trainer revealed at most one update per round and was paid at most once
  per round, only for an update it revealed; in a round that succeeded, every revealed update
  was paid, or left unpaid by a rule the chain or the aggregator states (``RewardUnpaid``, a
  confirmed free rider, or an exclusion the aggregator's journal records with its reason). A
  failed round pays no one by the protocol's rule; its updates are counted as voided.

The pure parts take :class:`~decentralml.core.types.ChainEvent` lists and work offline.
"""

from __future__ import annotations

import contextlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..types import ChainEvent

# How each Balances event moves free + held: (account field, sign) pairs.
_MOVES: dict[str, tuple[tuple[str, int], ...]] = {
    "Transfer": (("from", -1), ("to", 1)),
    "Deposit": (("who", 1),),
    "Withdraw": (("who", -1),),
    "Slashed": (("who", -1),),
    "Minted": (("who", 1),),
    "Burned": (("who", -1),),
    "BurnedHeld": (("who", -1),),
    "Suspended": (("who", -1),),
    "Restored": (("who", 1),),
    "DustLost": (("account", -1),),
    "TransferOnHold": (("source", -1), ("dest", 1)),
    "TransferAndHold": (("source", -1), ("dest", 1)),
    "ReserveRepatriated": (("from", -1), ("to", 1)),
}
# Events that move nothing out of free + held, or only announce what another event moves.
_NEUTRAL = {
    "Endowed",  # always with the Transfer/Deposit/Minted that created the account
    "Reserved",
    "Unreserved",
    "Held",
    "Released",
    "Locked",
    "Unlocked",
    "Frozen",
    "Thawed",
    "Upgraded",
    # Issuance-level events (no account): issuance itself is checked against the fees.
    "Issued",
    "Rescinded",
    "BurnedDebt",
    "MintedCredit",
}


def _amount(attrs: Mapping[str, Any]) -> int:
    return int(attrs.get("amount", attrs.get("transferred", 0)))


def balance_deltas(events: Iterable[ChainEvent]) -> tuple[dict[str, int], list[str]]:
    """Per-account change of free + held the events account for, and the events whose effect
    this audit cannot tell (each one is an error: nothing in this runtime should emit them)."""
    deltas: dict[str, int] = defaultdict(int)
    unknown: list[str] = []
    for e in events:
        if e.pallet != "Balances":
            continue
        moves = _MOVES.get(e.name)
        if moves is None:
            if e.name not in _NEUTRAL:
                unknown.append(f"block #{e.block_number}: Balances.{e.name} {e.attributes}")
            continue
        amount = _amount(e.attributes)
        for key, sign in moves:
            deltas[str(e.attributes[key])] += sign * amount
    return dict(deltas), unknown


def fees_paid(events: Iterable[ChainEvent]) -> int:
    return sum(
        int(e.attributes["actual_fee"])
        for e in events
        if e.pallet == "TransactionPayment" and e.name == "TransactionFeePaid"
    )


def reconcile(
    before: Mapping[str, int],
    after: Mapping[str, int],
    deltas: Mapping[str, int],
    issuance: tuple[int, int],
    fees: int,
) -> list[str]:
    """Errors: accounts whose free + held moved other than the events say; issuance that
    moved other than by the fees."""
    errors = []
    for account in sorted(set(before) | set(after) | set(deltas)):
        moved = after.get(account, 0) - before.get(account, 0)
        said = deltas.get(account, 0)
        if moved != said:
            errors.append(f"{account}: free + held moved by {moved}, the events account for {said}")
    made = issuance[1] - issuance[0]
    if made != -fees:
        errors.append(f"total issuance moved by {made}, fees paid were {fees} (burned)")
    return errors


@dataclass
class UpdateLedger:
    """What happened to each revealed update of one task, from its events."""

    revealed: Counter[tuple[int, str]] = field(default_factory=Counter)
    paid: Counter[tuple[int, str]] = field(default_factory=Counter)
    unpaid: set[tuple[int, str]] = field(default_factory=set)
    confirmed_free_riders: set[tuple[int, str]] = field(default_factory=set)
    aggregators: dict[int, str] = field(default_factory=dict)
    included: dict[int, int] = field(default_factory=dict)
    outcome: dict[int, bool] = field(default_factory=dict)

    @classmethod
    def of(cls, events: Iterable[ChainEvent], task_id: int) -> UpdateLedger:
        book = cls()
        for e in events:
            a = e.attributes
            if e.pallet != "DecentralMl" or not isinstance(a, Mapping):
                continue
            if int(a.get("task_id", -1)) != task_id or "round" not in a:
                continue
            key_round = int(a["round"])
            if e.name == "UpdateRevealed":
                book.revealed[(key_round, str(a["trainer"]))] += 1
            elif e.name == "RewardPaid":
                book.paid[(key_round, str(a["account"]))] += 1
            elif e.name == "RewardUnpaid":
                book.unpaid.add((key_round, str(a["account"])))
            elif e.name == "FreeRiderConfirmed":
                book.confirmed_free_riders.add((key_round, str(a["trainer"])))
            elif e.name == "AggregateSubmitted":
                book.aggregators[key_round] = str(a["aggregator"])
                book.included[key_round] = int(a["included"])
            elif e.name == "RoundFinalized":
                book.outcome[key_round] = bool(a["succeeded"])
        return book

    def errors(self, excluded: Mapping[int, Iterable[str]] | None = None) -> list[str]:
        """Updates lost (revealed in a round that succeeded, neither paid nor left out by a
        stated rule) or doubled (revealed or paid twice, paid without a reveal)."""
        excluded_by = {r: set(who) for r, who in (excluded or {}).items()}
        errors = []
        for (r, who), n in sorted(self.revealed.items()):
            if n > 1:
                errors.append(f"round {r}: {who} revealed {n} updates")
        for (r, who), n in sorted(self.paid.items()):
            if n > 1:
                errors.append(f"round {r}: {who} paid {n} times")
            if who != self.aggregators.get(r) and (r, who) not in self.revealed:
                errors.append(f"round {r}: {who} paid without a revealed update")
        for r, succeeded in sorted(self.outcome.items()):
            if not succeeded:
                continue
            trainers_paid = [w for (pr, w) in self.paid if pr == r and w != self.aggregators.get(r)]
            if r in self.included and len(trainers_paid) > self.included[r]:
                errors.append(
                    f"round {r}: {len(trainers_paid)} trainers paid, the aggregate included "
                    f"{self.included[r]}"
                )
            for rr, who in sorted(self.revealed):
                if rr != r or (r, who) in self.paid or (r, who) in self.unpaid:
                    continue
                if (r, who) in self.confirmed_free_riders or who in excluded_by.get(r, set()):
                    continue
                errors.append(f"round {r}: {who}'s revealed update was neither paid nor excluded")
        return errors

    def voided(self) -> int:
        """Revealed updates of rounds that failed (paid by no one, by the protocol's rule)."""
        return sum(1 for (r, _) in self.revealed if self.outcome.get(r) is False)


@dataclass(frozen=True)
class AuditResult:
    blocks: tuple[int, int]
    accounts: int
    fees: int
    balance_errors: list[str]
    update_errors: list[str]
    updates_revealed: int
    updates_voided: int

    @property
    def ok(self) -> bool:
        return not self.balance_errors and not self.update_errors

    def describe(self) -> str:
        lines = [
            f"blocks #{self.blocks[0]}..#{self.blocks[1]}: {self.accounts} accounts, fees "
            f"{self.fees}, {self.updates_revealed} updates revealed "
            f"({self.updates_voided} voided by a failed round)",
            *(f"balance: {e}" for e in self.balance_errors),
            *(f"update: {e}" for e in self.update_errors),
        ]
        return "\n".join(lines)


class ChainAudit:
    """Reads what :func:`reconcile` and :class:`UpdateLedger` need from a node that keeps the
    state of every finalized block (``--state-pruning archive-canonical``, as the rehearsal
    federation's validators run). It connects to ``url`` at the start and again at the end
    (a scenario may take minutes; an idle connection is not kept open meanwhile)."""

    def __init__(self, url: str) -> None:
        self.url = url
        with self._client() as client:
            self.start_number, self.start_hash = self.finalized(client)

    @contextlib.contextmanager
    def _client(self) -> Iterator[Any]:
        from ..chain.client import ChainClient

        client = ChainClient(self.url)
        try:
            yield client
        finally:
            client.close()

    @staticmethod
    def finalized(client: Any) -> tuple[int, str]:
        head = client.rpc("chain_getFinalizedHead")
        header = client.rpc("chain_getHeader", [head])
        return int(header["number"], 16), head

    @staticmethod
    def events(client: Any, first: int, last: int) -> list[ChainEvent]:
        found: list[ChainEvent] = []
        for number in range(first, last + 1):
            found += client.events(client.rpc("chain_getBlockHash", [number]), number)
        return found

    @staticmethod
    def totals(client: Any, block_hash: str, accounts: Iterable[str]) -> dict[str, int]:
        out = {}
        for account in accounts:
            data = client.substrate.query(
                "System", "Account", [account], block_hash=block_hash
            ).value
            out[account] = int(data["data"]["free"]) + int(data["data"]["reserved"])
        return out

    @staticmethod
    def issuance(client: Any, block_hash: str) -> int:
        value = client.substrate.query("Balances", "TotalIssuance", block_hash=block_hash).value
        return int(value)

    def finish(
        self,
        task_id: int,
        *,
        accounts: Iterable[str] = (),
        excluded: Mapping[int, Iterable[str]] | None = None,
    ) -> AuditResult:
        """Audit every block from the one after construction to the finalized head now."""
        with self._client() as client:
            end_number, end_hash = self.finalized(client)
            events = self.events(client, self.start_number + 1, end_number)
            deltas, unknown = balance_deltas(events)
            everyone = set(deltas) | set(accounts)
            fees = fees_paid(events)
            balance_errors = unknown + reconcile(
                self.totals(client, self.start_hash, everyone),
                self.totals(client, end_hash, everyone),
                deltas,
                (self.issuance(client, self.start_hash), self.issuance(client, end_hash)),
                fees,
            )
        book = UpdateLedger.of(events, task_id)
        return AuditResult(
            blocks=(self.start_number, end_number),
            accounts=len(everyone),
            fees=fees,
            balance_errors=balance_errors,
            update_errors=book.errors(excluded),
            updates_revealed=sum(book.revealed.values()),
            updates_voided=book.voided(),
        )
