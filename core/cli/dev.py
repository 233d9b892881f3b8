"""``decentralml dev up|down|status|logs``: the local dev stack (see ``decentralml.core.devstack``).

Registering the commands imports only argparse; the handlers import the dev stack when they run.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from .output import table

if TYPE_CHECKING:
    from ..devstack import DevStack
    from .context import Context

__all__ = [
    "dev_demo_data",
    "dev_down",
    "dev_local_spec",
    "dev_logs",
    "dev_run",
    "dev_status",
    "dev_up",
]

PORT_FLAGS = (
    ("--rpc-port", "node RPC (WebSocket and HTTP) port (default 9944; env DML_RPC_PORT)"),
    ("--p2p-port", "node peer-to-peer port, bound to 127.0.0.1 (default 30333; env DML_P2P_PORT)"),
    ("--ipfs-api-port", "Kubo RPC API port (default 5001; env DML_IPFS_API_PORT)"),
    ("--ipfs-gateway-port", "Kubo gateway port (default 8080; env DML_IPFS_GATEWAY_PORT)"),
)


def register_dev_commands(sub: Any, cmd: Any) -> None:
    from .parser import Parser

    g = sub.add_parser(
        "dev",
        help="local dev stack: node, private IPFS and a demo federation",
        description="Run node-decentralml --dev, a private Kubo and a seeded demo federation, "
        "all with their data under one state directory ($DECENTRALML_STATE, default ./.state).",
    ).add_subparsers(dest="sub", metavar="ACTION", required=True, parser_class=Parser)

    def state_dir(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--state-dir",
            metavar="DIR",
            help="project state directory (default: $DECENTRALML_STATE, else ./.state)",
        )

    p = cmd(
        g,
        "up",
        "dev_up",
        "start (or resume) the dev stack: node, IPFS, then seed the demo and start its roles",
    )
    state_dir(p)
    p.add_argument("--reset", action="store_true", help="stop the stack and delete its data first")
    p.add_argument(
        "--no-demo", action="store_true", help="only the node and IPFS: seed nothing, no roles"
    )
    p.add_argument(
        "--no-roles",
        action="store_true",
        help="seed the demo but start no trainers, aggregator or verifier",
    )
    p.add_argument(
        "--foreground",
        action="store_true",
        help="stay attached; Ctrl+C or SIGTERM stops everything (container entrypoint)",
    )
    for flag, help_ in PORT_FLAGS:
        p.add_argument(flag, type=int, metavar="N", help=help_)
    p.add_argument(
        "--rpc-external",
        action="store_true",
        help="node RPC on all interfaces with CORS open (containers; safe RPC methods only)",
    )
    p.add_argument(
        "--ipfs-external",
        action="store_true",
        help="Kubo API and gateway on 0.0.0.0 (containers only: the API is not authenticated)",
    )
    p.add_argument(
        "--trainers",
        type=int,
        metavar="N",
        help="demo trainers, 1 to 3 (default 3); with --federation 1 to 32 (default 4)",
    )
    p.add_argument(
        "--federation",
        action="store_true",
        help="instead: 3 validators (--chain local), trainers, aggregator, verifier, each with "
        "its own network namespace (as root) and Kubo; see docs/operator-guide.md",
    )
    p = cmd(
        g,
        "run",
        "dev_run",
        "up, then open the console on the stack; quitting the console stops everything",
    )
    state_dir(p)
    p.add_argument("--reset", action="store_true", help="start again from an empty state")
    p.add_argument("--no-demo", action="store_true", help="no demo federation")
    for flag, help_ in PORT_FLAGS:
        p.add_argument(flag, type=int, metavar="N", help=help_)
    p.add_argument(
        "--keep", action="store_true", help="leave the stack running when the console quits"
    )
    _register_network_commands(g, cmd)
    p = cmd(g, "down", "dev_down", "stop everything the dev stack started; check nothing is left")
    state_dir(p)
    p.add_argument(
        "--federation",
        action="store_true",
        help="stop the federation of `dev up --federation` and remove its namespaces",
    )
    p = cmd(g, "status", "dev_status", "each component: running or stopped, pid, port, last event")
    state_dir(p)
    p = cmd(g, "logs", "dev_logs", "show (or follow) the logs of the stack's components")
    state_dir(p)
    p.add_argument(
        "component",
        nargs="?",
        help="node, ipfs, trainer-1..3, aggregator or verifier (default: all)",
    )
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    p.add_argument("-n", "--lines", type=int, default=40, help="lines of each log (default 40)")


def _register_network_commands(g: Any, cmd: Any) -> None:
    p = cmd(
        g,
        "demo-data",
        "dev_demo_data",
        "write the demo model (spec, initial weights) and partitioned datasets to DIR",
    )
    p.add_argument("directory", metavar="DIR")
    p.add_argument("--trainers", type=int, default=3, metavar="N", help="1 to 3 (default 3)")
    p = cmd(
        g,
        "local-spec",
        "dev_local_spec",
        "the --chain local spec with extra accounts endowed at genesis (DML and the demo asset)",
    )
    p.add_argument(
        "--endow",
        nargs="+",
        default=[],
        metavar="ACCOUNT",
        help="keystore accounts or addresses to fund at genesis",
    )
    p.add_argument("--native", default="10000", help="DML per account (default 10000)")
    p.add_argument("--asset-amount", default="10000", help="DCC per account (default 10000)")
    p.add_argument(
        "--bootnode", action="append", metavar="MULTIADDR", help="replace the spec's boot nodes"
    )
    p.add_argument("-o", "--output", required=True, metavar="FILE")


def dev_demo_data(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from ..devstack import DevStackError, write_demo_files

    if not 1 <= args.trainers <= 3:
        raise DevStackError("the demo has 1 to 3 trainers")
    files = write_demo_files(Path(args.directory).expanduser().absolute(), args.trainers)
    result = {name: str(path) for name, path in files.items()}
    if not ctx.json:
        for name, path in result.items():
            _out(f"{name:16} {path}")
    return {"files": result}


def dev_local_spec(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from ..devstack import build_chain_spec, endow_chain_spec, write_json
    from ..types import parse_amount

    addresses = [ctx.address_of(a) for a in args.endow]
    spec = endow_chain_spec(
        build_chain_spec("local"),
        addresses,
        native=parse_amount(args.native, 12),
        asset=parse_amount(args.asset_amount, 12),
        bootnodes=args.bootnode,
    )
    out = Path(args.output).expanduser()
    write_json(out, spec)
    if not ctx.json:
        _out(f"wrote {out}: {len(addresses)} account(s) endowed")
    return {"path": str(out), "endowed": addresses}


def _stack(args: argparse.Namespace, *, explicit: dict[str, Any] | None = None) -> DevStack:
    from ..devstack import DevStack, resolve_settings

    state = Path(args.state_dir).expanduser() if args.state_dir else None
    stack = DevStack(state, progress=_progress)
    if explicit is not None:
        stack.settings = resolve_settings(stack.recorded_settings(), explicit)
    return stack


def _progress(text: str) -> None:
    # The terminal may be gone (a dropped SSH session): losing a progress line must never
    # stop the caller from cleaning up.
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(f"==> {text}\n")
        sys.stderr.flush()


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _show_status(stack: DevStack) -> list[dict[str, Any]]:
    return [c.to_json() for c in stack.status()]


def _print_status(rows: list[dict[str, Any]]) -> None:
    table(
        rows,
        [
            ("name", "COMPONENT"),
            ("state", "STATE"),
            ("pid", "PID"),
            ("url", "URL"),
            ("last_event", "LAST EVENT"),
        ],
    )


def dev_up(ctx: Context, args: argparse.Namespace) -> dict[str, Any] | None:
    if args.federation:
        from .devfed import federation_up

        return federation_up(ctx, args, _progress)
    explicit: dict[str, Any] = {
        "rpc_port": args.rpc_port,
        "p2p_port": args.p2p_port,
        "ipfs_api_port": args.ipfs_api_port,
        "ipfs_gateway_port": args.ipfs_gateway_port,
        "trainers": args.trainers,
        # Binding flags apply to this start only (they are never sticky).
        "rpc_external": args.rpc_external,
        "ipfs_external": args.ipfs_external,
    }
    stack = _stack(args, explicit=explicit)
    stop = threading.Event()
    if args.foreground:
        _on_signals(stop)
    status = stack.up(reset=args.reset, demo=not args.no_demo, roles=not args.no_roles)
    rows = [c.to_json() for c in status]
    s = stack.settings
    result: dict[str, Any] = {
        "state_dir": str(stack.paths.state),
        "ws_url": s.ws_url,
        "ipfs_api": s.ipfs_api_url,
        "components": rows,
        "demo": (record.to_json() if (record := stack.demo_record()) else None),
    }
    if not ctx.json:
        _print_status(rows)
        _out(
            f"\nnode:     {s.ws_url}  (Polkadot-JS Apps: "
            f"https://polkadot.js.org/apps/?rpc=ws%3A%2F%2F127.0.0.1%3A{s.rpc_port})\n"
            f"IPFS API: {s.ipfs_api_url}\n"
            f"state:    {stack.paths.state}\n"
            f"use:      decentralml --url {s.ws_url} --ipfs-api {s.ipfs_api_url} task list\n"
            "stop:     decentralml dev down"
            + (f" --state-dir {stack.paths.state}" if args.state_dir else "")
        )
    if args.foreground:
        if ctx.json:
            from .output import to_json

            sys.stdout.write(to_json(result) + "\n")
            sys.stdout.flush()
        _progress("running in the foreground: Ctrl+C or SIGTERM stops everything")
        reason = stack.wait(stop)
        _progress(f"{reason}: stopping the dev stack")
        report = stack.down()
        _check_down(report.to_json())
        result["down"] = report.to_json()
        return None  # already printed before waiting
    return result


class _Hangup(Exception):
    """SIGTERM or SIGHUP (a closed SSH session) while the console runs."""


def console_argv(stack: DevStack) -> list[str]:
    """The console on this stack: its node, its IPFS and its roles' events."""
    s = stack.settings
    return [
        sys.executable,
        "-m",
        "decentralml.tui.entry",
        "--url",
        s.ws_url,
        "--ipfs-api",
        s.ipfs_api_url,
        "console",
        "--roles-dir",
        str(stack.paths.roles),
    ]


