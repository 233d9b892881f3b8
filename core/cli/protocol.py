"""Protocol commands: task, join, leave, round, stake, profile, propose, vote, close, challenge.

Each maps to DecentralMl calls composed from the runtime's metadata; on a runtime that lacks
a call the command fails with ``the runtime has no call DecentralMl.<name>``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from .output import pairs, table
from .send import send
from .shared import amount as _amount
from .shared import dml as _dml
from .shared import reader as _reader
from .shared import records as _records
from .tasks import register_task_commands

if TYPE_CHECKING:
    from .context import Context

__all__ = [
    "challenge",
    "close",
    "join",
    "leave",
    "profile_clear",
    "profile_set",
    "profile_show",
    "proposal_list",
    "proposal_show",
    "proposal_votes",
    "propose",
    "round_aggregate",
    "round_commit",
    "round_finalize",
    "round_reveal",
    "round_show",
    "round_start",
    "round_updates",
    "stake_bond",
    "stake_show",
    "stake_unbond",
    "task_cancel",
    "task_expire",
    "unlock",
    "vote",
]


def register_protocol_commands(sub: Any, cmd: Any, signer: Any) -> None:
    def group(name: str, help_: str) -> Any:
        from .parser import Parser

        return sub.add_parser(name, help=help_).add_subparsers(
            dest="sub", metavar="ACTION", required=True, parser_class=Parser
        )

    register_task_commands(group("task", "training tasks"), cmd, signer)

    # join / leave
    for verb, help_ in (
        ("join", "join a task as a trainer (bonds its stake)"),
        ("leave", "leave a task (stake returned after the round)"),
    ):
        p = cmd(sub, verb, verb, help_)
        p.add_argument("task", type=int)
        signer(p)

    # trainer profile
    g = group("profile", "trainer profile (jurisdiction)")
    p = cmd(g, "set", "profile_set", "declare one's jurisdiction")
    p.add_argument("jurisdiction", metavar="CC")
    signer(p)
    p = cmd(g, "clear", "profile_clear", "remove one's trainer profile")
    signer(p)
    p = cmd(g, "show", "profile_show", "an account's trainer profile")
    p.add_argument("account")

    # stake (aggregator and verifier bonds; holds are shown by `balance`)
    g = group("stake", "aggregator and verifier bonds and held stakes")
    verifier = "as a bonded verifier (attests aggregates, reports free riders)"
    p = cmd(g, "bond", "stake_bond", "bond as a task's aggregator (or --verifier)")
    p.add_argument("task", type=int)
    p.add_argument("--verifier", action="store_true", help=verifier)
    signer(p)
    p = cmd(g, "unbond", "stake_unbond", "release one's aggregator (or --verifier) bond")
    p.add_argument("task", type=int)
    p.add_argument("--verifier", action="store_true", help=verifier)
    signer(p)
    p = cmd(g, "show", "stake_show", "stakes, bonds and votes held from an account")
    p.add_argument("account")

    # round
    g = group("round", "training rounds")
    p = cmd(g, "show", "round_show", "the task's current round")
    p.add_argument("task", type=int)
    p = cmd(g, "updates", "round_updates", "updates revealed in a round of the task")
    p.add_argument("task", type=int)
    p.add_argument(
        "--round", type=int, help="round index (default: the open round, else the pending one)"
    )
    p = cmd(g, "start", "round_start", "open the task's next round")
    p.add_argument("task", type=int)
    signer(p)
    p = cmd(g, "commit", "round_commit", "commit to an update file (only its hash goes on chain)")
    p.add_argument("task", type=int)
    p.add_argument("round", type=int)
    p.add_argument("--file", required=True)
    p.add_argument("--samples", type=int, required=True)
    p.add_argument("--loss", type=float, default=0.0)
    p.add_argument("--accuracy", type=float, default=0.0)
    signer(p)
    p = cmd(g, "reveal", "round_reveal", "upload the committed update and reveal it")
    p.add_argument("task", type=int)
    p.add_argument("round", type=int)
    signer(p)
    p = cmd(g, "aggregate", "round_aggregate", "upload the aggregate and submit it")
    p.add_argument("task", type=int)
    p.add_argument("round", type=int)
    p.add_argument("--file", required=True)
    p.add_argument("--include", action="append", required=True, metavar="ACCOUNT")
    p.add_argument("--loss", type=float, default=0.0)
    p.add_argument("--accuracy", type=float, default=0.0)
    signer(p)
    p = cmd(g, "finalize", "round_finalize", "finalize a round (pays rewards)")
    p.add_argument("task", type=int)
    p.add_argument("round", type=int)
    signer(p)

    # challenge
    p = cmd(sub, "challenge", "challenge", "challenge a round's aggregate with evidence")
    p.add_argument("task", type=int)
    p.add_argument("round", type=int)
    p.add_argument("--evidence", required=True, metavar="FILE")
    signer(p)

    # proposals
    g = group("propose", "governance proposals")
    cmd(g, "list", "proposal_list", "list proposals")
    p = cmd(g, "show", "proposal_show", "show a proposal")
    p.add_argument("id", type=int)
    p = cmd(g, "votes", "proposal_votes", "an account's votes and their locks")
    p.add_argument("account")
    kinds = {
        "approve-version": ("model", "version"),
        "reject-version": ("model", "version"),
        "resolve-challenge": ("task", "round"),
    }
    for kind, fields in kinds.items():
        p = cmd(g, kind, "propose", f"propose: {kind}")
        for f in fields:
            p.add_argument(f, type=int)
        p.set_defaults(kind=kind)
        signer(p)
    p = cmd(g, "licence", "propose", "propose a model's new licence")
    p.add_argument("model", type=int)
    p.add_argument("--spdx", required=True)
    p.add_argument("--commercial-use", action="store_true")
    p.add_argument("--no-attribution", action="store_true")
    p.add_argument("--share-alike", action="store_true")
    p.set_defaults(kind="licence")
    signer(p)
    p = cmd(g, "jurisdictions", "propose", "propose a model's allowed jurisdictions")
    p.add_argument("model", type=int)
    p.add_argument("codes", nargs="*", metavar="CC")
    p.set_defaults(kind="jurisdictions")
    signer(p)
    p = cmd(g, "safety", "propose", "propose a safety action on a model")
    p.add_argument("model", type=int)
    p.add_argument("action", choices=("flag", "suspend", "reinstate", "retire"))
    p.set_defaults(kind="safety")
    signer(p)
    p = cmd(g, "parameter", "propose", "propose a protocol parameter change")
    p.add_argument("name")
    p.add_argument(
        "value", help="perbill parameters as a percentage (e.g. 10), others whole numbers"
    )
    p.set_defaults(kind="parameter")
    signer(p)

    p = cmd(sub, "vote", "vote", "vote on a proposal with part of one's balance")
    p.add_argument("proposal", type=int)
    side = p.add_mutually_exclusive_group(required=True)
    side.add_argument("--aye", action="store_true")
    side.add_argument("--nay", action="store_true")
    p.add_argument("--amount", required=True, help="balance to vote with (token units)")
    p.add_argument("--conviction", default="0", help="0-6 (longer lock, more votes)")
    p.add_argument("--planck", action="store_true")
    signer(p)
    p = cmd(sub, "close", "close", "close a proposal after its voting period (enacts it)")
    p.add_argument("proposal", type=int)
    signer(p)
    p = cmd(sub, "unlock", "unlock", "release expired vote locks of an account")
    p.add_argument("target")
    signer(p)


def _task_call(ctx: Context, call: str, task_id: int) -> dict[str, Any]:
    signer = ctx.signer()
    dml = _dml(ctx)
    return send(
        ctx,
        f"DecentralMl.{call}",
        lambda gate: dml.task_call(signer, call, task_id, on_fee=gate),
        task_id=task_id,
    )


def task_cancel(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    return _task_call(ctx, "cancel_task", args.id)


def task_expire(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    return _task_call(ctx, "expire_task", args.id)


def join(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    return _task_call(ctx, "join_task", args.task)


def leave(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    return _task_call(ctx, "leave_task", args.task)


def stake_bond(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    return _task_call(ctx, "bond_verifier" if args.verifier else "bond_aggregator", args.task)


def stake_unbond(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    return _task_call(ctx, "unbond_verifier" if args.verifier else "unbond_aggregator", args.task)


def round_start(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    return _task_call(ctx, "start_round", args.task)


def stake_show(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from ..types import format_amount

    address = ctx.address_of(args.account)
    bal = ctx.chain.native_balance(address)
    symbol, decimals = ctx.chain.token()
    data = {
        "address": address,
        "holds": [{"reason": h.reason, "amount": str(h.amount)} for h in bal.holds],
        "freezes": [{"reason": h.reason, "amount": str(h.amount)} for h in bal.freezes],
        "locks": [
            {"id": lk.id, "amount": str(lk.amount), "reasons": lk.reasons} for lk in bal.locks
        ],
    }
    if not ctx.json:
        rows = [
            {
                "kind": "hold",
                "reason": h.reason,
                "amount": format_amount(h.amount, decimals, symbol),
            }
            for h in bal.holds
        ]
        rows += [
            {
                "kind": "freeze",
                "reason": h.reason,
                "amount": format_amount(h.amount, decimals, symbol),
            }
            for h in bal.freezes
        ]
        rows += [
            {"kind": "lock", "reason": lk.id, "amount": format_amount(lk.amount, decimals, symbol)}
            for lk in bal.locks
        ]
        table(
            rows,
            [("kind", "KIND"), ("reason", "REASON"), ("amount", "AMOUNT")],
            empty="nothing held",
        )
    return data


def profile_set(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from ..chain.decentralml import jurisdiction

    jurisdiction(args.jurisdiction)
    signer = ctx.signer()
    dml = _dml(ctx)
    return send(
        ctx,
        "DecentralMl.set_trainer_profile",
        lambda gate: dml.set_trainer_profile(signer, args.jurisdiction, on_fee=gate),
        jurisdiction=args.jurisdiction.upper(),
    )


def profile_clear(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    signer = ctx.signer()
    dml = _dml(ctx)
    return send(
        ctx,
        "DecentralMl.clear_trainer_profile",
        lambda gate: dml.clear_trainer_profile(signer, on_fee=gate),
    )


# ---- rounds ------------------------------------------------------------------------------------
def _live_round(ctx: Context, task: int) -> tuple[Any, Any]:
    """The task's open round (else its pending one) and its pending round, if any."""
    dml = _dml(ctx)
    current, pending = dml.round(task), dml.pending_round(task)
    if current is None and pending is None:
        raise InputError(f"task {task} has no round (start one with: round start {task})")
    return current or pending, pending


