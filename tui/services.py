"""The console's service layer: what the screens may ask of the chain, and the real implementation.

Screens never touch substrate-interface or the keystore; they call a :class:`Backend` from a
thread worker. :class:`ChainBackend` (the default) is built on the core: ``LightReader`` for
bulk reads (10,000 tasks page through ``state_getKeysPaged`` + ``state_queryStorageAt``),
``ChainClient`` for fees, signing, receipts, balances and events. Tests inject an in-memory
backend with the same methods.

Everything here is synchronous and may block: call it from ``@work(thread=True)`` only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from decentralml.core.errors import InputError, KeystoreError
from decentralml.core.types import (
    AssetId,
    ChainEvent,
    ContentRef,
    Receipt,
    decode_text,
    enum_name,
    format_amount,
)

if TYPE_CHECKING:
    from decentralml.core.chain.client import ChainClient
    from decentralml.core.chain.light import LightReader
    from decentralml.core.chain.records import Record
    from decentralml.core.config import Config
    from decentralml.core.storage.kubo import KuboStore
    from substrateinterface import Keypair

log = logging.getLogger(__name__)

PERBILL = 1_000_000_000
PALLET = "DecentralMl"


# ---- view records -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Token:
    """How to show amounts of one asset (native: asset None)."""

    symbol: str
    decimals: int
    asset: AssetId | None = None

    def fmt(self, value: int) -> str:
        return format_amount(value, self.decimals, self.symbol)


NATIVE = Token("DML", 12)


@dataclass(frozen=True)
class ChainInfo:
    chain: str
    chain_type: str
    token: Token
    block_time_s: float = 2.0


@dataclass(frozen=True)
class TaskRow:
    id: int
    model: int
    sponsor: str
    status: str
    asset: AssetId | None
    reward_per_round: int
    total_rounds: int
    next_round: int
    trainers: int
    min_trainers: int
    max_trainers: int
    stake: int
    pool: int
    aggregation: str
    round_length: int
    challenge_window: int
    jurisdictions: tuple[str, ...] = ()
    aggregator: str | None = None

    @property
    def live(self) -> bool:
        return self.status in ("Open", "Running")

    @classmethod
    def from_fields(cls, task_id: int, f: dict[str, Any]) -> TaskRow:
        terms = f.get("terms") or {}
        asset = terms.get("asset", "Native")
        asset_id = int(asset["Asset"]) if isinstance(asset, dict) and "Asset" in asset else None
        return cls(
            id=task_id,
            model=int(f.get("model", 0)),
            sponsor=str(f.get("sponsor", "")),
            status=enum_name(f.get("status", "")),
            asset=asset_id,
            reward_per_round=int(terms.get("reward_per_round", 0)),
            total_rounds=int(terms.get("total_rounds", 0)),
            next_round=int(f.get("next_round", 0)),
            trainers=int(f.get("trainer_count", 0)),
            min_trainers=int(terms.get("min_trainers", 0)),
            max_trainers=int(terms.get("max_trainers", 0)),
            stake=int(terms.get("trainer_stake", 0)),
            pool=int(f.get("pool", 0)),
            aggregation=aggregation_text(terms.get("aggregation", "")),
            round_length=int(terms.get("round_length", 0)),
            challenge_window=int(terms.get("challenge_window", 0)),
            jurisdictions=tuple(codes(terms.get("jurisdictions") or [])),
            aggregator=_aggregator(f.get("aggregator")),
        )


def _aggregator(value: Any) -> str | None:
    if isinstance(value, dict):
        return str(value.get("account") or value.get("who") or next(iter(value.values()), ""))
    if isinstance(value, (list, tuple)) and value:
        return str(value[0])
    return None if value is None else str(value)


def aggregation_text(value: Any) -> str:
    name = enum_name(value)
    if isinstance(value, dict):
        inner = next(iter(value.values()))
        if name == "TrimmedMean":
            return f"trimmed:{int(inner) * 100 / PERBILL:g}"
        if name == "NormClippedFedAvg":
            return f"clip:{inner}"
    return {"FedAvg": "fedavg", "CoordinateMedian": "median"}.get(name, name)


def codes(values: Iterable[Any]) -> list[str]:
    out = []
    for value in values:
        text = decode_text(value) if isinstance(value, (str, bytes, list)) else str(value)
        out.append(text)
    return out


@dataclass(frozen=True)
class Participant:
    trainer: str
    stake: int
    first_round: int
    leaving: bool


@dataclass(frozen=True)
class Update:
    trainer: str
    round: int
    cid: str
    samples: int
    loss: float
    accuracy: float


@dataclass(frozen=True)
class TaskDetail:
    task: TaskRow
    round: dict[str, Any] | None
    participants: tuple[Participant, ...]
    updates: tuple[Update, ...]
    paid_out: int


@dataclass(frozen=True)
class Thresholds:
    standard_quorum: int = 1000
    standard_approval: int = 500_000_000
    safety_quorum: int = 2000
    safety_approval: int = 666_666_667
    proposal_deposit: int = 10**12
    voting_period: int = 150
    min_trainer_stake: int = 10**11


@dataclass(frozen=True)
class ProposalRow:
    id: int
    kind: str
    summary: str
    proposer: str
    status: str
    created_at: int
    ends_at: int
    ayes: int
    nays: int
    support: int
    deposit: int

    @property
    def safety(self) -> bool:
        return self.kind == "Safety"

    def approval(self) -> float:
        total = self.ayes + self.nays
        return self.ayes / total if total else 0.0

    @classmethod
    def from_fields(cls, proposal_id: int, f: dict[str, Any]) -> ProposalRow:
        kind_value = f.get("kind", "")
        tally = f.get("tally") or {}
        return cls(
            id=proposal_id,
            kind=enum_name(kind_value),
            summary=kind_summary(kind_value),
            proposer=str(f.get("proposer", "")),
            status=enum_name(f.get("status", "")),
            created_at=int(f.get("created_at", 0)),
            ends_at=int(f.get("ends_at", 0)),
            ayes=int(tally.get("ayes", 0)),
            nays=int(tally.get("nays", 0)),
            support=int(tally.get("support", 0)),
            deposit=int(f.get("deposit", 0)),
        )


def kind_summary(kind: Any) -> str:
    """``{"SetLicence": {"model": 0, ...}}`` -> ``model 0: licence Apache-2.0``."""
    name = enum_name(kind)
    body = next(iter(kind.values())) if isinstance(kind, dict) and kind else {}
    if not isinstance(body, dict):
        return f"{name} {body}"
    model = body.get("model")
    if name in ("ApproveVersion", "RejectVersion"):
        verb = "approve" if name == "ApproveVersion" else "reject"
        return f"model {model}: {verb} version {body.get('version')}"
    if name == "SetLicence":
        from decentralml.core.chain.records import licence_text

        return f"model {model}: licence {licence_text(body.get('licence')) or '?'}"
    if name == "SetJurisdictions":
        raw = body.get("jurisdictions") or []
        if isinstance(raw, list) and len(raw) == 1 and isinstance(raw[0], list):
            raw = raw[0]
        found = codes(raw)
        return f"model {model}: jurisdictions {' '.join(found) or 'anywhere'}"
    if name == "Safety":
        return f"model {model}: {str(body.get('action', '')).lower()}"
    if name == "ResolveChallenge":
        return f"task {body.get('task')} round {body.get('round')}: challenge"
    if name == "SetParameter":
        (param, value), *_ = body.items() if body else (("?", "?"),)
        return f"{param} = {value}"
    return name


@dataclass(frozen=True)
class ModelRow:
    id: int
    name: str
    owner: str
    status: str
    licence: str
    jurisdictions: tuple[str, ...]
    next_version: int
    latest_approved: int | None


@dataclass(frozen=True)
class VersionRow:
    model: int
    version: int
    status: str
    cid: str
    task: int | None
    round: int | None
    loss: float | None
    accuracy: float | None


@dataclass(frozen=True)
class Amount:
    """One line of a balance breakdown: what, how much, why, until when."""

    kind: str
    reason: str
    amount: int
    token: Token
    until: str = ""


@dataclass(frozen=True)
class BalanceView:
    address: str
    free: int
    transferable: int
    reserved: int
    frozen: int
    token: Token
    held: tuple[Amount, ...] = ()
    assets: tuple[tuple[Token, int], ...] = ()
    stakes: tuple[tuple[int, int, Token, bool], ...] = ()
    """(task, stake, token, leaving)"""
    unlocks: tuple[tuple[int, int, str, int], ...] = ()
    """(proposal, balance, conviction, unlock_at block)"""


@dataclass(frozen=True)
class Action:
    """One extrinsic the user asked for, with what it spends or locks."""

    title: str
    pallet: str
    call: str
    params: dict[str, Any]
    amount: int = 0
    token: Token = NATIVE
    effect: str = ""
    """What happens to the amount: 'transferred', 'escrowed', 'staked', 'locked', 'deposit'."""
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class Heads:
    best: int
    finalized: int


@dataclass(frozen=True)
class Funds:
    """What the active account has, read just before a confirmation dialog."""

    transferable: int
    """Native: what may pay fees, transfers, stakes, escrows and deposits."""
    total: int
    """Native free + held: the most a vote may lock (vote locks overlap other holds)."""
    asset: int = 0
    """The balance of the action's asset (asset actions only)."""


