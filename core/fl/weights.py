"""Model weights and updates on the wire: deterministic npz with a manifest, never pickle.

A weights file is a zip archive (stored, not compressed) holding ``manifest.json`` first and
then one ``.npy`` member per tensor, in manifest order. Every member has the same fixed
timestamp and attributes, so the same arrays always give the same bytes, and so the same
sha256 digest and IPFS CID; any verifier that recomputes an aggregate can compare digests.
``numpy.load`` reads the tensors too (the manifest is an extra member it ignores).

Reading never unpickles (``allow_pickle=False``) and rejects, with :class:`UpdateRejected`
and a one-line reason: a malformed archive, a manifest that does not match the members,
dtypes other than float32, NaN or Inf values, and names or shapes other than expected.
"""

from __future__ import annotations

import io
import json
import re
import struct
import weakref
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import UpdateRejected

Array = NDArray[Any]
"""A numpy array (float32 for weights)."""

Weights = dict[str, Array]
"""Named float32 tensors in a fixed (insertion) order."""

FORMAT = "decentralml-weights/1"
MANIFEST_MEMBER = "manifest.json"
DTYPE = "float32"
MAX_TENSORS = 1024
MAX_TOTAL_BYTES = 1 << 31
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,127}$")
_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str = DTYPE

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass(frozen=True)
class Manifest:
    """Names, shapes and dtypes of a model's tensors, in order."""

    tensors: tuple[TensorSpec, ...]

    @property
    def parameters(self) -> int:
        return sum(t.size for t in self.tensors)

    @property
    def nbytes(self) -> int:
        return sum(t.size * np.dtype(t.dtype).itemsize for t in self.tensors)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "tensors": [
                {"name": t.name, "shape": list(t.shape), "dtype": t.dtype} for t in self.tensors
            ],
        }

    def check(self, weights: Weights) -> None:
        """Raise :class:`UpdateRejected` unless ``weights`` has exactly these tensors."""
        got = manifest_of(weights, validate=False)
        if got == self:
            return
        want_names = [t.name for t in self.tensors]
        got_names = [t.name for t in got.tensors]
        if want_names != got_names:
            raise UpdateRejected(f"tensor names {got_names} do not match the model's {want_names}")
        for want, have in zip(self.tensors, got.tensors, strict=True):
            if want.shape != have.shape:
                raise UpdateRejected(
                    f"tensor {want.name} has shape {have.shape}, the model needs {want.shape}"
                )
            if want.dtype != have.dtype:
                raise UpdateRejected(
                    f"tensor {want.name} has dtype {have.dtype}, the model needs {want.dtype}"
                )


@dataclass(frozen=True)
class UpdateOrigin:
    """Whose update a file is: written into its manifest by the trainer, so that bytes
    re-submitted under another account or in another round are caught by the aggregator."""

    task: int
    round: int
    trainer: str

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "round": self.round, "trainer": self.trainer}


def manifest_of(weights: Weights, *, validate: bool = True) -> Manifest:
    """The manifest of ``weights`` (checking names and dtypes unless ``validate`` is off)."""
    tensors = []
    for name, array in weights.items():
        if validate:
            _check_name(name)
        tensors.append(TensorSpec(name, tuple(int(d) for d in array.shape), array.dtype.name))
    return Manifest(tuple(tensors))


def check_finite(weights: Weights) -> None:
    for name, array in weights.items():
        if array.dtype.name != DTYPE:
            raise UpdateRejected(f"tensor {name} has dtype {array.dtype.name}; only float32")
        if id(array) in _KNOWN_FINITE:
            continue
        if not all_finite(array):
            raise UpdateRejected(f"tensor {name} holds NaN or Inf values")
        _remember_finite(array)


# Arrays already found finite that can never change: read-only views into immutable bytes (what
# decode_weights returns). The aggregator checks each decoded update again; this spares it the
# second pass over 4 MB per update. An id leaves the set when its array is collected, before
# the id can be reused.
_KNOWN_FINITE: set[int] = set()


def _remember_finite(array: Array) -> None:
    if array.flags.writeable or id(array) in _KNOWN_FINITE:
        return
    root: Any = array
    while isinstance(root, np.ndarray):
        root = root.base
    if isinstance(root, memoryview) and root.readonly:
        root = root.obj
    if isinstance(root, bytes):
        key = id(array)
        _KNOWN_FINITE.add(key)
        weakref.finalize(array, _KNOWN_FINITE.discard, key)


