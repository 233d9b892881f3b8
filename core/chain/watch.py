"""Submit one extrinsic and be told the block it lands in (``author_submitAndWatchExtrinsic``).

Scanning every new block for an extrinsic's hash costs a few round trips per block, each a
round trip to the node; on a slow link that was most of an extrinsic's latency. A watch gets
the including block's hash pushed by the node instead. It runs on a websocket of its own, so
a connection shared by other threads (the console's refreshes) is not held while it waits.

:func:`submit_and_watch` returns a :class:`Watched`: the hash, and the block it was included in,
or ``None`` when the watch was lost after the node took the extrinsic (connection dropped,
timeout): the caller then finds it by scanning blocks, as for many extrinsics at once. A
refusal raises :class:`~decentralml.core.errors.SubmissionRejected`; an extrinsic the pool
dropped or declared invalid after taking it raises it too, naming the status.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import websocket

from ..errors import SubmissionRejected

log = logging.getLogger(__name__)

_ids = itertools.count(1)

FAILED_STATUSES = ("dropped", "invalid", "usurped")


@dataclass(frozen=True)
class Watched:
    extrinsic_hash: str
    block_hash: str | None  # None: the watch was lost after submission; scan for it


def extrinsic_hash(data: str) -> str:
    """The hash the node gives an extrinsic: blake2b-256 of its bytes (``0x``-hex in, out)."""
    return (
        "0x" + hashlib.blake2b(bytes.fromhex(data.removeprefix("0x")), digest_size=32).hexdigest()
    )


def refusal_text(error: Any) -> str:
    """The node's words for a refused extrinsic (message and data of a JSON-RPC error)."""
    if isinstance(error, dict):
        return f"{error.get('message', error)} {error.get('data', '')}".strip()
    return str(error)


def status_of(update: Any) -> tuple[str, str | None]:
    """(status name in lower case, its block hash if it names one) of a watch update."""
    if isinstance(update, dict) and update:
        name, value = next(iter(update.items()))
        return str(name).lower(), value if isinstance(value, str) else None
    return str(update).lower(), None


def _request(request: int, method: str, params: list[Any]) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": request, "method": method, "params": params})


def submit_and_watch(url: str, data: str, timeout_s: float) -> Watched:
    """Submit ``data`` (signed extrinsic, ``0x``-hex) at ``url`` and wait for ``inBlock``."""
    digest = extrinsic_hash(data)
    deadline = time.monotonic() + timeout_s
    try:
        ws = websocket.create_connection(url, timeout=min(timeout_s, 30.0))
    except (OSError, websocket.WebSocketException) as exc:
        log.debug("watch connection to %s failed: %s", url, exc)
        raise ConnectionError(f"cannot open a watch on {url}: {exc}") from None
    sent = False
    try:
        request = next(_ids)
        ws.send(_request(request, "author_submitAndWatchExtrinsic", [data]))
        subscription: str | None = None
        while time.monotonic() < deadline:
            ws.settimeout(max(0.1, min(30.0, deadline - time.monotonic())))
            message = json.loads(ws.recv())
            if message.get("id") == request:
                if "error" in message:
                    text = refusal_text(message["error"])
                    if "already imported" in text.lower():
                        return Watched(digest, None)  # in the pool already: scan for it
                    raise SubmissionRejected(f"the node refused the extrinsic: {text}")
                subscription, sent = message.get("result"), True
                continue
            params = message.get("params") or {}
            if subscription is None or params.get("subscription") != subscription:
                continue
            name, block = status_of(params.get("result"))
            if name == "inblock" and block:
                with contextlib.suppress(OSError, websocket.WebSocketException):
                    ws.send(_request(next(_ids), "author_unwatchExtrinsic", [subscription]))
                return Watched(digest, block)
            if name in FAILED_STATUSES:
                raise SubmissionRejected(
                    f"the node took the extrinsic, then reported it {name}"
                    + (
                        " (another extrinsic with its nonce was included)"
                        if name == "usurped"
                        else ""
                    )
                )
        return Watched(digest, None)
    except (OSError, websocket.WebSocketException, ValueError) as exc:
        if not sent:
            raise ConnectionError(f"submission over {url} failed: {exc}") from None
        log.info("lost the watch of %s (%s); scanning blocks for it", digest, exc)
        return Watched(digest, None)
    finally:
        with contextlib.suppress(OSError, websocket.WebSocketException):
            ws.close()
