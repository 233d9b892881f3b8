"""What the screens may ask of the chain: the :class:`Backend` protocol.

Screens never touch substrate-interface or the keystore; they call a backend from a thread
worker. The real one is :class:`~decentralml.tui.chain_backend.ChainBackend`; tests inject an
in-memory backend with the same methods. Every method may block: call it from
``@work(thread=True)`` only. :func:`touched` maps a block's events to the rows to refresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from decentralml.core.errors import KeystoreError
from decentralml.core.types import AssetId, ChainEvent, ContentRef, Receipt

from .views.actions import Action, Funds
from .views.balances import BalanceView
from .views.common import PALLET, ChainInfo, Heads, Token
from .views.models import ModelRow, VersionRow
from .views.proposals import ProposalRow, Thresholds
from .views.tasks import TaskDetail, TaskRow


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
