"""Task commands: list, show, trainers and create (with the task's privacy term)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ..errors import DecentralMLError, InputError
from ..privacy import MODES, PrivacyTerms
from ..types import DEFAULT_AGGREGATION
from .output import pairs
from .send import send
from .shared import amount
from .shared import dml as _dml
from .shared import reader as _reader
from .shared import records as _records

if TYPE_CHECKING:
    from .context import Context

__all__ = ["task_create", "task_list", "task_show", "task_trainers"]

SECAGG_TRADE_OFF = (
    "secure aggregation: only the sum of a round's updates is revealed, so robust rules "
    "cannot see individual updates; the task uses norm-bounded FedAvg (clip:<bound>), each "
    "update clipped on its trainer (docs/federated-learning.md)"
)


def register_task_commands(g: Any, cmd: Any, signer: Any) -> None:
    cmd(g, "list", "task_list", "list tasks")
    p = cmd(g, "show", "task_show", "show a task and its running round")
    p.add_argument("id", type=int)
    p = cmd(g, "trainers", "task_trainers", "a task's trainers and their stakes")
    p.add_argument("id", type=int)
    p = cmd(g, "create", "task_create", "create a task and escrow its reward pool")
    p.add_argument("model", type=int, help="model id")
    p.add_argument("--reward-per-round", required=True, help="reward per round (token units)")
    p.add_argument("--rounds", type=int, required=True)
    p.add_argument("--min-trainers", type=int, default=1)
    p.add_argument("--max-trainers", type=int, default=10)
    p.add_argument("--trainer-stake", default="0", help="stake each trainer bonds (token units)")
    p.add_argument("--round-length", type=int, default=20, help="blocks")
    p.add_argument("--challenge-window", type=int, default=5, help="blocks")
    p.add_argument(
        "--aggregation",
        default=DEFAULT_AGGREGATION,
        help="aligned (the robust default: FedAvg with norms bounded by the round's median and "
        "updates weighted by their agreement with the coordinate-wise median) | bounded "
        "(norms bounded only) | fedavg | median | trimmed:PCT | clip:NORM",
    )
    p.add_argument("--asset", type=int, help="reward in this asset (default: the native token)")
    p.add_argument("--jurisdiction", action="append", metavar="CC")
    p.add_argument(
        "--privacy",
        choices=MODES,
        default="none",
        help="none | dp-sgd (example-level DP in each trainer's local work) | dp-fedavg "
        "(noise on the aggregate) | secagg (masked updates, only their sum is revealed; "
        "needs --aggregation clip:NORM)",
    )
    p.add_argument(
        "--max-epsilon",
        type=float,
        help="the DP budget over the task: per trainer (dp-sgd) or for the aggregate (dp-fedavg)",
    )
    p.add_argument("--delta", type=float, help="the delta of the DP budget (default 1e-5)")
    p.add_argument("--planck", action="store_true", help="amounts are in the smallest unit")
    signer(p)
    for verb, help_ in (("cancel", "cancel one's task"), ("expire", "end an idle task")):
        p = cmd(g, verb, f"task_{verb}", help_)
        p.add_argument("id", type=int)
        signer(p)


def task_list(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    return _records(
        ctx,
        _reader(ctx).tasks(),
        [
            ("id", "ID"),
            ("model", "MODEL"),
            ("status", "STATUS"),
            ("pool", "POOL"),
            ("next_round", "NEXT ROUND"),
            ("trainer_count", "TRAINERS"),
            ("sponsor", "SPONSOR"),
        ],
        "tasks",
    )


def task_show(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    dml = _dml(ctx)
    task = dml.task(args.id)
    if task is None:
        raise InputError(f"no task with id {args.id}")
    current = dml.round(args.id)
    pending = dml.pending_round(args.id)
    data: dict[str, Any] = {
        "task": task.to_json(),
        "round": None if current is None else current.to_json(),
        "pending": None if pending is None else pending.to_json(),
        "privacy": privacy_status(ctx, task),
    }
    if not ctx.json:
        pairs(list(task.fields.items()))
        sys.stdout.write(f"privacy: {data['privacy']['summary']}\n")
        for title, shown in (("pending round", pending), ("open round", current)):
            if shown is not None:
                sys.stdout.write(f"{title}:\n")
                pairs([(f"  {k}", v) for k, v in shown.fields.items()])
    return data


def privacy_status(ctx: Context, task: Any) -> dict[str, Any]:
    """The task's privacy term and the most epsilon it can have spent so far (computed from
    the model's plan on IPFS; ``spent_epsilon`` is null when the plan cannot be fetched)."""
    terms = task.fields.get("terms") or {}
    privacy = PrivacyTerms.from_chain(terms.get("privacy"))
    out: dict[str, Any] = {**privacy.to_json(), "spent_epsilon": None, "spent_note": None}
    if privacy.is_dp:
        try:
            model = _dml(ctx).model(int(task.fields["model"]))
            if model is None:
                raise InputError("the task's model is gone")
            from ..fl.accounting import spent_bound
            from ..fl.spec import ModelSpec

            spec = ModelSpec.from_bytes(ctx.store.cat(model.architecture))
            rounds = int(task.fields.get("next_round", 0))
            out["spent_epsilon"] = spent_bound(privacy.mode, spec.plan, rounds, privacy.delta or 0)
            out["spent_note"] = (
                "per trainer, if it trained every round opened so far"
                if privacy.mode == "dp-sgd"
                else "the aggregate, over the rounds opened so far"
            )
        except (DecentralMLError, OSError) as exc:
            out["spent_note"] = f"not computed: {exc}"
    out["summary"] = privacy.describe(out["spent_epsilon"])
    return out


def _privacy(args: argparse.Namespace) -> PrivacyTerms:
    if args.privacy in ("dp-sgd", "dp-fedavg"):
        delta = 1e-5 if args.delta is None else args.delta
        return PrivacyTerms(args.privacy, max_epsilon=args.max_epsilon, delta=delta)
    return PrivacyTerms(args.privacy, max_epsilon=args.max_epsilon, delta=args.delta)


def task_create(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from ..chain.decentralml import TaskTerms

    terms = TaskTerms(
        reward_per_round=amount(ctx, args.reward_per_round, args.planck, args.asset),
        total_rounds=args.rounds,
        min_trainers=args.min_trainers,
        max_trainers=args.max_trainers,
        trainer_stake=amount(ctx, args.trainer_stake, args.planck, args.asset),
        round_length=args.round_length,
        challenge_window=args.challenge_window,
        aggregation=args.aggregation,
        asset=args.asset,
        jurisdictions=tuple(args.jurisdiction or ()),
        privacy=_privacy(args),
    )
    terms.to_chain()  # validate before unlocking the key
    if terms.privacy.mode == "secagg" and not ctx.json:
        sys.stderr.write(SECAGG_TRADE_OFF + "\n")
    signer = ctx.signer()
    dml = _dml(ctx)

    def action(gate: Any) -> Any:
        task_id, receipt = dml.create_task(signer, args.model, terms, on_fee=gate)
        return {"task_id": task_id}, receipt

    return send(ctx, "DecentralMl.create_task", action, model_id=args.model)


def task_trainers(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    return _records(
        ctx,
        _dml(ctx).participants(args.id),
        [
            ("id", "TASK, TRAINER"),
            ("stake", "STAKE"),
            ("first_round", "FIRST ROUND"),
            ("leaving", "LEAVING"),
        ],
        "trainers",
    )
