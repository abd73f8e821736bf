"""L3 what an effect sees of its targets, and the interface every effect implements.

An effect is compiled once per clip (`EffectImpl.prepare`, which may precompute anything
that does not depend on time) and then evaluated per frame (`ClipRenderer.__call__`), which
writes one row per attribute in `EffectSpec.writes` for the clip's `n` target elements.
Rules: no Python loop over elements in `__call__`; randomness comes only from `ctx.seed`
(and the frame time), so any frame renders the same on every run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from controller.effects_api import ParamTrack

__all__ = ["ClipRenderer", "EffectContext", "EffectImpl", "ParamValues"]

F32 = NDArray[np.float32]
ParamValues = Mapping[str, tuple[float, ...]]


@dataclass(frozen=True, slots=True, kw_only=True)
class EffectContext:
    """Compile-time facts about a clip's target elements, in selection order."""

    n: int
    positions: F32  # (n, 3) metres east/north/up
    order: F32  # (n,) 0..1 along the selection: fixture order, then cell order
    fixture_index: NDArray[np.int32]  # (n,) fixture of each element, 0..n_fixtures-1
    n_fixtures: int
    rotations: F32  # (n, 3, 3) fixture body -> venue frame
    pan_range_deg: F32  # (n,)
    tilt_range_deg: F32  # (n,)
    seed: int
    fps: float
    base_dir: Path  # for files named in parameters (images)
    # A shard of a venue renders only part of a target (`compile_venue(..., fixtures=)`):
    # `ids` are the elements' places in the WHOLE selection (0..), and `extent` its
    # positions; effects normalise over `extent` and hash `ids`, so every element looks
    # the same whichever shard renders it. Unsharded: ids = arange(n), extent = positions.
    ids: NDArray[np.int64] | None = None
    extent: F32 | None = None

    @property
    def element_ids(self) -> NDArray[np.int64]:
        return np.arange(self.n, dtype=np.int64) if self.ids is None else self.ids

    @property
    def selection_positions(self) -> F32:
        """Positions of every element of the target (not only the ones rendered here)."""
        return self.positions if self.extent is None else self.extent


class ClipRenderer(Protocol):
    def __call__(self, t: float, p: ParamValues, out: F32) -> None:
        """Write the clip's look at clip time `t` (seconds) into `out` (len(writes), n)."""


@runtime_checkable
class EffectImpl(Protocol):
    def prepare(self, ctx: EffectContext, params: Mapping[str, ParamTrack]) -> ClipRenderer:
        """Precompute per-clip state; return the per-frame renderer."""
