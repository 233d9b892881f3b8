"""The console's backend on a real node.

:class:`ChainBackend` is built on the core: ``LightReader`` for bulk reads (10,000 tasks page
through ``state_getKeysPaged`` + ``state_queryStorageAt``), ``ChainClient`` for fees,
signing, receipts, balances and events. Everything here is synchronous and may block.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from decentralml.core.errors import InputError
from decentralml.core.types import AssetId, ChainEvent, ContentRef, Receipt, enum_name

from .backend import PasswordNeeded
from .views.actions import Action, Funds
from .views.balances import Amount, BalanceView
from .views.common import NATIVE, PALLET, PERBILL, ChainInfo, Heads, Token
from .views.models import ModelRow, VersionRow
from .views.proposals import ProposalRow, Thresholds
from .views.tasks import Attestation, Participant, TaskDetail, TaskRow, Update

if TYPE_CHECKING:
    from decentralml.core.chain.client import ChainClient
    from decentralml.core.chain.light import LightReader
    from decentralml.core.chain.records import Record
    from decentralml.core.config import Config
    from decentralml.core.storage.kubo import KuboStore
    from substrateinterface import Keypair

log = logging.getLogger(__name__)


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
        self._plans: dict[int, Any] = {}  # model id -> its training plan (for DP budgets)
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
        pending = reader.pending_round(task_id)
        participants = tuple(
            Participant(
                str(r.key[1]),
                int(r.get("stake", 0)),
                int(r.get("first_round", 0)),
                bool(r.get("leaving", False)),
            )
            for r in reader.participants(task_id)
        )
        shown = current or pending
        index = None if shown is None else shown.fields.get("index")
        updates = () if index is None else tuple(_update(r) for r in reader.updates(task_id, index))
        paid = max(0, task.reward_per_round * task.total_rounds - task.pool)
        if task.status in ("Completed", "Cancelled", "Expired"):
            paid = max(0, task.reward_per_round * min(task.next_round, task.total_rounds))
        if pending is not None:
            index = pending.fields.get("index")
        attestations = tuple(
            Attestation(str(r.key[-1]), bool(r.get("agrees", False)))
            for r in reader.attestations(task_id)
            if index is not None and r.get("round") == index
        )
        return TaskDetail(
            task,
            None if current is None else current.fields,
            participants,
            updates,
            paid,
            verifiers=tuple(str(r.key[-1]) for r in reader.verifiers(task_id)),
            attestations=attestations,
            threshold=int(reader.params().get("attestation_threshold", 0)),
            pending=None if pending is None else pending.fields,
            privacy_spent=self._privacy_spent(task, reader),
        )

    def _privacy_spent(self, task: TaskRow, reader: Any) -> float | None:
        """The DP budget spent so far (an upper bound from the model's plan), None when the
        task has no DP mode or its plan cannot be fetched from IPFS now."""
        terms = task.privacy_terms
        if not terms.is_dp:
            return None
        from decentralml.core.errors import DecentralMLError
        from decentralml.core.fl.accounting import spent_bound
        from decentralml.core.fl.spec import ModelSpec

        try:
            if task.model not in self._plans:
                model = reader.model(task.model)
                if model is None:
                    return None
                self._plans[task.model] = ModelSpec.from_bytes(
                    self._kubo().cat(model.architecture)
                ).plan
            plan = self._plans[task.model]
            return spent_bound(terms.mode, plan, task.next_round, terms.delta or 0)
        except (DecentralMLError, OSError):
            return None

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

    def _kubo(self) -> KuboStore:
        if self._store is None:
            from decentralml.core.retry import RetryPolicy
            from decentralml.core.storage.kubo import KuboStore

            policy = RetryPolicy(attempts=2, initial_delay_s=0.25, deadline_s=4.0)
            self._store = KuboStore(self.config.ipfs, policy=policy)
        return self._store

    def upload(self, path: Path) -> ContentRef:
        return self._kubo().add_file(path).ref

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
    ref = r.get("content") or r.get("update") or {}
    metrics = r.get("metrics") or {}
    return Update(
        str(r.key[-1]),
        int(r.get("round", 0)),
        str(ref.get("cid", "")) if isinstance(ref, dict) else "",
        int(r.get("samples", 0)),
        _loss(metrics) or 0.0,
        _accuracy(metrics) or 0.0,
        int(r.get("flags", 0)),
    )