LOCKED = "locked"
"""``Action.effect`` of a vote: a freeze that may overlap funds already held or frozen."""


def shortfall(action: Action, fee: int, funds: Funds, native: Token) -> str | None:
    """Why the active account cannot pay ``action`` and its ``fee``, or None if it can."""
    f, token = native.fmt, action.token
    if token.asset is not None:
        if action.amount > funds.asset:
            return (
                f"insufficient {token.symbol} balance: have {token.fmt(funds.asset)}, "
                f"need {token.fmt(action.amount)} (+ fee {f(fee)})"
            )
        if fee > funds.transferable:
            return f"insufficient balance: have {f(funds.transferable)}, need fee {f(fee)}"
        return None
    if action.effect == LOCKED:
        if action.amount > funds.total or fee > funds.transferable:
            return (
                f"insufficient balance: have {f(funds.total)} (free and held), "
                f"need {f(action.amount)} (+ fee {f(fee)})"
            )
        return None
    if action.amount + fee > funds.transferable:
        return (
            f"insufficient balance: have {f(funds.transferable)}, "
            f"need {f(action.amount)} (+ fee {f(fee)})"
        )
    return None


@dataclass(frozen=True)
class ModelRequest:
    """A model registration as the wizard collected it: local files, not yet uploaded."""

    name: str
    architecture: Path
    weights: Path
    spdx: str | None
    """A canonical SPDX id, or None for custom terms (``custom_terms``)."""
    custom_terms: Path | None
    commercial_use: bool
    attribution: bool
    jurisdictions: tuple[str, ...]


