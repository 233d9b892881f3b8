"""Secure aggregation: pairwise-masked updates whose sum anyone can unmask bit for bit.

:mod:`.crypto` holds the primitives (per-round X25519 keys, the ChaCha20 mask generator,
Shamir sharing, share boxes, fixed point); :mod:`.masking` the round's protocol objects (key
documents, masked updates, share documents and the unmasking, with the exclusion rules).
"""

from __future__ import annotations

from .crypto import MAX_WEIGHT, SecAggError, TrainerSecret, scale_bits, threshold_for
from .masking import (
    KeyDocument,
    MaskedUpdate,
    Unmasked,
    decode_masked,
    key_document,
    mask_update,
    masking_set,
    parse_key_document,
    share_document,
    unmask,
)

__all__ = [
    "MAX_WEIGHT",
    "KeyDocument",
    "MaskedUpdate",
    "SecAggError",
    "TrainerSecret",
    "Unmasked",
    "decode_masked",
    "key_document",
    "mask_update",
    "masking_set",
    "parse_key_document",
    "scale_bits",
    "share_document",
    "threshold_for",
    "unmask",
]