def all_finite(array: Array) -> bool:
    """Whether every value of a float array is finite, without a boolean copy of it.

    A finite sum proves it: a NaN or an infinity anywhere makes the sum NaN or infinite (and
    inf - inf is NaN), so only a sum that is not finite, which finite values can also give by
    overflowing, needs the elementwise check."""
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.add.reduce(array, axis=None)
    return bool(np.isfinite(total)) or bool(np.isfinite(array).all())


def encode_weights(weights: Weights, origin: UpdateOrigin | None = None) -> bytes:
    """Deterministic npz bytes: the same arrays (names, order, values) and origin give the same
    bytes. An update carries its ``origin`` (task, round, trainer) in the manifest."""
    if not weights:
        raise UpdateRejected("no tensors to encode")
    if len(weights) > MAX_TENSORS:
        raise UpdateRejected(f"{len(weights)} tensors; at most {MAX_TENSORS}")
    manifest = manifest_of(weights)
    check_finite(weights)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        _write_member(zf, MANIFEST_MEMBER, _manifest_bytes(manifest, origin))
        for name, array in weights.items():
            member = io.BytesIO()
            np.lib.format.write_array(  # type: ignore[no-untyped-call]
                member,
                np.ascontiguousarray(array, dtype="<f4"),
                version=(1, 0),
                allow_pickle=False,
            )
            _write_member(zf, f"{name}.npy", member.getvalue())
    return buf.getvalue()


def decode_weights(data: bytes, expect: Manifest | None = None) -> Weights:
    """Read a weights file; :class:`UpdateRejected` with the reason if it is not acceptable.

    The arrays are read-only views into ``data`` (no copy); use :func:`copy_weights` to get
    writable ones."""
    if len(data) > MAX_TOTAL_BYTES:
        raise UpdateRejected(f"weights file is {len(data)} bytes; at most {MAX_TOTAL_BYTES}")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise UpdateRejected(f"not a weights file (npz): {exc}") from None
    with zf:
        infos = zf.infolist()
        if not infos or infos[0].filename != MANIFEST_MEMBER:
            raise UpdateRejected(f"weights file does not start with {MANIFEST_MEMBER}")
        if len(infos) > MAX_TENSORS + 1:
            raise UpdateRejected(f"weights file has {len(infos) - 1} tensors; max {MAX_TENSORS}")
        if sum(i.file_size for i in infos) > MAX_TOTAL_BYTES:
            raise UpdateRejected("weights file expands beyond the size limit")
        try:
            manifest = _parse_manifest(zf.read(MANIFEST_MEMBER))
            members = [i.filename for i in infos[1:]]
            want = [f"{t.name}.npy" for t in manifest.tensors]
            if members != want:
                raise UpdateRejected(
                    f"weights file members {members} do not match its manifest {want}"
                )
            weights: Weights = {}
            for spec, info in zip(manifest.tensors, infos[1:], strict=True):
                array = _read_member(data, zf, info)
                if array.dtype != np.dtype("<f4"):
                    raise UpdateRejected(
                        f"tensor {spec.name} has dtype {array.dtype}; only little-endian float32"
                    )
                if tuple(array.shape) != spec.shape:
                    raise UpdateRejected(
                        f"tensor {spec.name} has shape {array.shape}, its manifest says "
                        f"{spec.shape}"
                    )
                weights[spec.name] = array
        except UpdateRejected:
            raise
        except (zipfile.BadZipFile, ValueError, OSError, KeyError, EOFError, struct.error) as exc:
            raise UpdateRejected(f"malformed weights file: {exc}") from None
    check_finite(weights)
    if expect is not None:
        expect.check(weights)
    return weights


def copy_weights(weights: Weights) -> Weights:
    return {k: np.array(v, dtype=np.float32, copy=True) for k, v in weights.items()}


def global_norm(weights: Weights) -> float:
    """The L2 norm of all tensors together (float64 accumulation)."""
    total = 0.0
    for array in weights.values():
        squares = np.multiply(array, array, dtype=np.float64)
        total += float(np.add.reduce(squares, axis=None))  # pairwise: machine-independent
    return float(np.sqrt(total))


# ---- internals --------------------------------------------------------------------------
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")


