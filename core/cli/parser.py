"""The parser pieces every command module shares: exit codes and the argparse class.

Kept apart from ``decentralml.core.cli`` (which builds the whole parser from the command
modules) so that those modules can use them without importing the package that imports them.
"""

from __future__ import annotations

import argparse
import sys

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_DISPATCH = 4
EXIT_INTEGRITY = 5
EXIT_KEY = 6

PROTOCOL_GROUPS = (
    "task",
    "join",
    "leave",
    "round",
    "propose",
    "vote",
    "close",
    "challenge",
    "stake",
)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error exits with ``EXIT_USAGE`` after printing the usage."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def add_signer(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--from",
        dest="signer",
        required=True,
        metavar="ACCOUNT",
        help="keystore account (name or address), or a dev key such as //Alice (dev chains only)",
    )
    p.add_argument(
        "--password-file",
        metavar="FILE",
        help="read the keystore password from FILE (else $DECENTRALML_PASSWORD, else a prompt)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="estimate the fee and stop; nothing is sent"
    )