def round_show(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    """The open round, and the pending one (aggregated, in its challenge window) with its
    attestations: rounds are pipelined, so both may run at once."""
    current, pending = _live_round(ctx, args.task)
    index = (pending or current).fields.get("index")
    attestations = [
        {"verifier": str(r.key[-1]), "digest": r.fields["digest"], "agrees": r.fields["agrees"]}
        for r in _dml(ctx).attestations(args.task)
        if r.fields.get("round") == index
    ]
    if not ctx.json:
        pairs(list(current.fields.items()))
        if pending is not None and pending is not current:
            sys.stdout.write(f"pending round {index}:\n")
            pairs([(f"  {k}", v) for k, v in pending.fields.items()])
        cols = [("verifier", "ATTESTED BY"), ("agrees", "AGREES"), ("digest", "DIGEST")]
        table(attestations, cols, empty=f"(no attestations of round {index})")
    data: dict[str, Any] = current.to_json()
    data["pending"] = None if pending is None else pending.to_json()
    data["attestations"] = attestations
    return data


def _upload(ctx: Context, file: str) -> Any:
    path = Path(file)
    if not path.is_file():
        raise InputError(f"{file} is not a readable file")
    return ctx.store.add_file(path).ref


def round_aggregate(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from ..chain.decentralml import AggregateClaim, metrics

    metrics(args.loss, args.accuracy)
    included = [ctx.address_of(a) for a in args.include]
    signer = ctx.signer()
    dml = _dml(ctx)
    dml._args("submit_aggregate")
    ref = _upload(ctx, args.file)
    result = send(
        ctx,
        "DecentralMl.submit_aggregate",
        lambda gate: dml.submit_aggregate(
            signer,
            args.task,
            AggregateClaim(args.round, ref, tuple(included), args.loss, args.accuracy),
            on_fee=gate,
        ),
        task_id=args.task,
        round=args.round,
    )
    result["weights"] = ref.to_json()
    return result


def round_finalize(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    signer = ctx.signer()
    dml = _dml(ctx)
    return send(
        ctx,
        "DecentralMl.finalize_round",
        lambda gate: dml.finalize_round(signer, args.task, args.round, on_fee=gate),
        task_id=args.task,
        round=args.round,
    )


def challenge(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    signer = ctx.signer()
    dml = _dml(ctx)
    dml._args("challenge_aggregate")
    ref = _upload(ctx, args.evidence)
    result = send(
        ctx,
        "DecentralMl.challenge_aggregate",
        lambda gate: dml.challenge_aggregate(signer, args.task, args.round, ref, on_fee=gate),
        task_id=args.task,
        round=args.round,
    )
    result["evidence"] = ref.to_json()
    return result


# ---- governance ----------------------------------------------------------------------------------
def proposal_list(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    return _records(
        ctx,
        _reader(ctx).proposals(),
        [
            ("id", "ID"),
            ("kind", "KIND"),
            ("status", "STATUS"),
            ("ends_at", "ENDS"),
            ("tally", "TALLY"),
            ("proposer", "PROPOSER"),
        ],
        "proposals",
    )


def proposal_show(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    found = _dml(ctx).proposal(args.id)
    if found is None:
        raise InputError(f"no proposal with id {args.id}")
    if not ctx.json:
        pairs(list(found.fields.items()))
    data: dict[str, Any] = found.to_json()
    return data


def propose(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from ..chain.decentralml import licence, proposal_kind

    fields: dict[str, Any] = {
        k: getattr(args, k) for k in ("model", "version", "task", "round") if hasattr(args, k)
    }
    if args.kind == "licence":
        fields["licence"] = licence(
            spdx=args.spdx,
            commercial_use=args.commercial_use,
            attribution=not args.no_attribution,
            share_alike=args.share_alike,
        )
    elif args.kind == "jurisdictions":
        fields["jurisdictions"] = args.codes
    elif args.kind == "safety":
        fields["action"] = args.action
    elif args.kind == "parameter":
        fields.update(name=args.name, value=args.value)
    kind = proposal_kind(args.kind, **fields)
    signer = ctx.signer()
    dml = _dml(ctx)

    def action(gate: Any) -> Any:
        proposal_id, receipt = dml.submit_proposal(signer, kind, on_fee=gate)
        return {"proposal_id": proposal_id}, receipt

    return send(ctx, "DecentralMl.submit_proposal", action, kind=args.kind)


def vote(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from ..chain.decentralml import conviction

    level = conviction(args.conviction)
    amount = _amount(ctx, args.amount, args.planck, None)
    signer = ctx.signer()
    dml = _dml(ctx)
    return send(
        ctx,
        "DecentralMl.vote",
        lambda gate: dml.vote(signer, args.proposal, bool(args.aye), amount, level, on_fee=gate),
        proposal_id=args.proposal,
        aye=bool(args.aye),
        amount=str(amount),
        conviction=level,
    )


def close(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    signer = ctx.signer()
    dml = _dml(ctx)
    return send(
        ctx,
        "DecentralMl.close_proposal",
        lambda gate: dml.close_proposal(signer, args.proposal, on_fee=gate),
        proposal_id=args.proposal,
    )


def unlock(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    target = ctx.address_of(args.target)
    signer = ctx.signer()
    dml = _dml(ctx)
    return send(
        ctx,
        "DecentralMl.unlock",
        lambda gate: dml.unlock(signer, target, on_fee=gate),
        target=target,
    )


def round_updates(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    index = args.round
    if index is None:
        current, _ = _live_round(ctx, args.task)
        index = int(current.fields["index"])
    return _records(
        ctx,
        _dml(ctx).updates(args.task, index),
        [
            ("id", "TASK, TRAINER"),
            ("round", "ROUND"),
            ("samples", "SAMPLES"),
            ("metrics", "METRICS"),
            ("content", "CONTENT"),
        ],
        "updates",
    )


def profile_show(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    address = ctx.address_of(args.account)
    found = _dml(ctx).trainer_profile(address)
    data: dict[str, Any] = {"address": address, "profile": None if found is None else found.fields}
    if not ctx.json:
        pairs(
            [("address", address)] + ([] if found is None else list(found.fields.items()))
            or [("profile", "none")]
        )
        if found is None:
            sys.stdout.write("no trainer profile\n")
    return data


def proposal_votes(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    address = ctx.address_of(args.account)
    votes = _dml(ctx).votes(address)
    if not ctx.json:
        rows = [v if isinstance(v, dict) else {"vote": v} for v in votes]
        columns = [(k, k.upper()) for k in (rows[0].keys() if rows else ["proposal"])]
        table(rows, columns, empty="no votes")
    return {"address": address, "votes": votes}


from .updates import round_commit, round_reveal  # noqa: E402 - the update commands' own module