class PasswordNeeded(KeystoreError):
    """The active account is a keystore account whose key is still locked."""


class Backend(Protocol):
    """What the console asks of the chain. Every method may block; call from a worker."""

    info: ChainInfo

    def connect(self) -> ChainInfo: ...
    def heads(self) -> Heads: ...
    def events(self, block: int) -> list[ChainEvent]: ...
    def thresholds(self) -> Thresholds: ...
    def total_issuance(self) -> int: ...
    def tasks(self) -> list[TaskRow]: ...
    def task(self, task_id: int) -> TaskRow | None: ...
    def task_detail(self, task_id: int) -> TaskDetail | None: ...
    def proposals(self) -> list[ProposalRow]: ...
    def proposal(self, proposal_id: int) -> ProposalRow | None: ...
    def models(self) -> list[ModelRow]: ...
    def versions(self, model_id: int) -> list[VersionRow]: ...
    def token(self, asset: AssetId | None) -> Token: ...
    def assets(self) -> list[Token]: ...
    def balance(self, address: str) -> BalanceView: ...
    def account(self) -> tuple[str, str]: ...
    def set_account(self, spec: str) -> tuple[str, str]: ...
    def unlock_account(self, password: str) -> None: ...
    def locked(self) -> bool:
        """The active account is a keystore account whose key is not unlocked yet."""
        ...

    def role_password(self) -> str | None:
        """The password a role process of the active account needs (None: a dev key)."""
        ...

    def funds(self, asset: AssetId | None) -> Funds: ...
    def model_deposit(self) -> int: ...
    def upload(self, path: Path) -> ContentRef: ...
    def estimate(self, action: Action) -> int: ...
    def execute(self, action: Action) -> Receipt: ...
    def close(self) -> None: ...


