"""Role commands: ``decentralml train``, ``aggregate`` and ``verify`` (long-running).

Each follows the chain until the task ends (or ``--rounds N`` are done), appends progress
events (docs/cli.md, "Training roles") to ``--events FILE`` and, with ``--json``, prints them on
stdout as JSON lines. SIGINT/SIGTERM stop the role cleanly after the current step; a second
signal stops it at once. ``--state-dir`` holds the resume journal; after a crash the role
resumes from it without submitting anything twice.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from ..errors import InputError

if TYPE_CHECKING:
    from .context import Context

log = logging.getLogger(__name__)

__all__ = ["role_aggregate", "role_train", "role_verify"]


def register_role_commands(sub: Any, cmd: Any) -> None:
    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--task", type=int, required=True, metavar="ID")
        p.add_argument(
            "--account",
            dest="signer",
            required=True,
            metavar="URI_OR_NAME",
            help="keystore account (name or address), or a dev key such as //Bob (dev chains only)",
        )
        p.add_argument("--password-file", metavar="FILE", help="keystore password file")
        p.add_argument("--events", metavar="FILE", help="append progress events (JSON lines)")
        p.add_argument(
            "--state-dir",
            metavar="DIR",
            help="resume journal (default: $DECENTRALML_STATE/roles/<role>-<task>-<ss58>)",
        )
        p.add_argument(
            "--rounds", type=int, metavar="N", help="stop after N rounds (default: task end)"
        )
        p.add_argument(
            "--poll", type=float, default=1.0, metavar="S", help="seconds between chain reads"
        )

    def keep_pins(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--keep-pins",
            type=pins_kept,
            default=2,  # KEEP_ROUNDS, not imported to build the parser (it loads the chain client)
            metavar="N|all",
            help="finalized rounds whose updates stay pinned on this peer (default 2, at least "
            "2); all keeps every update (an archive for audits)",
        )

    p = cmd(sub, "train", "role_train", "train on local data in every round of a task")
    common(p)
    p.add_argument("--data", required=True, metavar="PATH", help="CSV, NPZ or image folder")
    p.add_argument(
        "--jurisdiction",
        metavar="CC",
        help="trainer profile to set if the account has none (default: the dataset's)",
    )
    p.add_argument(
        "--exit-after-reveal",
        type=int,
        metavar="ROUND",
        help="FAULT INJECTION for tests: stop right after revealing round ROUND (under secure "
        "aggregation: before publishing its shares, a trainer gone after submitting)",
    )
    p = cmd(sub, "aggregate", "role_aggregate", "bond, open, aggregate and finalize rounds")
    common(p)
    p.add_argument(
        "--tamper",
        action="store_true",
        help="FAULT INJECTION for demos/tests: publish a perturbed aggregate",
    )
    p.add_argument(
        "--pause-after-fetch",
        type=float,
        default=0.0,
        metavar="S",
        help="FAULT INJECTION for tests: wait S seconds after fetching and checking a round's "
        "updates, before combining them (a window in which to kill the aggregator)",
    )
    keep_pins(p)
    p = cmd(sub, "verify", "role_verify", "recompute and evaluate aggregates; challenge bad ones")
    common(p)
    keep_pins(p)
    p.add_argument("--data", required=True, metavar="PATH", help="held-out data (CSV, NPZ, images)")


def pins_kept(text: str) -> int | None:
    """``--keep-pins``: a number of rounds (at least 2) or ``all`` (None)."""
    from ..roles.replicas import KEEP_ROUNDS

    if text.strip().lower() == "all":
        return None
    try:
        rounds = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--keep-pins takes a number of rounds or 'all', got {text!r}"
        ) from None
    if rounds < KEEP_ROUNDS:
        raise argparse.ArgumentTypeError(
            f"--keep-pins must be at least {KEEP_ROUNDS} (a copy of the previous round's update is "
            f"evidence), got {rounds}"
        )
    return rounds


def _stop_children(grace_s: float = 3.0) -> None:
    """Stop every child process still running (TFF's worker_binary would otherwise outlive us
    and keep our stdout open)."""
    pids: set[int] = set()
    try:
        for task_dir in Path(f"/proc/{os.getpid()}/task").iterdir():
            text = (task_dir / "children").read_text()
            pids.update(int(p) for p in text.split())
    except OSError:
        return
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                break
            if done:
                break
            time.sleep(0.05)
        else:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _run_role(ctx: Context, args: argparse.Namespace, role_name: str) -> None:
    from ..chain.client import ChainClient
    from ..keys import dev_keypair, is_dev_uri
    from ..roles.base import RoleFailed, RoleOptions
    from ..roles.chainview import LiveChain
    from ..roles.events import EventLog
    from ..roles.learning import FlLearning
    from ..roles.state import Journal, default_state_dir
    from ..storage.kubo import KuboStore

    if args.rounds is not None and args.rounds <= 0:
        raise InputError("--rounds must be positive")
    data = getattr(args, "data", None)
    if data is not None and not Path(data).exists():
        raise InputError(f"--data {data} does not exist")
    config = ctx.config
    # A long-running role is patient with the node and IPFS (restarts, slow blocks).
    client = ChainClient(config.chain.url, era_period=config.chain.era_period)
    store = KuboStore(config.ipfs)
    stop = threading.Event()
    signals = 0

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal signals
        signals += 1
        stop.set()
        if signals > 1:
            raise KeyboardInterrupt

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    events: EventLog | None = None
    try:
        spec = args.signer
        if is_dev_uri(spec):
            signer = dev_keypair(spec, client.chain_type(), policy=config.chain.allow_dev_accounts)
        else:
            account = ctx.keystore.find(spec)
            signer = ctx.keystore.unlock(account.name, ctx.password())
        address = str(signer.ss58_address)
        state_dir = (
            Path(args.state_dir)
            if args.state_dir
            else default_state_dir(role_name, args.task, address)
        )
        journal = Journal(state_dir, role=role_name, task=args.task, account=address)
        events = EventLog(args.events, stream=sys.stdout if ctx.json else None)
        chain = LiveChain(client, signer)
        options = RoleOptions(
            task=args.task,
            poll_s=args.poll,
            max_rounds=args.rounds,
            keep_pins=getattr(args, "keep_pins", RoleOptions.keep_pins),
        )
        common: dict[str, Any] = {"stop": stop}
        parts = (chain, store, FlLearning(), journal, events, options)
        role: Any
        if role_name == "trainer":
            from ..roles.trainer import Trainer

            role = Trainer(
                *parts,
                data=Path(args.data),
                jurisdiction=args.jurisdiction,
                exit_after_reveal=args.exit_after_reveal,
                **common,
            )
        elif role_name == "aggregator":
            from ..roles.aggregator import Aggregator

            role = Aggregator(
                *parts, tamper=args.tamper, pause_after_fetch=args.pause_after_fetch, **common
            )
        else:
            from ..roles.verifier import Verifier

            role = Verifier(*parts, data=Path(args.data), **common)
        code = role.run()
        if code != 0:
            raise RoleFailed(role.failure or f"the {role_name} stopped on an error")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if events is not None:
            events.close()
        store.close()
        client.close()
        _stop_children()


def role_train(ctx: Context, args: argparse.Namespace) -> None:
    _run_role(ctx, args, "trainer")


def role_aggregate(ctx: Context, args: argparse.Namespace) -> None:
    _run_role(ctx, args, "aggregator")


def role_verify(ctx: Context, args: argparse.Namespace) -> None:
    _run_role(ctx, args, "verifier")
