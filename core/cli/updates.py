"""``round commit`` and ``round reveal``: a trainer's update by hand, in two steps.

``round commit`` hashes the update file locally (the CID Kubo will give it), draws a salt and
sends only the commitment; the file, its reference and the salt are recorded in a private
pending file (``$DECENTRALML_STATE/commits/``, mode 0600) so that ``round reveal`` can open the
commitment later, in the round's reveal window: it uploads the file, checks that it still has
the committed CID, and reveals. Nothing of the update reaches IPFS before the reveal.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ExtrinsicFailed, InputError
from ..types import ContentRef
from .send import send

if TYPE_CHECKING:
    from .context import Context

__all__ = ["round_commit", "round_reveal"]


def pending_path(task: int, round_index: int, address: str) -> Path:
    from ..roles.state import state_base

    return state_base() / "commits" / f"task{task}-round{round_index}-{address}.json"


def _ref_of(data: dict[str, Any]) -> ContentRef:
    return ContentRef(cid=data["cid"], digest=bytes.fromhex(data["sha256"]), size=int(data["size"]))


def round_commit(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from ..chain.commitment import new_salt, update_commitment
    from ..chain.decentralml import DecentralMl, metrics
    from ..keys import write_private
    from ..storage.cid import compute_cid

    metrics(args.loss, args.accuracy)
    if args.samples <= 0:
        raise InputError("--samples must be positive")
    path = Path(args.file).resolve()
    if not path.is_file():
        raise InputError(f"{args.file} is not a readable file")
    signer = ctx.signer()
    dml = DecentralMl(ctx.chain)
    dml._args("commit_update")
    with path.open("rb") as handle:
        cid, digest, size = compute_cid(iter(lambda: handle.read(1 << 20), b""))
    ref = ContentRef(cid=cid, digest=digest, size=size)
    pending = pending_path(args.task, args.round, signer.ss58_address)
    if pending.exists():
        raise InputError(
            f"{pending} already holds a commitment for this round: reveal it with "
            f"`decentralml round reveal {args.task} {args.round}` (or move it away if that "
            "commitment never landed)"
        )
    salt = new_salt()
    commitment = update_commitment(
        args.task, args.round, signer.ss58_address, ref, args.samples, salt
    )
    record = {
        "task": args.task,
        "round": args.round,
        "file": str(path),
        "update": ref.to_json(),
        "samples": args.samples,
        "loss": args.loss,
        "accuracy": args.accuracy,
        "salt": salt.hex(),
    }
    if not getattr(args, "dry_run", False):
        # Written before sending, so a commitment that lands is never without its opening.
        pending.parent.mkdir(parents=True, exist_ok=True)
        write_private(pending, record)
    try:
        result = send(
            ctx,
            "DecentralMl.commit_update",
            lambda gate: dml.commit_update(signer, args.task, args.round, commitment, on_fee=gate),
            task_id=args.task,
            round=args.round,
        )
    except ExtrinsicFailed:
        # Included and refused: there is no commitment to open. Any other failure (a timeout,
        # a dropped connection) keeps the pending file, as the commitment may have landed.
        pending.unlink(missing_ok=True)
        raise
    result.update(update=ref.to_json(), commitment=commitment.hex(), pending=str(pending))
    return result


def round_reveal(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from ..chain.decentralml import DecentralMl

    signer = ctx.signer()
    pending = pending_path(args.task, args.round, signer.ss58_address)
    try:
        record = json.loads(pending.read_text(encoding="utf-8"))
        ref = _ref_of(record["update"])
        salt = bytes.fromhex(record["salt"])
        path = Path(record["file"])
    except FileNotFoundError:
        raise InputError(
            f"no pending commitment at {pending}: run `decentralml round commit` first (with "
            "the same --state / DECENTRALML_STATE)"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"{pending} is unreadable ({exc}); the commitment cannot be opened"
        ) from None
    dml = DecentralMl(ctx.chain)
    dml._args("reveal_update")
    stored = ctx.store.add_file(path).ref
    if stored != ref:
        raise InputError(
            f"{path} changed since the commitment (now {stored.cid}, committed {ref.cid}); "
            "restore the committed file and reveal again"
        )
    result = send(
        ctx,
        "DecentralMl.reveal_update",
        lambda gate: dml.reveal_update(
            signer,
            args.task,
            args.round,
            ref,
            int(record["samples"]),
            float(record["loss"]),
            float(record["accuracy"]),
            salt,
            on_fee=gate,
        ),
        task_id=args.task,
        round=args.round,
    )
    if not getattr(args, "dry_run", False):
        pending.unlink(missing_ok=True)
    result["update"] = ref.to_json()
    return result