# ---- action builders (pure; shared by every backend) ---------------------------------------------
def task_action(call: str, task: TaskRow, token: Token) -> Action:
    verbs = {
        "join_task": ("Join task", task.stake, "staked"),
        "leave_task": ("Leave task", 0, ""),
        "cancel_task": ("Cancel task", 0, ""),
        "start_round": ("Start round", 0, ""),
    }
    title, amount, effect = verbs.get(call, (call, 0, ""))
    return Action(
        f"{title} {task.id}",
        PALLET,
        call,
        {"task_id": task.id},
        amount=amount,
        token=token,
        effect=effect,
        details=(f"model {task.model}, {task.trainers}/{task.max_trainers} trainers",),
    )


def create_task_action(model: int, terms: Any, token: Token) -> Action:
    """``terms`` is a core :class:`TaskTerms`; validated here (raises InputError)."""
    chain_terms = terms.to_chain()
    pool = terms.reward_per_round * terms.total_rounds
    return Action(
        f"Create a task on model {model}",
        PALLET,
        "create_task",
        {"model_id": model, "terms": chain_terms},
        amount=pool,
        token=token,
        effect="escrowed",
        details=(
            f"{terms.total_rounds} rounds x {token.fmt(terms.reward_per_round)}",
            f"trainers {terms.min_trainers}-{terms.max_trainers}, "
            f"stake {token.fmt(terms.trainer_stake)}",
            f"aggregation {terms.aggregation}, rounds of {terms.round_length} blocks",
        ),
    )


def vote_action(proposal: ProposalRow, aye: bool, balance: int, conviction: int) -> Action:
    from decentralml.core.chain.decentralml import conviction as conviction_name

    if balance <= 0:
        raise InputError("a vote needs a positive amount")
    name = conviction_name(conviction)
    return Action(
        f"Vote {'aye' if aye else 'nay'} on proposal {proposal.id}",
        PALLET,
        "vote",
        {"proposal_id": proposal.id, "aye": aye, "balance": balance, "conviction": name},
        amount=balance,
        effect=LOCKED,
        details=(proposal.summary, f"conviction {name} ({conviction_weight(conviction)} votes)"),
    )


CONVICTION_LABELS = (
    "None: 0.1x votes, no lock",
    "Locked1x: 1x votes, locked 1 period",
    "Locked2x: 2x votes, locked 2 periods",
    "Locked3x: 3x votes, locked 4 periods",
    "Locked4x: 4x votes, locked 8 periods",
    "Locked5x: 5x votes, locked 16 periods",
    "Locked6x: 6x votes, locked 32 periods",
)


def conviction_weight(level: int) -> str:
    return "0.1x" if level == 0 else f"{level}x"


def proposal_action(kind: dict[str, Any], deposit: int) -> Action:
    return Action(
        "Submit a proposal",
        PALLET,
        "submit_proposal",
        {"kind": kind},
        amount=deposit,
        effect="held as deposit",
        details=(kind_summary(kind),),
    )


def close_action(proposal: ProposalRow) -> Action:
    return Action(
        f"Close proposal {proposal.id}",
        PALLET,
        "close_proposal",
        {"proposal_id": proposal.id},
        details=(proposal.summary,),
    )


def transfer_action(dest: str, amount: int, token: Token) -> Action:
    from substrateinterface import Keypair

    try:
        Keypair(ss58_address=dest)
    except (ValueError, TypeError, IndexError):
        raise InputError(f"invalid address {dest!r} (expected an SS58 address)") from None
    if amount <= 0:
        raise InputError("the amount must be positive")
    if token.asset is None:
        return Action(
            "Transfer",
            "Balances",
            "transfer_keep_alive",
            {"dest": dest, "value": amount},
            amount=amount,
            token=token,
            effect="transferred",
            details=(f"to {dest}",),
        )
    return Action(
        f"Transfer {token.symbol}",
        "Assets",
        "transfer",
        {"id": token.asset, "target": dest, "amount": amount},
        amount=amount,
        token=token,
        effect="transferred",
        details=(f"to {dest}",),
    )