def _read_member(data: bytes, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Array:
    """A member's array. Stored members (what encode_weights writes) are parsed in place from
    ``data`` (a read-only view, no copy; integrity comes from the content address, so the zip
    CRC is not recomputed); other members go through zipfile. Never unpickles."""
    if info.compress_type != zipfile.ZIP_STORED:
        with zf.open(info) as fh:
            array: Array = np.lib.format.read_array(fh, allow_pickle=False)  # type: ignore[no-untyped-call]
        return array
    start = info.header_offset
    header = data[start : start + _LOCAL_HEADER.size]
    if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        raise UpdateRejected(f"malformed weights file: bad local header for {info.filename}")
    fields = _LOCAL_HEADER.unpack(header)
    offset = start + _LOCAL_HEADER.size + fields[-2] + fields[-1]
    end = offset + info.file_size
    if end > len(data):
        raise UpdateRejected(f"malformed weights file: {info.filename} is truncated")
    fh = io.BytesIO(data[offset : min(end, offset + 65536)])
    version = np.lib.format.read_magic(fh)  # type: ignore[no-untyped-call]
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)  # type: ignore[no-untyped-call]
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)  # type: ignore[no-untyped-call]
    else:
        raise UpdateRejected(f"unsupported .npy version {version} for {info.filename}")
    if dtype.hasobject:
        raise UpdateRejected(f"{info.filename} holds Python objects; pickle is never loaded")
    count = int(np.prod(shape, dtype=np.int64))
    body = offset + fh.tell()
    if body + count * dtype.itemsize != end:
        raise UpdateRejected(f"malformed weights file: {info.filename} has the wrong length")
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=body)
    out: Array = flat.reshape(shape, order="F" if fortran else "C")
    return out


def _check_name(name: str) -> None:
    if (
        not isinstance(name, str)
        or not _NAME_RE.match(name)
        or ".." in name
        or name.endswith("/")
        or name == "manifest.json"
    ):
        raise UpdateRejected(f"bad tensor name {name!r} (letters, digits, _ . / -, 128 at most)")


def _write_member(zf: zipfile.ZipFile, name: str, payload: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    info.create_system = 3
    zf.writestr(info, payload)


def _manifest_bytes(manifest: Manifest, origin: UpdateOrigin | None = None) -> bytes:
    raw = manifest.to_json()
    if origin is not None:
        raw["origin"] = origin.to_json()
    return json.dumps(raw, sort_keys=True, separators=(",", ":")).encode()


def read_origin(data: bytes) -> UpdateOrigin | None:
    """The origin recorded in a weights file's manifest (None when it has none). Raises
    :class:`UpdateRejected` for a malformed file or origin."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if not infos or infos[0].filename != MANIFEST_MEMBER:
                raise UpdateRejected(f"weights file does not start with {MANIFEST_MEMBER}")
            if infos[0].file_size > 1 << 20:
                raise UpdateRejected("weights manifest is larger than 1 MiB")
            text = zf.read(MANIFEST_MEMBER)
    except (zipfile.BadZipFile, ValueError, OSError, KeyError, EOFError) as exc:
        raise UpdateRejected(f"not a weights file (npz): {exc}") from None
    try:
        raw = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise UpdateRejected("weights manifest is not JSON") from None
    origin = raw.get("origin") if isinstance(raw, dict) else None
    if origin is None:
        return None
    if (
        not isinstance(origin, dict)
        or not all(isinstance(origin.get(k), int) for k in ("task", "round"))
        or not isinstance(origin.get("trainer"), str)
    ):
        raise UpdateRejected(f"weights manifest has a malformed origin {origin!r}")
    return UpdateOrigin(int(origin["task"]), int(origin["round"]), str(origin["trainer"]))


def _parse_manifest(data: bytes) -> Manifest:
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise UpdateRejected("weights manifest is not JSON") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise UpdateRejected(f"weights manifest format is not {FORMAT}")
    tensors_raw = raw.get("tensors")
    if not isinstance(tensors_raw, list) or not tensors_raw:
        raise UpdateRejected("weights manifest lists no tensors")
    tensors = []
    seen: set[str] = set()
    for item in tensors_raw:
        if not isinstance(item, dict):
            raise UpdateRejected("weights manifest entries must be objects")
        name, shape, dtype = item.get("name"), item.get("shape"), item.get("dtype")
        if not isinstance(name, str):
            raise UpdateRejected("weights manifest entry without a name")
        _check_name(name)
        if name in seen:
            raise UpdateRejected(f"weights manifest repeats tensor {name}")
        seen.add(name)
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise UpdateRejected(f"weights manifest gives tensor {name} a bad shape {shape!r}")
        if dtype != DTYPE:
            raise UpdateRejected(f"weights manifest gives {name} dtype {dtype!r}; only float32")
        tensors.append(TensorSpec(name, tuple(shape), DTYPE))
    return Manifest(tuple(tensors))