def dev_run(ctx: Context, args: argparse.Namespace) -> None:
    """The README's run command: start (or resume) the stack, run the console in this terminal,
    and stop everything when the console quits, the terminal goes away or SIGTERM arrives."""
    import subprocess

    explicit: dict[str, Any] = {
        "rpc_port": args.rpc_port,
        "p2p_port": args.p2p_port,
        "ipfs_api_port": args.ipfs_api_port,
        "ipfs_gateway_port": args.ipfs_gateway_port,
        "rpc_external": False,
        "ipfs_external": False,
    }
    stack = _stack(args, explicit=explicit)

    def hangup(_signum: int, _frame: FrameType | None) -> None:
        raise _Hangup

    previous = {sig: signal.signal(sig, hangup) for sig in (signal.SIGTERM, signal.SIGHUP)}
    code = 0
    try:
        stack.up(reset=args.reset, demo=not args.no_demo)
        _progress("opening the console (q quits; the stack stops with it)")
        # Ctrl+C belongs to the console while it runs; this process must not die of it.
        old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            child = subprocess.Popen(console_argv(stack))
            try:
                code = child.wait()
            except _Hangup:
                child.terminate()
                child.wait(timeout=10)
                raise
        finally:
            signal.signal(signal.SIGINT, old_int)
    except _Hangup:
        _progress("terminal closed or SIGTERM: stopping")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if not args.keep:
            _progress("stopping the dev stack")
            report = stack.down().to_json()  # before anything else can fail
            _check_down(report)
            _progress(
                f"stopped {', '.join(report['stopped']) or 'nothing'}; no process or port left"
            )
    if code:
        from ..devstack import DevStackError

        raise DevStackError(f"the console exited with code {code}")


