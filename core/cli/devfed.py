"""``decentralml dev up --federation`` / ``dev down --federation``: the one-host federation
of ``decentralml.core.devstack.federation`` (a network namespace per participant as root)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .output import table

if TYPE_CHECKING:
    from .context import Context


def _state(args: argparse.Namespace) -> Path:
    from ..devstack import default_state_dir

    return Path(args.state_dir).expanduser().absolute() if args.state_dir else default_state_dir()


def federation_up(ctx: Context, args: argparse.Namespace, progress: Any) -> dict[str, Any]:
    from ..devstack.federation import Federation
    from ..devstack.fedplan import DEFAULT_TRAINERS

    fed = Federation(_state(args), args.trainers or DEFAULT_TRAINERS, progress=progress)
    fed.up()
    plan = fed.plan_json()
    if not ctx.json:
        rows = [
            {**p, "netns": p["netns"] or "-", "kubo_api_url": p["kubo_api_url"] or "-"}
            for p in plan["participants"]
        ]
        table(
            rows,
            [
                ("name", "PARTICIPANT"),
                ("netns", "NAMESPACE"),
                ("address", "ADDRESS"),
                ("rpc_url", "RPC URL"),
                ("kubo_api_url", "KUBO API"),
            ],
        )
        where = "inside its own namespace" if fed.isolated else "on this host"
        sys.stdout.write(
            f"\n{'isolated' if fed.isolated else 'NOT isolated'}: each Kubo API is reachable "
            f"{where} only; the plan is in {fed.home / 'federation.json'}\n"
            f"stop:  decentralml dev down --federation"
            + (f" --state-dir {args.state_dir}" if args.state_dir else "")
            + "\n"
        )
    return plan


def federation_down(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from ..devstack.fedproc import federation_down as down

    state = _state(args)
    prefix = "dml"
    with contextlib.suppress(OSError, ValueError, KeyError):
        prefix = str(json.loads((state / "federation" / "federation.json").read_text())["prefix"])
    done = down(state, prefix)
    if not ctx.json:
        sys.stdout.write(
            (f"stopped/removed: {', '.join(done)}" if done else "no federation was running") + "\n"
        )
    return {"state_dir": str(state), "removed": done}
