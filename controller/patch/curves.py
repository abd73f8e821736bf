"""L4 response curves from a 0..1 attribute value to a 0..1 channel level."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from controller.show.profile import Curve

__all__ = ["apply_curve", "merge16", "split16"]

F32 = NDArray[np.float32]


def apply_curve(curve: Curve, v: F32, gamma: float = 2.2) -> F32:
    """Map levels through `curve`; monotone, 0 -> 0 and 1 -> 1 for every curve."""
    if curve is Curve.LINEAR:
        return v
    if curve is Curve.SQUARE:
        return v * v
    if curve is Curve.INVERSE_SQUARE:
        w = 1.0 - v
        return np.asarray(1.0 - w * w, dtype=np.float32)
    if curve is Curve.S_CURVE:
        return np.asarray(v * v * (3.0 - 2.0 * v), dtype=np.float32)
    return np.asarray(np.power(v, np.float32(gamma)), dtype=np.float32)


def split16(value: NDArray[np.integer]) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """16-bit values -> (coarse, fine) bytes (MSB first, as DMX 16-bit channels are sent)."""
    v = np.asarray(value, dtype=np.uint32)
    return (v >> 8).astype(np.uint8), (v & 0xFF).astype(np.uint8)


def merge16(coarse: NDArray[np.uint8], fine: NDArray[np.uint8]) -> NDArray[np.uint16]:
    return ((coarse.astype(np.uint16) << 8) | fine.astype(np.uint16)).astype(np.uint16)
