"""Local CID computation, identical to Kubo's ``ipfs add`` with the store's parameters.

The store always adds with ``--cid-version=1 --raw-leaves --chunker=size-262144
--hash=sha2-256`` and Kubo's default balanced layout (at most 174 links per node). This module
rebuilds that UnixFS DAG from the bytes alone, in one streaming pass and with memory bounded by
the tree's depth, so a reader can check that the bytes it got are the bytes the CID names.

Encodings (dag-pb, UnixFS) follow boxo: PBNode = Links (field 2) then Data (field 1);
PBLink = Hash (1), Name (2, always present, empty), Tsize (3); UnixFS Data = Type (1, File=2),
filesize (3), blocksizes (4, one per child, unpacked).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

CHUNK_SIZE = 256 * 1024
MAX_LINKS = 174
CODEC_RAW = 0x55
CODEC_DAG_PB = 0x70
MH_SHA2_256 = 0x12

#: Parameters of /api/v0/add that produce the CIDs this module computes.
ADD_PARAMS: dict[str, str] = {
    "cid-version": "1",
    "raw-leaves": "true",
    "chunker": f"size-{CHUNK_SIZE}",
    "hash": "sha2-256",
}


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def cid_v1(codec: int, digest: bytes) -> bytes:
    """Binary CIDv1 with a sha2-256 multihash."""
    return varint(1) + varint(codec) + bytes([MH_SHA2_256, len(digest)]) + digest


def cid_to_str(cid: bytes) -> str:
    """Multibase base32 (lower case, no padding), the form Kubo prints for CIDv1."""
    return "b" + base64.b32encode(cid).decode().lower().rstrip("=")


def cid_from_str(text: str) -> bytes:
    if not text.startswith("b"):
        raise ValueError(f"not a base32 CIDv1: {text!r}")
    body = text[1:].upper()
    return base64.b32decode(body + "=" * (-len(body) % 8))


def _field_bytes(num: int, payload: bytes) -> bytes:
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def _field_varint(num: int, value: int) -> bytes:
    return varint(num << 3) + varint(value)


@dataclass
class _Child:
    cid: bytes
    tsize: int
    """Cumulative size of the child's serialized DAG (the link's Tsize)."""
    filesize: int


@dataclass
class _Node:
    children: list[_Child] = field(default_factory=list)

    def commit(self) -> _Child:
        links = b"".join(
            _field_bytes(
                2,
                _field_bytes(1, c.cid) + _field_bytes(2, b"") + _field_varint(3, c.tsize),
            )
            for c in self.children
        )
        filesize = sum(c.filesize for c in self.children)
        data = _field_varint(1, 2) + _field_varint(3, filesize)
        data += b"".join(_field_varint(4, c.filesize) for c in self.children)
        block = links + _field_bytes(1, data)
        cid = cid_v1(CODEC_DAG_PB, hashlib.sha256(block).digest())
        return _Child(cid, len(block) + sum(c.tsize for c in self.children), filesize)


def _leaf(chunk: bytes) -> _Child:
    return _Child(cid_v1(CODEC_RAW, hashlib.sha256(chunk).digest()), len(chunk), len(chunk))


class CidBuilder:
    """Feed bytes in pieces of any size; :meth:`finish` returns the CID string, the sha256
    digest and the size. Memory: one pending leaf plus at most 174 links per tree level.

    Push-driven equivalent of boxo's balanced layout (importer/balanced/builder.go): full
    subtrees are committed as soon as they fill; at the end the partial nodes are committed
    bottom-up, and a lone full subtree (or a lone leaf) is the root itself.
    """

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._size = 0
        self._buf = bytearray()
        self._levels: list[list[_Child]] = [[]]

    @property
    def size(self) -> int:
        return self._size

    def update(self, piece: bytes) -> None:
        self._sha.update(piece)
        self._size += len(piece)
        self._buf += piece
        while len(self._buf) > CHUNK_SIZE:
            # Keep the last chunk pending: only finish() knows it is the last.
            self._push(bytes(self._buf[:CHUNK_SIZE]))
            del self._buf[:CHUNK_SIZE]

    def _push(self, chunk: bytes) -> None:
        self._levels[0].append(_leaf(chunk))
        level = 0
        while len(self._levels[level]) == MAX_LINKS:
            full = _Node(self._levels[level]).commit()
            self._levels[level] = []
            if level + 1 == len(self._levels):
                self._levels.append([])
            self._levels[level + 1].append(full)
            level += 1

    def finish(self) -> tuple[str, bytes, int]:
        if self._buf or self._size == 0:
            self._push(bytes(self._buf))
            self._buf.clear()
        carry: list[_Child] = []
        top = max(i for i, lv in enumerate(self._levels) if lv or i == 0)
        root: _Child | None = None
        for depth in range(top + 1):
            children = self._levels[depth] + carry
            if depth == top and len(children) == 1:
                root = children[0]
                break
            carry = [_Node(children).commit()] if children else []
        if root is None:
            root = carry[0]
        return cid_to_str(root.cid), self._sha.digest(), self._size


def compute_cid(pieces: Iterable[bytes]) -> tuple[str, bytes, int]:
    """CID, sha256 and size of the concatenated pieces."""
    builder = CidBuilder()
    for piece in pieces:
        builder.update(piece)
    return builder.finish()
