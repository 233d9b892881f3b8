"""Local datasets: loading against a model's schema, and demo federations.

A trainer's data stays on its machine: :func:`load_dataset` reads it, checks it against the
:class:`ModelSpec` (schema, shape, dtype, finite values, label range) and raises
:class:`DatasetMismatch` with the reason when it does not fit. Supported layouts:

- CSV with a header: the columns named in ``spec.features`` (any order, extra columns are
  ignored) and a ``label`` column of class numbers.
- NPZ with arrays ``x`` (examples, float) and ``y`` (integer labels), optionally
  ``jurisdiction`` (a string); :func:`save_dataset` writes this layout.
- An image folder with one sub-folder per class (named ``0``, ``1``, ... or by class name, in
  sorted order), holding PNG/JPEG/GIF/BMP (decoded by TensorFlow), binary PGM/PPM images or
  ``.npy`` arrays, each of the model's ``(height, width, channels)``. 8-bit images are scaled to
  0..1 and converted to the model's channel count.

A dataset's jurisdiction is declared next to it: ``<path>.meta.json`` (or ``meta.json`` inside
an image folder) holding ``{"jurisdiction": "EU"}``; NPZ files may carry it inside.

:func:`demo_federation` builds demo trainers from datasets scikit-learn ships (no download):
``digits`` (8x8 images, a small CNN) and ``breast_cancer`` (30 features, an MLP), split non-IID
across trainers by a Dirichlet(alpha) over labels.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..codes import country_code
from ..errors import DatasetMismatch, InputError
from .models import check_inputs
from .spec import ModelSpec, TrainingPlan
from .weights import Array

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pgm", ".ppm", ".bmp", ".gif")
MAX_EXAMPLES = 10_000_000
DEMOS = ("digits", "breast_cancer")


@dataclass(frozen=True)
class Dataset:
    """Examples ``x`` (float32, ``(n, *input_shape)``) and labels ``y`` (int32, ``(n,)``)."""

    x: Array
    y: Array
    jurisdiction: str | None = None

    def __len__(self) -> int:
        return int(self.x.shape[0])


def load_dataset(path: str | os.PathLike[str], spec: ModelSpec) -> Dataset:
    """Read a local dataset and check it against ``spec``; :class:`DatasetMismatch` if unfit."""
    p = Path(path)
    if not p.exists():
        raise DatasetMismatch(f"no dataset at {p}: give a CSV file, an NPZ file or an image folder")
    jurisdiction = _sidecar_jurisdiction(p)
    if p.is_dir():
        x, y = _load_image_folder(p, spec)
    elif p.suffix.lower() == ".csv":
        x, y = _load_csv(p, spec)
    elif p.suffix.lower() == ".npz":
        x, y, inner = _load_npz(p)
        jurisdiction = jurisdiction or _jurisdiction(inner, str(p))
    else:
        raise DatasetMismatch(f"unknown dataset format {p.suffix!r}: use .csv, .npz or a folder")
    dataset = _checked(spec, x, y, jurisdiction)
    log.debug("loaded %d examples from %s", len(dataset), p)
    return dataset


def save_dataset(ds: Dataset, path: str | os.PathLike[str]) -> None:
    """Write ``ds`` as NPZ (``x``, ``y`` and ``jurisdiction``), never pickled."""
    arrays: dict[str, Array] = {
        "x": np.asarray(ds.x, dtype=np.float32),
        "y": np.asarray(ds.y, dtype=np.int32),
    }
    if ds.jurisdiction is not None:
        arrays["jurisdiction"] = np.array(ds.jurisdiction)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def demo_federation(
    name: str, trainers: int, alpha: float, seed: int, *, kind: str | None = None
) -> tuple[list[Dataset], Dataset, ModelSpec]:
    """Demo trainers' datasets, a held-out test set and a sensible spec.

    ``digits``: sklearn's 1,797 8x8 digit images (pixel values 0..16 scaled to 0..1), a small
    CNN (``kind="mlp"`` for an MLP on the 64 pixels). ``breast_cancer``: 569 cases with 30
    features standardised with the public dataset's mean and deviation, an MLP. A stratified
    20 % is held out as the test set; the rest is split by Dirichlet(``alpha``) over labels
    (small alpha: each trainer sees mostly a few classes), every trainer getting at least
    ``min(10, n // trainers)`` examples.
    """
    if trainers < 1:
        raise DatasetMismatch(f"a federation needs at least one trainer, got {trainers}")
    if not alpha > 0:
        raise DatasetMismatch(f"Dirichlet alpha must be positive, got {alpha}")
    from sklearn import datasets  # type: ignore[import-untyped]  # lazy: scikit-learn is heavy to import

    if name == "digits":
        digits = datasets.load_digits()
        x = (digits.data / 16.0).astype(np.float32)
        y = digits.target.astype(np.int32)
        # Measured by bench/fl_quality.py (last-5 gap to centralized, seeds 0 / 1): server
        # momentum 0.7 (2.65 / 1.58 points without, 1.01 / 0.39 with 2 local epochs; 0.5,
        # 0.6, 0.65, 0.75 and 0.8 worse) and 3 local epochs (0.73 / 0.90; see
        # docs/federated-learning.md for the rest of the sweep).
        plan = TrainingPlan(local_epochs=3, batch_size=16, learning_rate=0.1, server_momentum=0.7)
        if (kind or "cnn") == "cnn":
            spec = ModelSpec("cnn", (8, 8, 1), 10, hidden=(16, 32), plan=plan)
            x = x.reshape(-1, 8, 8, 1)
        else:
            spec = ModelSpec("mlp", (64,), 10, hidden=(64,), plan=plan)
    elif name == "breast_cancer":
        bc = datasets.load_breast_cancer()
        x = bc.data.astype(np.float64)
        x = ((x - x.mean(axis=0)) / x.std(axis=0)).astype(np.float32)
        y = bc.target.astype(np.int32)
        features = tuple(str(f).replace(" ", "_") for f in bc.feature_names)
        plan = TrainingPlan(local_epochs=2, batch_size=16, learning_rate=0.05)
        spec = ModelSpec("mlp", (x.shape[1],), 2, hidden=(32,), features=features, plan=plan)
    else:
        raise DatasetMismatch(f"unknown demo {name!r}: use one of {', '.join(DEMOS)}")
    rng = np.random.default_rng(seed)
    train_idx, test_idx = _stratified_split(y, 0.2, rng)
    parts = dirichlet_split(y[train_idx], trainers, alpha, rng)
    shards = [Dataset(x[train_idx[part]], y[train_idx[part]], jurisdiction=None) for part in parts]
    return shards, Dataset(x[test_idx], y[test_idx]), spec


def dirichlet_split(y: Array, parts: int, alpha: float, rng: np.random.Generator) -> list[Array]:
    """Indices of ``y`` for each part: per class, shares drawn from Dirichlet(alpha)."""
    n = y.shape[0]
    minimum = min(10, n // parts)
    classes = np.unique(y)
    for _ in range(1000):
        buckets: list[list[int]] = [[] for _ in range(parts)]
        for c in classes:
            idx = np.flatnonzero(y == c)
            rng.shuffle(idx)
            shares = rng.dirichlet(np.full(parts, alpha))
            cuts = (np.cumsum(shares) * len(idx)).astype(int)[:-1]
            for bucket, chunk in zip(buckets, np.split(idx, cuts), strict=True):
                bucket.extend(int(i) for i in chunk)
        if min(len(b) for b in buckets) >= minimum:
            return [np.sort(np.array(b, dtype=np.int64)) for b in buckets]
    raise DatasetMismatch(
        f"could not split {n} examples into {parts} parts of at least {minimum}; "
        "use fewer trainers or a larger alpha"
    )


# ---- internals --------------------------------------------------------------------------
def _checked(spec: ModelSpec, x: Array, y: Array, jurisdiction: str | None) -> Dataset:
    if x.dtype.kind not in "fiu" or x.dtype == np.bool_:
        raise DatasetMismatch(f"examples must be numbers, got dtype {x.dtype}")
    if x.ndim == 0 or x.shape[0] == 0:
        raise DatasetMismatch("the dataset has no examples")
    if y.dtype.kind not in "iu":
        if y.dtype.kind == "f" and y.size and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
            y = y.astype(np.int64)
        else:
            raise DatasetMismatch(f"labels must be whole class numbers, got dtype {y.dtype}")
    if x.shape[0] > MAX_EXAMPLES:
        raise DatasetMismatch(f"{x.shape[0]} examples; at most {MAX_EXAMPLES}")
    xf = x.astype(np.float32)
    if not np.isfinite(xf).all():
        raise DatasetMismatch("the examples hold NaN or Inf values (or values beyond float32)")
    check_inputs(spec, xf, y)
    return Dataset(xf, y.astype(np.int32), jurisdiction)


def _sidecar_jurisdiction(p: Path) -> str | None:
    meta = p / "meta.json" if p.is_dir() else p.with_name(p.name + ".meta.json")
    if not meta.is_file():
        return None
    try:
        raw = json.loads(meta.read_text())
    except (OSError, ValueError) as exc:
        raise DatasetMismatch(f"{meta} is not JSON: {exc}") from None
    value = raw.get("jurisdiction") if isinstance(raw, dict) else None
    return _jurisdiction(value, str(meta))


def _jurisdiction(value: object, where: str) -> str | None:
    """A declared jurisdiction as its ISO 3166-1 code (``None`` if none was declared)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise DatasetMismatch(f"{where}: jurisdiction must be a country code such as DE")
    try:
        return country_code(value)
    except InputError as exc:
        raise DatasetMismatch(f"{where}: {exc}") from None


def _load_csv(p: Path, spec: ModelSpec) -> tuple[Array, Array]:
    if spec.kind != "mlp" or not spec.features:
        raise DatasetMismatch(
            "a CSV dataset needs a tabular model whose spec names its feature columns"
        )
    try:
        with open(p, newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise DatasetMismatch(f"{p} is empty")
            header = [h.strip() for h in header]
            missing = [f for f in (*spec.features, "label") if f not in header]
            if missing:
                raise DatasetMismatch(f"{p} lacks the columns {', '.join(missing)}")
            cols = [header.index(f) for f in spec.features]
            label_col = header.index("label")
            rows_x: list[list[float]] = []
            labels: list[float] = []
            for line, row in enumerate(reader, start=2):
                if not row:
                    continue
                if len(row) != len(header):
                    raise DatasetMismatch(
                        f"{p}:{line} has {len(row)} fields, the header {len(header)}"
                    )
                try:
                    rows_x.append([float(row[c]) for c in cols])
                    labels.append(float(row[label_col]))
                except ValueError as exc:
                    raise DatasetMismatch(f"{p}:{line}: {exc}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetMismatch(f"cannot read {p}: {exc}") from None
    x = np.array(rows_x, dtype=np.float64).reshape(len(rows_x), len(spec.features))
    y = np.array(labels, dtype=np.float64)
    return x, y


def _load_npz(p: Path) -> tuple[Array, Array, str | None]:
    try:
        with np.load(p, allow_pickle=False) as npz:
            if "x" not in npz.files or "y" not in npz.files:
                raise DatasetMismatch(f"{p} must hold arrays 'x' and 'y' (has {npz.files})")
            x, y = np.asarray(npz["x"]), np.asarray(npz["y"])
            jurisdiction = None
            if "jurisdiction" in npz.files:
                j = npz["jurisdiction"]
                if j.dtype.kind != "U" or j.ndim != 0:
                    raise DatasetMismatch(f"{p}: 'jurisdiction' must be a string")
                jurisdiction = str(j) or None
    except DatasetMismatch:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise DatasetMismatch(f"cannot read {p} as npz: {exc}") from None
    return x, y, jurisdiction


def _load_image_folder(p: Path, spec: ModelSpec) -> tuple[Array, Array]:
    if spec.kind != "cnn":
        raise DatasetMismatch("an image folder needs an image model (kind cnn)")
    classes = sorted(d for d in p.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise DatasetMismatch(f"{p} has no class sub-folders")
    if all(d.name.isdigit() for d in classes):
        labels = {d: int(d.name) for d in classes}
    else:
        labels = {d: i for i, d in enumerate(classes)}
    if max(labels.values()) >= spec.num_classes:
        raise DatasetMismatch(
            f"{p} has classes up to {max(labels.values())}; the model has {spec.num_classes}"
        )
    images: list[Array] = []
    ys: list[int] = []
    for d in classes:
        for f in sorted(d.iterdir()):
            if f.name.startswith(".") or not f.is_file():
                continue
            images.append(_read_image(f, spec.input_shape))
            ys.append(labels[d])
    if not images:
        raise DatasetMismatch(f"{p} holds no images")
    return np.stack(images), np.array(ys, dtype=np.int64)


def _read_image(f: Path, shape: tuple[int, ...]) -> Array:
    suffix = f.suffix.lower()
    if suffix == ".npy":
        try:
            array = np.load(f, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DatasetMismatch(f"cannot read {f}: {exc}") from None
    elif suffix in IMAGE_SUFFIXES:
        array = _decode_image(f, shape[2])
    else:
        raise DatasetMismatch(f"{f}: not an image (use {', '.join(IMAGE_SUFFIXES)} or .npy)")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    if tuple(array.shape) != shape:
        raise DatasetMismatch(f"{f} is {tuple(array.shape)}, the model takes {shape}")
    out: Array = array
    return out


def _decode_image(f: Path, channels: int) -> Array:
    """PGM/PPM natively; PNG, JPEG, GIF and BMP with TensorFlow's decoders (a trainer imports
    TensorFlow to train anyway), converted to the model's channel count."""
    if f.suffix.lower() in (".pgm", ".ppm"):
        image = _read_netpbm(f)
    else:
        from . import tff_client  # lazy: imports TensorFlow

        tf, _ = tff_client.modules()
        try:
            decoded = tf.io.decode_image(f.read_bytes(), channels=3, expand_animations=False)
        except (tf.errors.OpError, ValueError) as exc:
            raise DatasetMismatch(f"cannot decode {f}: {exc}") from None
        image = np.asarray(decoded.numpy(), dtype=np.uint8)
    if image.shape[2] == channels:
        return image
    if channels == 1:  # ITU-R 601 luma, as Pillow's convert("L")
        luma = image[:, :, :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        out: Array = np.round(luma).astype(np.uint8)[:, :, None]
        return out
    if channels == 3 and image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    raise DatasetMismatch(f"{f} has {image.shape[2]} channels, the model takes {channels}")


def _read_netpbm(f: Path) -> Array:
    """Binary PGM (P5) / PPM (P6) with 8-bit samples."""
    data = f.read_bytes()
    stream = io.BytesIO(data)
    tokens: list[bytes] = []
    while len(tokens) < 4:
        line = stream.readline()
        if not line:
            raise DatasetMismatch(f"{f}: truncated PGM/PPM header")
        tokens += line.split(b"#", 1)[0].split()
    magic, width, height, maxval = tokens[0], *tokens[1:4]
    if magic not in (b"P5", b"P6") or int(maxval) != 255:
        raise DatasetMismatch(f"{f}: only binary 8-bit PGM (P5) or PPM (P6) is read")
    ch = 1 if magic == b"P5" else 3
    w, h = int(width), int(height)
    body = stream.read()
    if len(body) != w * h * ch:
        raise DatasetMismatch(f"{f}: {len(body)} pixel bytes, the header says {w * h * ch}")
    return np.frombuffer(body, dtype=np.uint8).reshape(h, w, ch).copy()


def _stratified_split(y: Array, share: float, rng: np.random.Generator) -> tuple[Array, Array]:
    train: list[Array] = []
    test: list[Array] = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        k = max(1, math.floor(len(idx) * share))
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
