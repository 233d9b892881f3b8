"""Dispatch a parsed command line: build the context, run the handler, render, map errors."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from ..errors import (
    DecentralMLError,
    ExtrinsicFailed,
    InputError,
    IntegrityError,
    KeystoreError,
    NodeUnreachable,
    StoreUnreachable,
)
from .output import to_json
from .parser import (
    EXIT_DISPATCH,
    EXIT_ERROR,
    EXIT_INTEGRITY,
    EXIT_KEY,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
)

log = logging.getLogger(__name__)


def exit_code(error: DecentralMLError) -> int:
    if isinstance(error, (NodeUnreachable, StoreUnreachable)):
        return EXIT_UNREACHABLE
    if isinstance(error, ExtrinsicFailed):
        return EXIT_DISPATCH
    if isinstance(error, IntegrityError):
        return EXIT_INTEGRITY
    if isinstance(error, KeystoreError):
        return EXIT_KEY
    if isinstance(error, InputError):
        return EXIT_USAGE
    return EXIT_ERROR


def error_json(error: DecentralMLError) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": error.kind, "type": type(error).__name__, "message": str(error)}
    if isinstance(error, ExtrinsicFailed):
        body.update(
            pallet=error.pallet,
            error=error.error,
            docs=error.docs,
            extrinsic_hash=error.extrinsic_hash,
            block_hash=error.block_hash,
        )
    return {"error": body}


def _setup_logging(verbosity: int) -> None:
    # Default: only the one-line reason on failure (run() prints it), no log lines.
    level = (
        logging.CRITICAL if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    )
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    if verbosity < 2:
        # substrate-interface logs every RPC at DEBUG/INFO; keep it quiet unless -vv.
        logging.getLogger("substrateinterface").setLevel(logging.WARNING)
        logging.getLogger("urllib3").setLevel(logging.WARNING)


def run(args: argparse.Namespace) -> int:
    _setup_logging(args.verbose)
    from . import commands
    from .context import Context

    handler = getattr(commands, args.handler)
    ctx = Context(args)
    try:
        result = handler(ctx, args)
        if args.json and result is not None:
            sys.stdout.write(to_json(result) + "\n")
        return 0
    except DecentralMLError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if args.json:
            sys.stdout.write(to_json(error_json(exc)) + "\n")
        sys.stderr.write(f"error: {reason}\n")
        return exit_code(exc)
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    finally:
        ctx.close()
