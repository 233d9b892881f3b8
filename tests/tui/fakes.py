"""An in-memory backend for the console's unit and snapshot tests (never shipped as the real one).

Fixed data, no clock: the same app state every run. It follows the protocol's arithmetic
closely enough for the screens (join adds a trainer and a stake, a vote adds conviction-
weighted ayes or nays) and can be told to fail: ``down`` (node unreachable), ``fail_next``
(an ExtrinsicFailed with a decoded pallet error), a keystore account with a password
(``keyed``, password ``right``), ``ipfs_down`` (uploads fail), low balances (``funds_``).
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from decentralml.core.errors import (
    ExtrinsicFailed,
    InputError,
    NodeUnreachable,
    StoreUnreachable,
    WrongPassword,
)
from decentralml.core.types import ChainEvent, ContentRef, Receipt
from decentralml.tui.backend import PasswordNeeded
from decentralml.tui.views.actions import Action, Funds
from decentralml.tui.views.balances import Amount, BalanceView
from decentralml.tui.views.common import NATIVE, ChainInfo, Heads, Token
from decentralml.tui.views.models import ModelRow, VersionRow
from decentralml.tui.views.proposals import ProposalRow, Thresholds
from decentralml.tui.views.tasks import Attestation, Participant, TaskDetail, TaskRow

DML = 10**12
ALICE = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
BOB = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"
CHARLIE = "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y"
DAVE = "5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy"
DCC = Token("DCC", 12, 1)
WEIGHT = {"None": 1, "Locked1x": 10, "Locked2x": 20, "Locked3x": 30}


def _task(i: int, **kw: object) -> TaskRow:
    base = TaskRow(
        id=i,
        model=i % 2,
        sponsor=ALICE if i % 3 else BOB,
        status=("Open", "Running", "Completed", "Open")[i % 4],
        asset=1 if i % 5 == 4 else None,
        reward_per_round=(1 + i % 3) * DML,
        total_rounds=3 + i % 4,
        next_round=i % 3,
        trainers=i % 4,
        min_trainers=1,
        max_trainers=5 + i % 3,
        stake=DML // 10 * (1 + i % 2),
        pool=(3 + i % 4) * (1 + i % 3) * DML,
        aggregation=("fedavg", "median", "trimmed:10")[i % 3],
        round_length=20,
        challenge_window=5,
        jurisdictions=("DE", "FR")[: i % 3],
    )
    return replace(base, **kw)  # type: ignore[arg-type]


class FakeBackend:
    url = "ws://fake"

    def __init__(self, *, tasks: int = 14, account: str = "//Alice") -> None:
        self.info = ChainInfo("DecentralML Development", "Development", NATIVE)
        self.best = 120
        self.down = False
        self.fail_next: ExtrinsicFailed | None = None
        self.sent: list[Action] = []
        self.spec = account
        self.address = ALICE if account == "//Alice" else BOB
        self.locked_ = account == "keyed"
        self.password: str | None = None
        self.right_password = "right"
        self.ipfs_down = False
        self.uploads: list[Path] = []
        self.funds_ = Funds(999_970 * DML, 999_986 * DML, 100_000 * DML)
        self.funds_asked: list[int | None] = []
        self.tasks_ = {i: _task(i) for i in range(tasks)}
        self.proposals_ = {
            0: ProposalRow(
                0,
                "SetLicence",
                "model 0: licence Apache-2.0",
                BOB,
                "Ongoing",
                100,
                165,
                30 * DML,
                10 * DML,
                40 * DML,
                DML,
            ),
            1: ProposalRow(
                1,
                "Safety",
                "model 1: flag",
                ALICE,
                "Ongoing",
                110,
                125,
                2 * DML,
                6 * DML,
                8 * DML,
                DML,
            ),
            2: ProposalRow(
                2,
                "ApproveVersion",
                "model 0: approve version 0",
                ALICE,
                "Passed",
                20,
                35,
                90 * DML,
                0,
                9 * DML,
                DML,
            ),
            3: ProposalRow(
                3,
                "SetJurisdictions",
                "model 1: jurisdictions DE FR",
                BOB,
                "NoQuorum",
                10,
                25,
                0,
                0,
                0,
                DML,
            ),
        }
        self.models_ = [
            ModelRow(0, "digits-mlp", ALICE, "Active", "Apache-2.0", ("DE", "FR"), 2, 0),
            ModelRow(1, "breast-cancer", BOB, "Flagged", "MIT", (), 0, None),
        ]

    def _check(self) -> None:
        if self.down:
            raise NodeUnreachable("node at ws://fake is unreachable: start it (scripts/run)")

    def connect(self) -> ChainInfo:
        self._check()
        return self.info

    def heads(self) -> Heads:
        self._check()
        return Heads(self.best, self.best - 1)

    def events(self, block: int) -> list[ChainEvent]:
        self._check()
        return []

    def thresholds(self) -> Thresholds:
        return Thresholds(voting_period=15)

    def total_issuance(self) -> int:
        return 6_000_000 * DML

    def tasks(self) -> list[TaskRow]:
        self._check()
        return [self.tasks_[k] for k in sorted(self.tasks_)]

    def task(self, task_id: int) -> TaskRow | None:
        self._check()
        return self.tasks_.get(task_id)

    def task_detail(self, task_id: int) -> TaskDetail | None:
        task = self.task(task_id)
        if task is None:
            return None
        participants = tuple(
            Participant(addr, task.stake, 0, False) for addr in (BOB, ALICE)[: task.trainers]
        )
        paid = task.reward_per_round * task.next_round
        verifiers = (CHARLIE, DAVE)
        if task.status != "Running":
            return TaskDetail(task, None, participants, (), paid, verifiers, threshold=2)
        # Pipelined: the last round's aggregate in its window, attested by one of the two
        # bonded verifiers so far, while the next round (opened on it) takes commitments.
        index = task.next_round - 1
        current = {"index": index, "status": "Open", "commitments": 0, "expected": task.trainers}
        pending = {
            "index": index - 1,
            "status": "Aggregated",
            "aggregate": {"aggregator": BOB, "submitted_at": 12},
        }
        attestations = (Attestation(CHARLIE, True),)
        return TaskDetail(
            task,
            current,
            participants,
            (),
            paid,
            verifiers,
            attestations,
            threshold=2,
            pending=pending,
        )

    def proposals(self) -> list[ProposalRow]:
        self._check()
        return [self.proposals_[k] for k in sorted(self.proposals_)]

    def proposal(self, proposal_id: int) -> ProposalRow | None:
        return self.proposals_.get(proposal_id)

    def models(self) -> list[ModelRow]:
        self._check()
        return list(self.models_)

    def versions(self, model_id: int) -> list[VersionRow]:
        if model_id != 0:
            return []
        return [
            VersionRow(0, 0, "Approved", "bafkreiaggregate0", 3, 2, 0.4123, 0.861),
            VersionRow(0, 1, "Proposed", "bafkreiaggregate1", 5, 3, 0.3012, 0.902),
        ]

    def token(self, asset: int | None) -> Token:
        if asset is None:
            return NATIVE
        if asset == 1:
            return DCC
        raise InputError(f"no asset with id {asset}")

    def assets(self) -> list[Token]:
        return [DCC]

    def balance(self, address: str) -> BalanceView:
        self._check()
        return BalanceView(
            address,
            free=999_980 * DML,
            transferable=999_970 * DML,
            reserved=6 * DML,
            frozen=10 * DML,
            token=NATIVE,
            held=(
                Amount("held", "DecentralMl.TaskReward", 5 * DML, NATIVE),
                Amount("held", "DecentralMl.ProposalDeposit", DML, NATIVE),
                Amount("frozen", "DecentralMl.Voting", 10 * DML, NATIVE),
            ),
            assets=((DCC, 100_000 * DML),),
            stakes=((1, DML // 5, NATIVE, False), (4, DML // 10, DCC, True)),
            unlocks=((0, 10 * DML, "Locked1x", 465), (2, 3 * DML, "None", 35)),
        )

    def account(self) -> tuple[str, str]:
        return self.spec, self.address

    def set_account(self, spec: str) -> tuple[str, str]:
        if spec not in ("//Alice", "//Bob", "keyed"):
            raise InputError(f"no account named {spec!r} in the keystore")
        self.spec = spec
        self.address = ALICE if spec == "//Alice" else BOB
        self.locked_ = spec == "keyed"
        self.password = None
        return spec, self.address

    def unlock_account(self, password: str) -> None:
        if password != self.right_password:
            raise WrongPassword("wrong password for keyed: try again")
        self.locked_ = False
        self.password = password

    def locked(self) -> bool:
        return self.locked_

    def role_password(self) -> str | None:
        return self.password

    def funds(self, asset: int | None) -> Funds:
        self._check()
        self.funds_asked.append(asset)
        return self.funds_

    def model_deposit(self) -> int:
        return 10 * DML

    def upload(self, path: Path) -> ContentRef:
        if self.ipfs_down:
            raise StoreUnreachable(
                "IPFS RPC at http://fake:5001 is unreachable: start Kubo (scripts/setup-kubo start)"
            )
        data = path.read_bytes()
        self.uploads.append(path)
        digest = hashlib.sha256(data).digest()
        return ContentRef(f"bafkreifake{digest.hex()[:40]}", digest, len(data))

    def estimate(self, action: Action) -> int:
        self._check()
        if self.locked_:
            raise PasswordNeeded("the key of keyed is locked: enter its password")
        return 1_234_567_890

    def execute(self, action: Action) -> Receipt:
        self._check()
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        self.sent.append(action)
        events: list[ChainEvent] = []
        p = action.params
        if action.call == "join_task":
            task = self.tasks_[p["task_id"]]
            self.tasks_[task.id] = replace(task, trainers=task.trainers + 1)
            events.append(ChainEvent("DecentralMl", "TrainerJoined", {"task_id": task.id}))
        elif action.call == "vote":
            prop = self.proposals_[p["proposal_id"]]
            weight = p["balance"] * WEIGHT.get(p["conviction"], 10) // 10
            if p["aye"]:
                prop = replace(prop, ayes=prop.ayes + weight)
            else:
                prop = replace(prop, nays=prop.nays + weight)
            self.proposals_[prop.id] = replace(prop, support=prop.support + p["balance"])
            events.append(ChainEvent("DecentralMl", "Voted", {"proposal_id": prop.id}))
        elif action.call == "register_model":
            new_id = len(self.models_)
            name = bytes.fromhex(p["name"][2:]).decode()
            self.models_.append(ModelRow(new_id, name, self.address, "Active", "MIT", (), 0, None))
            events.append(ChainEvent("DecentralMl", "ModelRegistered", {"model_id": new_id}))
        elif action.call == "create_task":
            new_id = max(self.tasks_) + 1
            self.tasks_[new_id] = _task(new_id, status="Open", trainers=0, model=p["model_id"])
            events.append(ChainEvent("DecentralMl", "TaskCreated", {"task_id": new_id}))
        self.best += 1
        return Receipt(
            "0xabc", "0xdef", self.best, action.pallet, action.call, 1_000_000_000, tuple(events)
        )

    def close(self) -> None:
        pass
