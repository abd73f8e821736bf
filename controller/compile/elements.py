"""L2 the venue's element table (one row per light) and target selection.

Elements are laid out fixture by fixture in rig order, cells in order within a fixture,
so a sorted index array is also "fixture order, then cell order" (what chases follow).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from controller.show.timeline import Target
from controller.show.twin import Twin

__all__ = ["ElementTable", "build_elements", "rotation_matrix", "select"]

F32 = NDArray[np.float32]
I32 = NDArray[np.int32]


def rotation_matrix(yaw: float, pitch: float, roll: float) -> NDArray[np.float64]:
    """Body -> venue rotation. Yaw is a compass turn (clockwise seen from above)."""
    y, p, r = (math.radians(a) for a in (-yaw, pitch, roll))
    rz = np.array([[math.cos(y), -math.sin(y), 0], [math.sin(y), math.cos(y), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    ry = np.array([[math.cos(r), 0, math.sin(r)], [0, 1, 0], [-math.sin(r), 0, math.cos(r)]])
    out: NDArray[np.float64] = rz @ rx @ ry
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ElementTable:
    n: int
    positions: F32  # (n, 3)
    fixture: I32  # (n,) fixture index in twin.fixtures
    cell: I32  # (n,) cell index within its fixture (0 for plain fixtures)
    first: I32  # (n_fixtures,) first element of each fixture
    count: I32  # (n_fixtures,) elements of each fixture
    rotations: F32  # (n_fixtures, 3, 3)
    pan_range: F32  # (n_fixtures,)
    tilt_range: F32  # (n_fixtures,)


def build_elements(twin: Twin) -> ElementTable:
    counts = np.array([f.n_elements for f in twin.fixtures], dtype=np.int32)
    first = np.zeros(len(counts), dtype=np.int32)
    if len(counts):
        first[1:] = np.cumsum(counts)[:-1]
    n = int(counts.sum())
    positions = (
        np.concatenate([f.positions for f in twin.fixtures]).astype(np.float32)
        if twin.fixtures
        else np.zeros((0, 3), np.float32)
    )
    fixture = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    cell = (np.arange(n, dtype=np.int32) - np.repeat(first, counts)).astype(np.int32)
    rotations = np.array(
        [
            rotation_matrix(f.orientation.yaw, f.orientation.pitch, f.orientation.roll)
            for f in twin.fixtures
        ],
        dtype=np.float32,
    ).reshape(len(counts), 3, 3)
    return ElementTable(
        n=n,
        positions=positions,
        fixture=fixture,
        cell=cell,
        first=first,
        count=counts,
        rotations=rotations,
        pan_range=np.array([f.profile.pan_range_deg for f in twin.fixtures], np.float32),
        tilt_range=np.array([f.profile.tilt_range_deg for f in twin.fixtures], np.float32),
    )


def _names(value: str | list[str] | None) -> set[str] | None:
    if value is None:
        return None
    return {value} if isinstance(value, str) else set(value)


def _fixture_mask(target: Target, twin: Twin) -> NDArray[np.bool_]:
    mask = np.ones(len(twin.fixtures), dtype=np.bool_)
    fixtures = twin.fixtures
    if (wanted := _names(target.group)) is not None:
        mask &= np.array([bool(wanted.intersection(f.groups)) for f in fixtures], dtype=np.bool_)
    if (wanted := _names(target.tag)) is not None:
        mask &= np.array([bool(wanted.intersection(f.tags)) for f in fixtures], dtype=np.bool_)
    if (wanted := _names(target.building)) is not None:
        mask &= np.array([f.building in wanted for f in fixtures], dtype=np.bool_)
    if (wanted := _names(target.fixtures)) is not None:
        mask &= np.array([f.id in wanted for f in fixtures], dtype=np.bool_)
    return mask


def _element_mask(target: Target, twin: Twin, table: ElementTable) -> NDArray[np.bool_]:
    mask = np.repeat(_fixture_mask(target, twin), table.count)
    w = target.within
    if w is not None:
        xy = table.positions[:, :2]
        if w.center is not None and w.radius is not None:
            d2 = ((xy - np.asarray(w.center, np.float32)) ** 2).sum(axis=1)
            mask &= d2 <= w.radius**2
        elif w.min is not None and w.max is not None:
            lo, hi = np.asarray(w.min, np.float32), np.asarray(w.max, np.float32)
            mask &= np.all((xy >= lo) & (xy <= hi), axis=1)
    if target.exclude is not None:
        mask &= ~_element_mask(target.exclude, twin, table)
    return mask


def select(target: Target, twin: Twin, table: ElementTable) -> I32:
    """Sorted element indices a target picks in this venue (may be empty)."""
    return np.flatnonzero(_element_mask(target, twin, table)).astype(np.int32)