def unlock_action(address: str) -> Action:
    return Action("Unlock expired votes", PALLET, "unlock", {"target": address})


def profile_action(code: str) -> Action:
    from decentralml.core.chain.decentralml import jurisdiction

    return Action(
        f"Set trainer profile ({code.upper()})",
        PALLET,
        "set_trainer_profile",
        {"jurisdiction": jurisdiction(code)},
    )


def register_model_action(
    request: ModelRequest,
    architecture: ContentRef,
    weights: ContentRef,
    licence: dict[str, Any],
    deposit: int,
) -> Action:
    """``register_model`` with the uploaded files (core ``model_registration`` builds the call)."""
    from decentralml.core.chain.decentralml import model_registration

    params = model_registration(
        request.name,
        architecture,
        weights,
        licence=licence,
        jurisdictions=request.jurisdictions,
    )
    terms = request.spdx or "custom terms"
    flags = (
        f"commercial use {'yes' if request.commercial_use else 'no'}, "
        f"attribution {'yes' if request.attribution else 'no'}"
    )
    return Action(
        f"Register model {request.name!r}",
        PALLET,
        "register_model",
        params,
        amount=deposit,
        effect="held as deposit while the model is not retired",
        details=(
            f"architecture {architecture.cid[:24]}… ({architecture.size:,} bytes)",
            f"weights {weights.cid[:24]}… ({weights.size:,} bytes)",
            f"licence {terms}; {flags}",
            f"jurisdictions {' '.join(request.jurisdictions) or 'anywhere'}",
            "the files are on IPFS already: cancelling leaves them unreferenced (harmless)",
        ),
    )


def registration_action(backend: Backend, request: ModelRequest) -> Action:
    """Upload the wizard's files to the configured IPFS node, then build the registration.

    Blocking. If an upload fails nothing has been sent (the error says what to do); if the
    extrinsic later fails or is cancelled, the uploaded files are merely unreferenced.
    """
    from decentralml.core.chain.decentralml import licence

    architecture = backend.upload(request.architecture)
    weights = backend.upload(request.weights)
    custom = None if request.custom_terms is None else backend.upload(request.custom_terms)
    terms = licence(
        request.spdx,
        custom,
        commercial_use=request.commercial_use,
        attribution=request.attribution,
    )
    return register_model_action(request, architecture, weights, terms, backend.model_deposit())


