"""Handlers of the ``decentralml`` commands.

Each handler takes (context, args), prints a readable view unless ``--json`` is set, and
returns the JSON document of the command (docs/cli.md lists every schema).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError, UnknownAccount
from ..types import format_amount
from .output import pairs, table
from .send import say, send

if TYPE_CHECKING:
    from ..chain.decentralml import DecentralMl
    from ..chain.records import DecentralMlReader
    from .context import Context


# ---- config --------------------------------------------------------------------------------------
def config_show(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    data = ctx.config.redacted()
    if not ctx.json:
        items: list[tuple[str, Any]] = [("source", data["source"])]
        for section in ("chain", "ipfs", "keys"):
            items += [(f"{section}.{k}", v) for k, v in data[section].items()]
        pairs(items)
    return data


def config_path(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from ..config import default_config_path

    path = Path(args.config).expanduser() if args.config else default_config_path()
    say(ctx, str(path))
    return {"path": str(path), "exists": path.exists()}


# ---- chain ---------------------------------------------------------------------------------------
def chain_info(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    info = ctx.chain.info()
    info["url"] = ctx.config.redacted()["chain"]["url"]
    if not ctx.json:
        pairs([(k, ", ".join(v) if isinstance(v, list) else v) for k, v in info.items()])
    return info


def chain_calls(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    calls = ctx.chain.calls(args.pallet)
    if not ctx.json:
        rows = [
            {"name": c["name"], "args": ", ".join(f"{a['name']}: {a['type']}" for a in c["args"])}
            for c in calls
        ]
        table(rows, [("name", "CALL"), ("args", "ARGUMENTS")])
    return {"pallet": args.pallet, "calls": calls}


def chain_watch(ctx: Context, args: argparse.Namespace) -> None:
    """Streams: one JSON object per line with --json (JSON Lines), returns nothing."""
    from .output import to_json

    seen = 0

    def emit(obj: dict[str, Any], text: str) -> bool:
        nonlocal seen
        sys.stdout.write((to_json(obj) if ctx.json else text) + "\n")
        sys.stdout.flush()
        seen += 1
        return bool(args.count) and seen >= args.count

    if args.events:
        ctx.chain.watch_events(
            lambda e: emit(
                e.to_json(),
                f"#{e.block_number} {e.pallet}.{e.name} {json.dumps(e.attributes, default=str)}",
            ),
            pallets=args.pallet,
            finalized=args.finalized,
        )
    else:
        ctx.chain.watch_heads(
            lambda h: emit(h.to_json(), f"#{h.number} {h.hash}"), finalized=args.finalized
        )
    return None


# ---- accounts ------------------------------------------------------------------------------------
def account_new(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    store = ctx.keystore
    if store.exists(args.name):
        raise InputError(f"an account named {args.name!r} already exists")
    account, mnemonic = store.create(args.name, ctx.password(confirm=True, what="new password"))
    if not ctx.json:
        sys.stdout.write(f"account {account.name}: {account.address}\n")
        sys.stdout.write(f"mnemonic (write it down; it is shown only once):\n  {mnemonic}\n")
    return {**account.to_json(), "mnemonic": mnemonic}


def account_import(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    store = ctx.keystore
    if args.json_file:
        account = store.import_json(Path(args.json_file), ctx.password(), args.name)
    else:
        if not args.name:
            raise InputError("importing a mnemonic needs an account name")
        if args.mnemonic_file == "-":
            mnemonic = sys.stdin.readline()
        else:
            try:
                mnemonic = Path(args.mnemonic_file).read_text()
            except OSError as exc:
                raise InputError(f"cannot read {args.mnemonic_file}: {exc.strerror}") from None
        account = store.import_mnemonic(args.name, mnemonic, ctx.password(what="new password"))
    say(ctx, f"imported {account.name}: {account.address}")
    return account.to_json()


def account_export(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from ..keys import write_private

    data = ctx.keystore.export_json(args.account, ctx.password())
    if args.output:
        write_private(Path(args.output), data)
        say(ctx, f"wrote {args.output}")
        return {"path": args.output, "address": data["address"]}
    if not ctx.json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
    return data


def account_list(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    accounts = [a.to_json() for a in ctx.keystore.list()]
    if not ctx.json:
        table(accounts, [("name", "NAME"), ("address", "ADDRESS"), ("crypto", "CRYPTO")])
    return {"keystore": str(ctx.config.keys.keystore), "accounts": accounts}


def account_show(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    address = ctx.address_of(args.account)
    say(ctx, address)
    return {"account": args.account, "address": address}


def account_remove(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    account = ctx.keystore.remove(args.account)
    say(ctx, f"removed {account.name} ({account.address})")
    return {"removed": account.to_json()}


# ---- balances ------------------------------------------------------------------------------------
def balance(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    address = ctx.address_of(args.account)
    if args.asset is not None:
        return _asset_balance(ctx, args.asset, address)
    symbol, decimals = ctx.chain.token()
    bal = ctx.chain.native_balance(address)

    def fmt(v: int) -> str:
        return format_amount(v, decimals, symbol)

    if not ctx.json:
        pairs(
            [
                ("address", address),
                ("free", fmt(bal.free)),
                ("transferable", fmt(bal.transferable)),
                ("reserved (held)", fmt(bal.reserved)),
                ("frozen", fmt(bal.frozen)),
                ("nonce", bal.nonce),
            ]
        )
        for hold in bal.holds:
            sys.stdout.write(f"  hold    {hold.reason}: {fmt(hold.amount)}\n")
        for freeze in bal.freezes:
            sys.stdout.write(f"  freeze  {freeze.reason}: {fmt(freeze.amount)}\n")
        for lock in bal.locks:
            sys.stdout.write(f"  lock    {lock.id} ({lock.reasons}): {fmt(lock.amount)}\n")
    return {**bal.to_json(), "symbol": symbol, "decimals": decimals}


def transfer(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    dest = ctx.address_of(args.dest)
    amount = ctx.native_amount(args.amount, args.planck)
    signer = ctx.signer()
    return send(
        ctx,
        "Balances.transfer",
        lambda gate: ctx.chain.transfer(
            signer, dest, amount, keep_alive=not args.allow_death, on_fee=gate
        ),
        **{"from": signer.ss58_address, "to": dest, "amount": str(amount)},
    )


# ---- assets --------------------------------------------------------------------------------------
def _asset_units(ctx: Context, asset_id: int, text: str, planck: bool) -> int:
    from ..types import parse_amount, parse_planck

    if planck:
        return parse_planck(text)
    info = ctx.chain.asset(asset_id)
    if info is None:
        raise InputError(f"no asset with id {asset_id}")
    return parse_amount(text, info.decimals)


def asset_list(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    assets = [a.to_json() for a in ctx.chain.assets()]
    if not ctx.json:
        table(
            assets,
            [
                ("id", "ID"),
                ("symbol", "SYMBOL"),
                ("name", "NAME"),
                ("decimals", "DEC"),
                ("supply", "SUPPLY"),
                ("accounts", "ACCOUNTS"),
                ("status", "STATUS"),
                ("owner", "OWNER"),
            ],
        )
    return {"assets": assets}


def asset_show(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    info = ctx.chain.asset(args.id)
    if info is None:
        raise InputError(f"no asset with id {args.id}")
    if not ctx.json:
        pairs(list(info.to_json().items()))
    return info.to_json()


def asset_create(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from ..types import parse_planck

    min_balance = parse_planck(args.min_balance)
    if ctx.chain.asset(args.id) is not None:
        raise InputError(f"asset {args.id} already exists")
    signer = ctx.signer()
    result = send(
        ctx,
        "Assets.create",
        lambda gate: ctx.chain.asset_create(signer, args.id, min_balance, on_fee=gate),
        asset_id=args.id,
    )
    if (args.name or args.symbol) and not result["dry_run"]:
        meta = send(
            ctx,
            "Assets.set_metadata",
            lambda gate: ctx.chain.asset_set_metadata(
                signer, args.id, args.name or "", args.symbol or "", args.decimals, on_fee=gate
            ),
        )
        result["metadata_receipt"] = meta["receipt"]
    return result


def asset_mint(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    dest = ctx.address_of(args.dest)
    amount = _asset_units(ctx, args.id, args.amount, args.planck)
    signer = ctx.signer()
    return send(
        ctx,
        "Assets.mint",
        lambda gate: ctx.chain.asset_mint(signer, args.id, dest, amount, on_fee=gate),
        asset_id=args.id,
        to=dest,
        amount=str(amount),
    )


def asset_transfer(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    dest = ctx.address_of(args.dest)
    amount = _asset_units(ctx, args.id, args.amount, args.planck)
    signer = ctx.signer()
    return send(
        ctx,
        "Assets.transfer",
        lambda gate: ctx.chain.asset_transfer(signer, args.id, dest, amount, on_fee=gate),
        **{"asset_id": args.id, "from": signer.ss58_address, "to": dest, "amount": str(amount)},
    )


def _asset_balance(ctx: Context, asset_id: int, address: str) -> dict[str, Any]:
    info = ctx.chain.asset(asset_id)
    if info is None:
        raise InputError(f"no asset with id {asset_id}")
    bal = ctx.chain.asset_balance(asset_id, address)
    if not ctx.json:
        pairs(
            [
                ("address", address),
                ("asset", f"{asset_id} ({info.symbol or '?'})"),
                ("balance", format_amount(bal.balance, info.decimals, info.symbol)),
                ("status", bal.status),
            ]
        )
    return {**bal.to_json(), "symbol": info.symbol, "decimals": info.decimals}


def asset_balance(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    return _asset_balance(ctx, args.id, ctx.address_of(args.account))


# ---- models --------------------------------------------------------------------------------------
def _pallet(ctx: Context) -> DecentralMl:
    from ..chain.decentralml import DecentralMl

    return DecentralMl(ctx.chain)


def _reader(ctx: Context) -> DecentralMlReader:
    from ..chain.records import DecentralMlReader

    return DecentralMlReader(ctx.reader)


def model_list(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    models = [m.to_json() for m in _reader(ctx).models()]
    if not ctx.json:
        rows = [
            {
                **m,
                "weights": m["initial_weights"]["cid"],
                "licence": m["extra"].get("licence_terms", ""),
            }
            for m in models
        ]
        table(
            rows,
            [
                ("id", "ID"),
                ("name", "NAME"),
                ("status", "STATUS"),
                ("licence", "LICENCE"),
                ("owner", "OWNER"),
                ("weights", "INITIAL WEIGHTS"),
            ],
        )
    return {"models": models}


def model_show(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    model = _pallet(ctx).model(args.id)
    if model is None:
        raise InputError(f"no model with id {args.id}")
    data = model.to_json()
    if not ctx.json:
        pairs([(k, v) for k, v in data.items() if k != "extra"] + list(data["extra"].items()))
    return data


def model_register(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from ..chain.decentralml import jurisdictions, licence

    extra = _json_object(args.extra) if args.extra else {}
    jurisdictions(args.jurisdiction or ())  # a bad code is refused before anything is uploaded
    lic = (
        licence(
            spdx=args.licence,
            commercial_use=args.commercial_use,
            attribution=not args.no_attribution,
            share_alike=args.share_alike,
        )
        if args.licence
        else None
    )
    arch_path, weights_path = Path(args.architecture), Path(args.weights)
    for path in (arch_path, weights_path):
        if not path.is_file():
            raise InputError(f"{path} is not a readable file")
    signer = ctx.signer()  # unlock before uploading: a wrong password costs nothing
    pallet = _pallet(ctx)
    pallet._args("register_model")  # fail before uploading if the runtime lacks the call
    architecture = ctx.store.add_file(arch_path).ref
    weights = ctx.store.add_file(weights_path).ref

    def action(gate: Any) -> Any:
        model_id, receipt = pallet.register_model(
            signer,
            args.name,
            architecture,
            weights,
            licence=lic or extra.get("licence"),
            jurisdictions=args.jurisdiction or (),
            on_fee=gate,
        )
        return {"model_id": model_id}, receipt

    result = send(ctx, "DecentralMl.register_model", action)
    result["architecture"] = architecture.to_json()
    result["initial_weights"] = weights.to_json()
    return result


def model_versions(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    versions = [r.to_json() for r in _pallet(ctx).versions(args.id)]
    if not ctx.json:
        rows = [
            {
                "version": v["key"][-1],
                "status": v.get("status"),
                "weights": (v.get("weights") or {}).get("cid"),
                "parent": v.get("parent"),
                "proposed_at": v.get("proposed_at"),
            }
            for v in versions
        ]
        table(
            rows,
            [
                ("version", "VERSION"),
                ("status", "STATUS"),
                ("parent", "PARENT"),
                ("proposed_at", "PROPOSED AT"),
                ("weights", "WEIGHTS"),
            ],
            empty="no versions",
        )
    return {"model_id": args.id, "versions": versions}


def model_retire(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    signer = ctx.signer()
    return send(
        ctx,
        "DecentralMl.retire_model",
        lambda gate: _pallet(ctx).retire_model(signer, args.id, on_fee=gate),
        model_id=args.id,
    )


def model_fetch(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    model = _pallet(ctx).model(args.id)
    if model is None:
        raise InputError(f"no model with id {args.id}")
    ref = model.initial_weights if args.file == "weights" else model.architecture
    ctx.store.fetch_to(ref, Path(args.output))
    say(ctx, f"wrote {args.output} ({ref.size} bytes, sha256 {ref.digest_hex} verified)")
    return {
        "model_id": args.id,
        "file": args.file,
        "path": args.output,
        **ref.to_json(),
        "verified": True,
    }


# ---- content -------------------------------------------------------------------------------------
def content_add(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    stored = ctx.store.add_file(Path(args.file), pin=not args.no_pin)
    if not ctx.json:
        pairs(list(stored.to_json().items()))
    return stored.to_json()


def content_get(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from ..types import ContentRef

    try:
        digest = bytes.fromhex(args.sha256.removeprefix("0x"))
    except ValueError:
        raise InputError(f"--sha256 {args.sha256!r} is not hex") from None
    ref = ContentRef(args.cid, digest, args.size)
    ctx.store.fetch_to(ref, Path(args.output))
    say(ctx, f"wrote {args.output} ({ref.size} bytes, CID and sha256 verified)")
    return {**ref.to_json(), "path": args.output, "verified": True}


def content_pin(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    ctx.store.pin(args.cid)
    say(ctx, f"pinned {args.cid}")
    return {"cid": args.cid, "pinned": True}


def content_version(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    version = ctx.store.version()
    say(ctx, version)
    return {"version": version, "api_url": ctx.config.redacted()["ipfs"]["api_url"]}


# ---- generic -------------------------------------------------------------------------------------
def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InputError(f"invalid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InputError("expected a JSON object")
    return value


def tx(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    params = _json_object(args.args)
    ctx.chain.compose(args.pallet, args.call, params)  # validates before unlocking a key
    signer = ctx.signer()
    return send(
        ctx,
        f"{args.pallet}.{args.call}",
        lambda gate: ctx.chain.submit(signer, args.pallet, args.call, params, on_fee=gate),
    )


def _key_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def query(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    keys = [_key_value(k) for k in args.keys]
    if args.all:
        entries = ctx.chain.storage_entries(args.pallet, args.item)
        data: dict[str, Any] = {"entries": [{"key": k, "value": v} for k, v in entries]}
    else:
        data = {"value": ctx.chain.storage(args.pallet, args.item, keys)}
    if not ctx.json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    return {"pallet": args.pallet, "item": args.item, "keys": keys, **data}


__all__ = ["UnknownAccount"]

from .dev import *  # noqa: E402,F403 - dev stack handlers (decentralml dev ...)
from .protocol import *  # noqa: E402,F403 - protocol handlers live in their own module
from .roles import *  # noqa: E402,F403 - the long-running role commands
from .tasks import *  # noqa: E402,F403 - task handlers (list, show, trainers, create)