def _on_signals(stop: threading.Event) -> None:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _check_down(report: dict[str, Any]) -> None:
    from ..devstack import DevStackError

    if not report["clean"]:
        raise DevStackError(
            f"processes {report['left_processes']} or ports {report['left_ports']} are still in "
            "use after stopping the stack: see `decentralml dev status`"
        )


def dev_down(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    if args.federation:
        from .devfed import federation_down

        return federation_down(ctx, args)
    stack = _stack(args)
    report = stack.down().to_json()
    if not ctx.json:
        if report["stopped"]:
            _out(f"stopped {', '.join(report['stopped'])}")
        else:
            _out(f"nothing was running in {stack.paths.state}")
    _check_down(report)
    return report


def dev_status(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    stack = _stack(args)
    rows = _show_status(stack)
    record = stack.demo_record()
    finalized = stack.finalized_rounds() if record is not None else []
    if not ctx.json:
        _print_status(rows)
        if record is not None:
            last = f"round {finalized[-1]}" if finalized else "none yet"
            _out(
                f"\ndemo: model {record.model_id}, task {record.task_id}, "
                f"asset {record.asset_id}; last finalized round: {last}"
            )
    return {
        "state_dir": str(stack.paths.state),
        "components": rows,
        "demo": record.to_json() if record else None,
        "finalized_rounds": finalized,
    }


def dev_logs(ctx: Context, args: argparse.Namespace) -> None:
    from ..devstack import DevStackError

    stack = _stack(args)
    names = [args.component] if args.component else stack.names()
    for name in names:
        if name not in stack.names():
            raise DevStackError(f"no component {name!r} (use one of {', '.join(stack.names())})")
    names = [n for n in names if stack.paths.log(n).exists()]
    if not names:
        raise DevStackError(f"no logs yet in {stack.paths.logs}: start the stack with dev up")
    if args.follow:
        try:
            for line in stack.follow(names, args.lines):
                sys.stdout.write(line + "\n")
                sys.stdout.flush()
        except KeyboardInterrupt:
            return None
        return None
    for name in names:
        if len(names) > 1:
            sys.stdout.write(f"==> {stack.paths.log(name)} <==\n")
        sys.stdout.write(stack.log_tail(name, args.lines) + "\n")
    return None
