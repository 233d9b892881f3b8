"""The ``decentralml`` command.

Only argparse is imported here, so ``decentralml --help`` starts fast; each command imports
what it needs (substrate-interface, requests) when it runs. TensorFlow is never imported.

Output: readable tables by default, ``--json`` for one JSON document on stdout in the schema
documented in docs/cli.md. Any failure exits non-zero with a one-line reason on stderr
(and, with ``--json``, ``{"error": {"kind": ..., "message": ...}}`` on stdout).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .parser import (
    EXIT_DISPATCH,
    EXIT_ERROR,
    EXIT_INTEGRITY,
    EXIT_KEY,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    PROTOCOL_GROUPS,
    Parser,
    add_signer,
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="decentralml",
        description="DecentralML: federated learning governed on a Substrate chain.",
        epilog="Every command accepts --json for machine-readable output (docs/cli.md).",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="config file (default: $DECENTRALML_CONFIG or ~/.config/decentralml/config.toml)",
    )
    parser.add_argument("--url", metavar="WS_URL", help="node RPC endpoint (chain.url)")
    parser.add_argument("--ipfs-api", metavar="URL", help="Kubo RPC endpoint (ipfs.api_url)")
    parser.add_argument("--keystore", metavar="DIR", help="keystore directory (keys.keystore)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log to stderr (-vv: debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def cmd(
        group: argparse._SubParsersAction[Parser], name: str, handler: str, help_: str
    ) -> argparse.ArgumentParser:
        p = group.add_parser(name, help=help_, description=help_)
        p.set_defaults(handler=handler)
        p.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
        return p

    # config
    g = sub.add_parser("config", help="show the configuration").add_subparsers(
        dest="sub", metavar="ACTION", required=True, parser_class=Parser
    )
    cmd(g, "show", "config_show", "show the effective configuration (secrets hidden)")
    cmd(g, "path", "config_path", "print the config file path")

    # chain
    g = sub.add_parser("chain", help="node, runtime and live views").add_subparsers(
        dest="sub", metavar="ACTION", required=True, parser_class=Parser
    )
    cmd(g, "info", "chain_info", "chain name, type, runtime version and heads")
    p = cmd(g, "calls", "chain_calls", "list a pallet's calls from the runtime metadata")
    p.add_argument("pallet", nargs="?", default="DecentralMl")
    p = cmd(g, "watch", "chain_watch", "follow new blocks, or events with --events")
    p.add_argument("--events", action="store_true", help="print events instead of block headers")
    p.add_argument("--pallet", action="append", help="only events of this pallet (repeatable)")
    p.add_argument("--count", type=int, default=0, help="stop after N blocks/events (0: never)")
    p.add_argument("--finalized", action="store_true", help="finalized blocks only")

    # account
    g = sub.add_parser("account", help="keystore accounts").add_subparsers(
        dest="sub", metavar="ACTION", required=True, parser_class=Parser
    )
    p = cmd(g, "new", "account_new", "create an account; prints its mnemonic once")
    p.add_argument("name")
    p.add_argument("--password-file", metavar="FILE")
    p = cmd(g, "import", "account_import", "import a Polkadot-JS JSON file or a mnemonic")
    p.add_argument("name", nargs="?", help="account name (default: the file's meta.name)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--json-file", metavar="FILE", help="Polkadot-JS account export")
    src.add_argument(
        "--mnemonic-file", metavar="FILE", help="file holding the mnemonic ('-': stdin)"
    )
    p.add_argument("--password-file", metavar="FILE")
    p = cmd(g, "export", "account_export", "write the account's Polkadot-JS JSON file")
    p.add_argument("account")
    p.add_argument(
        "-o", "--output", metavar="FILE", help="write here (mode 0600) instead of stdout"
    )
    p.add_argument("--password-file", metavar="FILE")
    cmd(g, "list", "account_list", "list keystore accounts")
    p = cmd(g, "show", "account_show", "show an account's address")
    p.add_argument("account")
    p = cmd(g, "remove", "account_remove", "delete an account's key file")
    p.add_argument("account")

    # balance / transfer
    p = cmd(sub, "balance", "balance", "native balance with holds, freezes and locks (or --asset)")
    p.add_argument("account", help="address, keystore account or dev key")
    p.add_argument("--asset", type=int, metavar="ID", help="balance of this asset instead")
    p = cmd(sub, "transfer", "transfer", "transfer the native token")
    p.add_argument("dest", help="address, keystore account or dev key")
    p.add_argument("amount", help="amount in DML (e.g. 1.5), or planck with --planck")
    p.add_argument("--planck", action="store_true", help="AMOUNT is in the smallest unit")
    p.add_argument(
        "--allow-death", action="store_true", help="allow the sender's account to be reaped"
    )
    add_signer(p)

    # asset
    g = sub.add_parser("asset", help="bring-your-own tokens (pallet-assets)").add_subparsers(
        dest="sub", metavar="ACTION", required=True, parser_class=Parser
    )
    cmd(g, "list", "asset_list", "list assets")
    p = cmd(g, "show", "asset_show", "show an asset")
    p.add_argument("id", type=int)
    p = cmd(g, "create", "asset_create", "create an asset (and set its metadata)")
    p.add_argument("id", type=int)
    p.add_argument("--min-balance", default="1", help="minimum balance in planck (default 1)")
    p.add_argument("--name")
    p.add_argument("--symbol")
    p.add_argument("--decimals", type=int, default=12)
    add_signer(p)
    p = cmd(g, "mint", "asset_mint", "mint an asset to an account")
    p.add_argument("id", type=int)
    p.add_argument("dest")
    p.add_argument(
        "amount", help="amount in the asset's units (its decimals), or planck with --planck"
    )
    p.add_argument("--planck", action="store_true")
    add_signer(p)
    p = cmd(g, "transfer", "asset_transfer", "transfer an asset")
    p.add_argument("id", type=int)
    p.add_argument("dest")
    p.add_argument("amount")
    p.add_argument("--planck", action="store_true")
    add_signer(p)
    p = cmd(g, "balance", "asset_balance", "an account's balance of an asset")
    p.add_argument("id", type=int)
    p.add_argument("account")

    # model
    g = sub.add_parser("model", help="model registry").add_subparsers(
        dest="sub", metavar="ACTION", required=True, parser_class=Parser
    )
    cmd(g, "list", "model_list", "list registered models")
    p = cmd(g, "show", "model_show", "show a model")
    p.add_argument("id", type=int)
    p = cmd(
        g,
        "register",
        "model_register",
        "upload architecture and initial weights to IPFS, then register the model",
    )
    p.add_argument("--name", required=True)
    p.add_argument("--architecture", required=True, metavar="FILE")
    p.add_argument("--weights", required=True, metavar="FILE")
    p.add_argument("--licence", metavar="SPDX", help="licence as an SPDX id, e.g. Apache-2.0")
    p.add_argument("--commercial-use", action="store_true", help="licence allows commercial use")
    p.add_argument("--no-attribution", action="store_true", help="licence needs no attribution")
    p.add_argument("--share-alike", action="store_true", help="licence is share-alike")
    p.add_argument(
        "--jurisdiction",
        action="append",
        metavar="CC",
        help="ISO 3166-1 alpha-2 code trainers may be in (repeatable; none: anywhere)",
    )
    p.add_argument(
        "--extra", metavar="JSON", help="extra call arguments newer runtimes take (JSON object)"
    )
    add_signer(p)
    p = cmd(g, "versions", "model_versions", "a model's versions (proposed, approved, rejected)")
    p.add_argument("id", type=int)
    p = cmd(g, "retire", "model_retire", "retire a model one owns (releases its deposit)")
    p.add_argument("id", type=int)
    add_signer(p)
    p = cmd(
        g, "fetch", "model_fetch", "download a model's file from IPFS, verified against the chain"
    )
    p.add_argument("id", type=int)
    p.add_argument("--file", choices=("weights", "architecture"), default="weights")
    p.add_argument("-o", "--output", required=True, metavar="FILE")

    # content
    g = sub.add_parser("content", help="IPFS content store (Kubo RPC)").add_subparsers(
        dest="sub", metavar="ACTION", required=True, parser_class=Parser
    )
    p = cmd(g, "add", "content_add", "add a file; prints its content reference (CID, sha256, size)")
    p.add_argument("file")
    p.add_argument("--no-pin", action="store_true")
    p = cmd(g, "get", "content_get", "fetch content, verified against its CID and sha256")
    p.add_argument("cid")
    p.add_argument("--sha256", required=True, help="expected sha256 (hex)")
    p.add_argument("--size", type=int, required=True, help="expected size in bytes")
    p.add_argument("-o", "--output", required=True, metavar="FILE")
    p = cmd(g, "pin", "content_pin", "pin content on the store")
    p.add_argument("cid")
    cmd(g, "version", "content_version", "the store's Kubo version")

    # generic extrinsic
    p = cmd(sub, "tx", "tx", "submit any call by name: decentralml tx PALLET CALL --args JSON")
    p.add_argument("pallet")
    p.add_argument("call")
    p.add_argument("--args", default="{}", metavar="JSON", help="call arguments as a JSON object")
    add_signer(p)
    p = cmd(sub, "query", "query", "read any storage item: decentralml query PALLET ITEM [KEY...]")
    p.add_argument("pallet")
    p.add_argument("item")
    p.add_argument("keys", nargs="*", help="map keys (JSON values; plain text is a string)")
    p.add_argument("--all", action="store_true", help="every entry of a map")

    # protocol actions (composed from the runtime's DecentralMl calls)
    _protocol(sub, cmd)
    from .dev import register_dev_commands  # the local dev stack (core/devstack/)

    register_dev_commands(sub, cmd)
    return parser


def _protocol(sub: argparse._SubParsersAction[Parser], cmd: object) -> None:
    """Protocol verbs: each maps to DecentralMl calls and fails clearly if the runtime lacks one."""
    from .protocol import register_protocol_commands

    register_protocol_commands(sub, cmd, add_signer)
    from .roles import register_role_commands

    register_role_commands(sub, cmd)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE if args.command is None else EXIT_OK
    from .run import run

    return run(args)


__all__ = [
    "EXIT_DISPATCH",
    "EXIT_ERROR",
    "EXIT_INTEGRITY",
    "EXIT_KEY",
    "EXIT_OK",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "PROTOCOL_GROUPS",
    "Parser",
    "add_signer",
    "build_parser",
    "main",
]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