# ---- the real backend ------------------------------------------------------------------------
class ChainBackend:
    """The console's backend on a real node (``Config.chain``)."""

    def __init__(self, config: Config, account: str | None = None) -> None:
        self.config = config
        self.url = config.chain.url
        self._account_spec = account
        self._keypair: Keypair | None = None
        self._password: str | None = None
        """Kept in memory only, for role processes the console starts (never logged)."""
        self._store: KuboStore | None = None
        self._address = ""
        self._client: ChainClient | None = None
        # Two read connections: whole-map reads (10,000 tasks take seconds) must not hold up
        # the small reads of other panels; the heads poller has a third of its own.
        self._readers: dict[bool, LightReader] = {}
        self._read_locks = {True: threading.Lock(), False: threading.Lock()}
        self._heads_reader: LightReader | None = None
        self._heads_lock = threading.Lock()
        self._tokens: dict[AssetId | None, Token] = {}
        self.info = ChainInfo("?", "?", NATIVE)

    # -- connections
    def _policy(self) -> Any:
        from decentralml.core.retry import RetryPolicy

        return RetryPolicy(attempts=3, initial_delay_s=0.25, deadline_s=4.0)

    @property
    def client(self) -> ChainClient:
        if self._client is None:
            from decentralml.core.chain.client import ChainClient

            self._client = ChainClient(
                self.url, era_period=self.config.chain.era_period, policy=self._policy()
            )
        return self._client

    def _read(self, fn: Callable[[LightReader], Any], *, bulk: bool = False) -> Any:
        with self._read_locks[bulk]:
            reader = self._readers.get(bulk)
            if reader is None:
                from decentralml.core.chain.light import LightReader

                reader = self._readers[bulk] = LightReader(self.url, policy=self._policy())
            try:
                return fn(reader)
            except Exception:
                reader.close()  # a broken socket reconnects on the next call
                raise

    def connect(self) -> ChainInfo:
        def read(reader: LightReader) -> ChainInfo:
            props = reader.rpc("system_properties") or {}
            chain = str(reader.rpc("system_chain"))
            chain_type = enum_name(reader.rpc("system_chainType"))
            symbol = props.get("tokenSymbol") or "DML"
            decimals = props.get("tokenDecimals") or 12
            if isinstance(symbol, list):
                symbol = symbol[0]
            if isinstance(decimals, list):
                decimals = decimals[0]
            return ChainInfo(chain, chain_type, Token(str(symbol), int(decimals)))

        self.info = self._read(read)
        self._tokens[None] = self.info.token
        if self._account_spec is None and self.info.chain_type == "Development":
            self._account_spec = "//Alice"
        if self._account_spec and not self._address:
            self.set_account(self._account_spec)
        return self.info

    def heads(self) -> Heads:
        with self._heads_lock:
            if self._heads_reader is None:
                from decentralml.core.chain.light import LightReader

                self._heads_reader = LightReader(self.url, policy=self._policy())
            reader = self._heads_reader
            try:
                best = int(reader.rpc("chain_getHeader")["number"], 16)
                fin_hash = reader.rpc("chain_getFinalizedHead")
                finalized = int(reader.rpc("chain_getHeader", [fin_hash])["number"], 16)
            except Exception:
                reader.close()
                raise
            return Heads(best, finalized)

    def events(self, block: int) -> list[ChainEvent]:
        client = self.client
        block_hash = client.rpc("chain_getBlockHash", [block])
        if block_hash is None:
            return []
        return [
            e
            for e in client.events(str(block_hash), block)
            if e.pallet in (PALLET, "Balances", "Assets")
        ]

    # -- reads
    def thresholds(self) -> Thresholds:
        from decentralml.core.chain.records import DecentralMlReader

        params = self._read(lambda r: DecentralMlReader(r).params())
        base = Thresholds()
        return Thresholds(
            **{k: int(params.get(k, getattr(base, k))) for k in base.__dataclass_fields__}
        )

    def total_issuance(self) -> int:
        return int(self._read(lambda r: r.storage("Balances", "TotalIssuance")) or 0)

    def tasks(self) -> list[TaskRow]:
        entries = self._read(lambda r: r.storage_entries(PALLET, "Tasks"), bulk=True)
        rows = [TaskRow.from_fields(int(k), _plain(v)) for k, v in entries if v is not None]
        return sorted(rows, key=lambda t: t.id)

    def task(self, task_id: int) -> TaskRow | None:
        value = self._read(lambda r: r.storage(PALLET, "Tasks", [task_id]))
        return None if value is None else TaskRow.from_fields(task_id, _plain(value))

    def task_detail(self, task_id: int) -> TaskDetail | None:
        from decentralml.core.chain.records import DecentralMlReader

        task = self.task(task_id)
        if task is None:
            return None
        reader = DecentralMlReader(self.client)
        current = reader.round(task_id)
        participants = tuple(
            Participant(
                str(r.key[1]),
                int(r.get("stake", 0)),
                int(r.get("first_round", 0)),
                bool(r.get("leaving", False)),
            )
            for r in reader.participants(task_id)
        )
        updates = tuple(_update(r) for r in reader.updates(task_id))
        paid = max(0, task.reward_per_round * task.total_rounds - task.pool)
        if task.status in ("Completed", "Cancelled", "Expired"):
            paid = max(0, task.reward_per_round * min(task.next_round, task.total_rounds))
        return TaskDetail(
            task, None if current is None else current.fields, participants, updates, paid
        )

    def proposals(self) -> list[ProposalRow]:
        entries = self._read(lambda r: r.storage_entries(PALLET, "Proposals"), bulk=True)
        rows = [ProposalRow.from_fields(int(k), _plain(v)) for k, v in entries if v is not None]
        return sorted(rows, key=lambda p: p.id)

    def proposal(self, proposal_id: int) -> ProposalRow | None:
        value = self._read(lambda r: r.storage(PALLET, "Proposals", [proposal_id]))
        return None if value is None else ProposalRow.from_fields(proposal_id, _plain(value))

    def models(self) -> list[ModelRow]:
        from decentralml.core.chain.records import DecentralMlReader

        models = self._read(lambda r: DecentralMlReader(r).models())
        out = []
        for m in models:
            extra = m.extra
            latest = extra.get("latest_approved")
            out.append(
                ModelRow(
                    m.id,
                    m.name,
                    m.owner,
                    m.status,
                    str(extra.get("licence_terms", "")),
                    tuple(extra.get("jurisdictions", ())),
                    int(extra.get("next_version", 0) or 0),
                    None if latest is None else int(latest),
                )
            )
        return out

    def versions(self, model_id: int) -> list[VersionRow]:
        from decentralml.core.chain.records import DecentralMlReader

        out = []
        for r in DecentralMlReader(self.client).versions(model_id):
            prov = r.get("provenance") or {}
            metrics = r.get("metrics") or {}
            weights = r.get("weights") or {}
            out.append(
                VersionRow(
                    model_id,
                    int(r.key[-1]),
                    enum_name(r.get("status", "")),
                    str(weights.get("cid", "")) if isinstance(weights, dict) else "",
                    _opt_int(prov.get("task")),
                    _opt_int(prov.get("round")),
                    _loss(metrics),
                    _accuracy(metrics),
                )
            )
        return out

    def token(self, asset: AssetId | None) -> Token:
        if asset in self._tokens:
            return self._tokens[asset]
        if asset is None:
            return self.info.token
        info = self.client.asset(asset)
        if info is None:
            raise InputError(f"no asset with id {asset}: pick one from the balances panel")
        token = Token(info.symbol or f"#{asset}", info.decimals, asset)
        self._tokens[asset] = token
        return token

    def assets(self) -> list[Token]:
        out = []
        for info in self.client.assets():
            token = Token(info.symbol or f"#{info.id}", info.decimals, info.id)
            self._tokens[info.id] = token
            out.append(token)
        return out

    def balance(self, address: str) -> BalanceView:
        from decentralml.core.chain.records import DecentralMlReader

        client = self.client
        native = client.native_balance(address)
        token = self.info.token
        held = [Amount("held", h.reason, h.amount, token) for h in native.holds]
        held += [Amount("frozen", h.reason, h.amount, token) for h in native.freezes]
        held += [Amount("locked", lk.id, lk.amount, token) for lk in native.locks]
        assets = []
        for asset in self.assets():
            bal = client.asset_balance(int(asset.asset or 0), address)
            assets.append((asset, bal.balance))
        stakes = []
        entries = self._read(lambda r: r.storage_entries(PALLET, "Participants"))
        tasks: dict[int, TaskRow | None] = {}
        for key, value in entries:
            task_id, trainer = int(key[0]), str(key[1])
            if trainer != address or value is None:
                continue
            if task_id not in tasks:
                tasks[task_id] = self.task(task_id)
            row = tasks[task_id]
            stake_token = self.token(row.asset) if row is not None else token
            stakes.append((task_id, int(value["stake"]), stake_token, bool(value.get("leaving"))))
        unlocks = [
            (int(v["proposal"]), int(v["balance"]), str(v["conviction"]), int(v["unlock_at"]))
            for v in DecentralMlReader(client).votes(address)
            if isinstance(v, dict)
        ]
        return BalanceView(
            address,
            native.free,
            native.transferable,
            native.reserved,
            native.frozen,
            token,
            tuple(held),
            tuple(assets),
            tuple(stakes),
            tuple(unlocks),
        )

    # -- accounts
    def account(self) -> tuple[str, str]:
        return self._account_spec or "", self._address

    def set_account(self, spec: str) -> tuple[str, str]:
        from decentralml.core.keys import Keystore, dev_keypair, is_dev_uri

        spec = spec.strip()
        if not spec:
            raise InputError("name an account: a keystore name or a dev key such as //Bob")
        if is_dev_uri(spec):
            keypair = dev_keypair(
                spec, self.info.chain_type, policy=self.config.chain.allow_dev_accounts
            )
            self._keypair, self._address = keypair, str(keypair.ss58_address)
        else:
            found = Keystore(self.config.keys.keystore).find(spec)
            self._keypair, self._address = None, found.address
        self._account_spec = spec
        self._password = None
        return spec, self._address

    def unlock_account(self, password: str) -> None:
        from decentralml.core.keys import Keystore

        if not self._account_spec:
            raise InputError("choose an account first")
        self._keypair = Keystore(self.config.keys.keystore).unlock(self._account_spec, password)
        self._password = password

    def locked(self) -> bool:
        return bool(self._account_spec) and self._keypair is None

    def role_password(self) -> str | None:
        return self._password

    def funds(self, asset: AssetId | None) -> Funds:
        if not self._address:
            raise InputError("no active account: choose one (ctrl+o)")
        native = self.client.native_balance(self._address)
        in_asset = 0 if asset is None else self.client.asset_balance(asset, self._address).balance
        # pallet-balances' reducible balance (without the existential deposit): a freeze
        # (vote lock) first covers what is already held, only the rest pins free funds.
        untouchable = max(0, native.frozen - native.reserved)
        spendable = max(0, native.free - untouchable)
        return Funds(spendable, native.free + native.reserved, in_asset)

    def model_deposit(self) -> int:
        return int(self.client.constant(PALLET, "ModelDeposit"))

    def upload(self, path: Path) -> ContentRef:
        if self._store is None:
            from decentralml.core.retry import RetryPolicy
            from decentralml.core.storage.kubo import KuboStore

            policy = RetryPolicy(attempts=2, initial_delay_s=0.25, deadline_s=4.0)
            self._store = KuboStore(self.config.ipfs, policy=policy)
        return self._store.add_file(path).ref

    def _signer(self) -> Keypair:
        if not self._account_spec:
            raise InputError("no active account: choose one (ctrl+p, 'account')")
        if self._keypair is None:
            raise PasswordNeeded(f"the key of {self._account_spec} is locked: enter its password")
        return self._keypair

    # -- actions
    def estimate(self, action: Action) -> int:
        signer = self._signer()
        _, fee = self.client.prepare(signer, action.pallet, action.call, action.params)
        return fee.partial_fee

    def execute(self, action: Action) -> Receipt:
        return self.client.submit(self._signer(), action.pallet, action.call, action.params)

    def close(self) -> None:
        for conn in (self._client, *self._readers.values(), self._heads_reader, self._store):
            if conn is not None:
                try:
                    conn.close()
                except Exception:
                    log.debug("close failed", exc_info=True)


