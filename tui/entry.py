"""The ``decentralml`` script: the console for no command or ``console``, else the CLI.

Textual is imported only when the console starts, so ``decentralml --help`` and every CLI
command start as fast as before.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

# Global flags of the CLI that take a value (they may precede the command).
_VALUED = {"--config", "--url", "--ipfs-api", "--keystore"}

CONSOLE_HELP = (
    "\nconsole: `decentralml [--url WS_URL] console [--account NAME|//Alice]` (or no command at\n"
    "all) opens the terminal console on the configured node (docs/console.md).\n"
)


def _command_index(argv: Sequence[str]) -> int | None:
    """Index of the first non-option word (the command), skipping global flags and values."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in _VALUED:
            i += 2
            continue
        if word.startswith("-"):
            i += 1
            continue
        return i
    return None


def console_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="decentralml console", description="The DecentralML terminal console."
    )
    p.add_argument("--config", metavar="FILE")
    p.add_argument("--url", metavar="WS_URL", help="node RPC endpoint (chain.url)")
    p.add_argument("--ipfs-api", metavar="URL")
    p.add_argument("--keystore", metavar="DIR")
    p.add_argument("-v", "--verbose", action="count", default=0)
    p.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--account",
        metavar="ACCOUNT",
        help="active account: keystore name or dev key (default on dev chains: //Alice)",
    )
    p.add_argument(
        "--roles-dir", metavar="DIR", help="role runs to follow (default: $DECENTRALML_STATE/roles)"
    )
    p.add_argument("--light", action="store_true", help="start with the light theme")
    return p


def run_console(argv: Sequence[str]) -> int:
    from pathlib import Path

    from decentralml.core.config import load_config
    from decentralml.core.errors import DecentralMLError

    args = console_parser().parse_args(list(argv))
    try:
        overrides = {
            "chain": {"url": args.url},
            "ipfs": {"api_url": args.ipfs_api},
            "keys": {"keystore": args.keystore},
        }
        config = load_config(
            Path(args.config).expanduser() if args.config else None, overrides=overrides
        )
    except DecentralMLError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    import logging

    # Log to a file, never onto the screen.
    if args.verbose:
        logging.basicConfig(
            filename="decentralml-console.log",
            level=logging.DEBUG if args.verbose > 1 else logging.INFO,
        )
    from .app import ConsoleApp
    from .chain_backend import ChainBackend

    app = ConsoleApp(
        ChainBackend(config, args.account),
        events_dir=Path(args.roles_dir) if args.roles_dir else None,
        theme="textual-light" if args.light else None,
    )
    app.run()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    index = _command_index(args)
    if index is None and not any(a in ("-h", "--help") for a in args):
        return run_console(args)
    if index is not None and args[index] == "console":
        return run_console(args[:index] + args[index + 1 :])
    from decentralml.core.cli import main as cli_main

    if index is None:  # --help: the CLI's help, then how to open the console
        try:
            return cli_main(args)
        except SystemExit as exc:
            sys.stdout.write(CONSOLE_HELP)
            raise exc
    return cli_main(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
