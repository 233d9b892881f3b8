"""Content store over Kubo's HTTP RPC (``/api/v0``), for a local daemon or a hosted endpoint.

Why not ipfshttpclient: its last release (0.7.0, 2021) refuses every Kubo >= 0.8 in
``connect()`` with a VersionMismatch, is unmaintained, and passes arguments urllib3 2.x
deprecates. Kubo's RPC is a small, stable HTTP API (POST ``add``, ``cat``, ``pin/add``,
``version``) that hosted providers speak too, so a thin client on ``requests`` (already a
dependency of substrate-interface) is less code to trust than a stale library, streams in
both directions, and lets us compute and verify CIDs ourselves.

Every read is verified: the bytes are re-hashed (sha256) and their CID recomputed
(:mod:`.cid`) while they stream; a mismatch raises :class:`IntegrityError` and nothing is
left behind (files are written to a temporary name and renamed only after the checks).
Nothing above :data:`MAX_IN_MEMORY` bytes is ever held in memory.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import requests

from ..config import IpfsConfig
from ..errors import IntegrityError, StorageError, StoreUnreachable
from ..retry import RetryPolicy, retry
from ..types import ContentRef, StoredContent
from .cid import ADD_PARAMS, CidBuilder

log = logging.getLogger(__name__)

MAX_IN_MEMORY = 64 * 1024 * 1024
"""Largest content :meth:`KuboStore.cat` returns as bytes; larger content must stream to a file."""
PIECE = 1024 * 1024
"""Read/write granularity for streaming."""

_TRANSIENT = (requests.ConnectionError, requests.Timeout)


class ContentStore(Protocol):
    """What the rest of DecentralML needs from a content store."""

    def add_bytes(self, data: bytes, *, pin: bool = True) -> StoredContent: ...

    def add_file(self, path: Path, *, pin: bool = True) -> StoredContent: ...

    def cat(self, ref: ContentRef) -> bytes: ...

    def fetch_to(self, ref: ContentRef, dest: Path) -> ContentRef: ...

    def pin(self, cid: str, *, timeout_s: float | None = None) -> None: ...

    def unpin(self, cid: str) -> None: ...


@dataclass(frozen=True)
class _Body:
    """A multipart/form-data body streamed from pieces, with a known length."""

    head: bytes
    pieces_factory: Any
    tail: bytes
    length: int

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        yield from self.pieces_factory()
        yield self.tail


def _multipart(name: str, size: int, pieces_factory: Any) -> tuple[_Body, str]:
    boundary = "dml" + os.urandom(12).hex()
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    body = _Body(head, pieces_factory, tail, len(head) + size + len(tail))
    return body, f"multipart/form-data; boundary={boundary}"


def _auth_header(auth: str) -> dict[str, str]:
    if not auth:
        return {}
    if auth.lower().startswith(("bearer ", "basic ")):
        return {"Authorization": auth}
    import base64

    return {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()}


class KuboStore:
    """A :class:`ContentStore` backed by a Kubo (or Kubo-compatible) RPC endpoint."""

    def __init__(
        self,
        config: IpfsConfig | None = None,
        *,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.config = config or IpfsConfig()
        self.base = self.config.api_url.rstrip("/") + "/api/v0"
        self.policy = policy or RetryPolicy(attempts=4, deadline_s=15.0)
        self._session = requests.Session()
        self._session.headers.update(_auth_header(self.config.auth))

    def __repr__(self) -> str:  # never show the auth header
        return f"KuboStore({self.config.api_url!r})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> KuboStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- HTTP ------------------------------------------------------------------------------
    def _post(
        self,
        endpoint: str,
        *,
        params: dict[str, str] | list[tuple[str, str]] | None = None,
        body_factory: Any = None,
        stream: bool = False,
        what: str,
    ) -> requests.Response:
        url = f"{self.base}/{endpoint}"

        def attempt() -> requests.Response:
            data, headers = None, {}
            if body_factory is not None:
                data, ctype = body_factory()
                headers["Content-Type"] = ctype
            return self._session.post(
                url,
                params=params,
                data=data,
                headers=headers,
                stream=stream,
                timeout=(5.0, self.config.timeout_s),
            )

        try:
            response = retry(attempt, what=what, transient=_TRANSIENT, policy=self.policy)
        except _TRANSIENT as exc:
            raise StoreUnreachable(
                f"IPFS RPC at {self.config.api_url} is unreachable ({type(exc).__name__}): "
                "start Kubo (scripts/setup-kubo start) or fix ipfs.api_url"
            ) from None
        if response.status_code != 200:
            message = _error_message(response)
            response.close()
            if response.status_code in (401, 403):
                raise StorageError(f"IPFS RPC refused {what}: not authorised ({message})")
            raise StorageError(f"IPFS {what} failed: {message}")
        return response

    def version(self) -> str:
        with self._post("version", what="version") as response:
            return str(response.json().get("Version", "?"))

    # ---- add ----------------------------------------------------------------------------------
    def _add(self, name: str, size: int, pieces_factory: Any, pin: bool) -> StoredContent:
        builder_box: list[CidBuilder] = []

        def hashing_pieces() -> Iterator[bytes]:
            builder = CidBuilder()
            builder_box[:] = [builder]
            for piece in pieces_factory():
                builder.update(piece)
                yield piece

        def body() -> tuple[_Body, str]:
            return _multipart(name, size, hashing_pieces)

        params = {**ADD_PARAMS, "pin": "true" if pin else "false", "progress": "false"}
        with self._post("add", params=params, body_factory=body, what="add") as response:
            lines = [json.loads(line) for line in response.text.splitlines() if line.strip()]
        if not lines or "Hash" not in lines[-1]:
            raise StorageError(f"IPFS add returned no CID: {response.text[:200]!r}")
        remote_cid = str(lines[-1]["Hash"])
        cid, digest, actual_size = builder_box[0].finish()
        if actual_size != size:
            raise StorageError(
                f"{name} changed while it was uploaded ({size} -> {actual_size} bytes)"
            )
        if remote_cid != cid:
            raise IntegrityError(
                f"IPFS returned CID {remote_cid} but the bytes hash to {cid}: the endpoint does "
                "not honour cid-version=1/raw-leaves/size-262144; refusing to reference it"
            )
        log.info("added %s (%d bytes)", cid, size)
        return StoredContent(ContentRef(cid=cid, digest=digest, size=size), pinned=pin)

    def add_bytes(self, data: bytes, *, pin: bool = True) -> StoredContent:
        """Add bytes; returns the verified content reference."""

        def pieces() -> Iterable[bytes]:
            return [data[i : i + PIECE] for i in range(0, len(data), PIECE)] or [b""]

        return self._add("data", len(data), pieces, pin)

    def add_file(self, path: Path, *, pin: bool = True) -> StoredContent:
        """Add a file, streaming it (constant memory whatever its size)."""
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror}") from None
        if not path.is_file():
            raise StorageError(f"{path} is not a regular file")

        def pieces() -> Iterator[bytes]:
            with path.open("rb") as handle:
                while piece := handle.read(PIECE):
                    yield piece

        return self._add(path.name, size, pieces, pin)

    # ---- read ----------------------------------------------------------------------------------
    def _stream(self, ref: ContentRef, sink: IO[bytes] | None) -> bytearray | None:
        buffer = bytearray() if sink is None else None
        builder = CidBuilder()
        with self._post("cat", params={"arg": ref.cid}, stream=True, what=f"cat {ref.cid}") as resp:
            try:
                for piece in _pieces(resp):
                    builder.update(piece)
                    if builder.size > ref.size:
                        raise IntegrityError(
                            f"{ref.cid}: more bytes than the {ref.size} the reference declares"
                        )
                    if buffer is not None:
                        buffer += piece
                    else:
                        assert sink is not None
                        sink.write(piece)
            except _TRANSIENT as exc:
                raise StoreUnreachable(f"IPFS cat {ref.cid} broke off: {exc}") from None
        cid, digest, size = builder.finish()
        if size != ref.size:
            raise IntegrityError(f"{ref.cid}: got {size} bytes, the reference declares {ref.size}")
        if digest != ref.digest:
            raise IntegrityError(
                f"{ref.cid}: sha256 of the bytes is {digest.hex()}, expected {ref.digest_hex}"
            )
        if cid != ref.cid:
            raise IntegrityError(f"the bytes fetched for {ref.cid} hash to CID {cid}")
        return buffer

    def cat(self, ref: ContentRef) -> bytes:
        """Read content into memory (at most 64 MiB), verified against ``ref``."""
        if ref.size > MAX_IN_MEMORY:
            raise StorageError(
                f"{ref.cid} is {ref.size} bytes, above the {MAX_IN_MEMORY} byte in-memory limit: "
                "use fetch_to() to stream it to a file"
            )
        data = self._stream(ref, None)
        assert data is not None
        return bytes(data)

    def fetch_to(self, ref: ContentRef, dest: Path) -> ContentRef:
        """Stream content to ``dest``; the file appears only if every check passes."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                self._stream(ref, handle)
            tmp.replace(dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return ref

    def stat(self, cid: str) -> ContentRef:
        """Fetch content by CID alone, computing digest and size (the CID is still checked)."""
        builder = CidBuilder()
        with self._post("cat", params={"arg": cid}, stream=True, what=f"cat {cid}") as resp:
            for piece in _pieces(resp):
                builder.update(piece)
        got, digest, size = builder.finish()
        if got != cid:
            raise IntegrityError(f"the bytes fetched for {cid} hash to CID {got}")
        return ContentRef(cid=cid, digest=digest, size=size)

    def pin(self, cid: str, *, timeout_s: float | None = None) -> None:
        """Fetch ``cid`` (from any swarm peer, over bitswap) and pin it here. With
        ``timeout_s`` Kubo gives up after that long (content no peer serves fails fast)."""
        params = {"arg": cid}
        if timeout_s is not None:
            params["timeout"] = f"{timeout_s:g}s"
        with self._post("pin/add", params=params, what=f"pin {cid}") as response:
            pins = response.json().get("Pins", [])
        if cid not in pins:
            log.debug("pin/add answered %s for %s", pins, cid)

    def unpin(self, cid: str) -> None:
        """Drop this node's pin of ``cid`` (its blocks go at the next garbage collection).
        Content that is not pinned here is not an error."""
        try:
            with self._post("pin/rm", params={"arg": cid}, what=f"unpin {cid}"):
                pass
        except StorageError as exc:
            if "not pinned" not in str(exc).lower():
                raise

    def sent_to_peers(self) -> dict[str, int]:
        """Bytes of blocks this node has sent to each connected peer (its bitswap ledgers)."""
        with self._post("swarm/peers", what="swarm peers") as response:
            peers = [p["Peer"] for p in response.json().get("Peers") or []]
        sent = {}
        for peer in peers:
            with self._post("bitswap/ledger", params={"arg": peer}, what="bitswap ledger") as r:
                sent[peer] = int(r.json().get("Sent", 0))
        return sent

    def is_pinned(self, cid: str) -> bool:
        try:
            with self._post("pin/ls", params={"arg": cid, "type": "recursive"}, what="pin ls") as r:
                return cid in r.json().get("Keys", {})
        except StorageError as exc:
            if "not pinned" in str(exc):
                return False
            raise


def _pieces(response: requests.Response) -> Iterator[bytes]:
    """The body in pieces of up to PIECE bytes.

    ``iter_content`` yields one piece per HTTP chunk (Kubo sends small ones), which costs a
    Python round trip per few KiB; reading the raw stream fills whole pieces.
    """
    while piece := response.raw.read(PIECE, decode_content=True):
        yield piece


def _error_message(response: requests.Response) -> str:
    try:
        body = response.json()
        if isinstance(body, dict) and "Message" in body:
            return str(body["Message"])
    except ValueError:
        pass
    return f"HTTP {response.status_code}: {response.text[:200].strip()}"