def _plain(value: Any) -> dict[str, Any]:
    from decentralml.core.chain.records import plain_value as plain

    out = plain(value)
    return out if isinstance(out, dict) else {"value": out}


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _loss(metrics: Any) -> float | None:
    if isinstance(metrics, dict) and "loss_micros" in metrics:
        return int(metrics["loss_micros"]) / 1_000_000
    return None


def _accuracy(metrics: Any) -> float | None:
    if isinstance(metrics, dict) and "accuracy" in metrics:
        return int(metrics["accuracy"]) / PERBILL
    return None


def _update(r: Record) -> Update:
    ref = r.get("update") or {}
    metrics = r.get("metrics") or {}
    return Update(
        str(r.key[-1]),
        int(r.get("round", 0)),
        str(ref.get("cid", "")) if isinstance(ref, dict) else "",
        int(r.get("samples", 0)),
        _loss(metrics) or 0.0,
        _accuracy(metrics) or 0.0,
    )


def touched(events: Sequence[ChainEvent]) -> tuple[set[int], set[int], set[int], bool]:
    """Task, proposal and model ids an event batch changed, and whether balances moved."""
    tasks: set[int] = set()
    proposals: set[int] = set()
    models: set[int] = set()
    money = False
    for event in events:
        attrs = event.attributes if isinstance(event.attributes, dict) else {}
        if event.pallet != PALLET:
            money = True
            continue
        money = True
        for key, bucket in (
            ("task_id", tasks),
            ("task", tasks),
            ("proposal_id", proposals),
            ("proposal", proposals),
            ("model_id", models),
            ("model", models),
        ):
            value = attrs.get(key)
            if isinstance(value, int):
                bucket.add(value)
    return tasks, proposals, models, money
