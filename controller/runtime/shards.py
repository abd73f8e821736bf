"""L7 a venue in shards: processes that each compile, render and send part of its universes.

Rules:
- `partition` splits a venue's universes into N contiguous groups of about equal render
  cost (elements); a fixture is never split (the universes one fixture spans stay
  together), so every shard owns whole fixtures and whole universes.
- A shard compiles only its own fixtures (`compile_venue(..., fixtures=)`), yet renders
  each exactly as the whole venue would: targets and effects are prepared over the whole
  venue (tests/runtime/test_shards.py compares the bytes).
- A shard sends only its own universes, with the wire numbers the whole venue's routes
  give them (`restrict_routes`), as its own sACN source (its own CID) with its own sync.
- Every shard plays on the one frame grid (`controller.runtime.shard_grid`); commands
  reach them all with the same `exec_at`, so they execute on the same frame and a
  venue's universes leave together whatever the shard count.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from controller.compile.plan import compile_venue
from controller.outputs.routing import Route
from controller.patch.patcher import build_patch
from controller.runtime.job import VenueJob
from controller.show.load import LoadedShow
from controller.show.twin import Twin

__all__ = ["MAX_SHARDS", "partition", "restrict_routes", "shard_fixtures", "shard_job"]

MAX_SHARDS = 64


def _components(twin: Twin) -> list[tuple[list[int], int]]:
    """Groups of universes joined by fixtures spanning them, with their element counts,
    in universe order."""
    parent: dict[int, int] = {u: u for u in twin.universes}

    def root(u: int) -> int:
        while parent[u] != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    weight: dict[int, int] = dict.fromkeys(twin.universes, 0)
    for fx in twin.fixtures:
        if not fx.segments:
            continue
        first = root(fx.segments[0].universe)
        for seg in fx.segments[1:]:
            other = root(seg.universe)
            if other != first:
                parent[max(other, first)] = min(other, first)
                first = min(other, first)
        weight[fx.segments[0].universe] += fx.n_elements
    groups: dict[int, list[int]] = {}
    for u in twin.universes:
        groups.setdefault(root(u), []).append(u)
    totals = dict.fromkeys(groups, 0)
    for u, w in weight.items():
        totals[root(u)] += w
    return [(groups[r], totals[r]) for r in sorted(groups)]


def partition(twin: Twin, shards: int) -> list[tuple[int, ...]]:
    """The venue's universes in at most `shards` groups of about equal element count."""
    if not 1 <= shards <= MAX_SHARDS:
        msg = f"shards={shards!r} out of range 1..{MAX_SHARDS}"
        raise ValueError(msg)
    components = _components(twin)
    total = sum(w for _, w in components) or 1
    parts: list[list[int]] = [[]]
    done = 0
    for universes, w in components:
        target = total * len(parts) / shards
        if parts[-1] and len(parts) < shards and done + w / 2 > target:
            parts.append([])
        parts[-1] += universes
        done += w
    return [tuple(p) for p in parts if p]


def shard_fixtures(twin: Twin, universes: Sequence[int]) -> list[int]:
    """Indices of the fixtures patched into `universes` (whole fixtures, see `partition`)."""
    wanted = set(universes)
    return [
        i for i, fx in enumerate(twin.fixtures) if fx.segments and fx.segments[0].universe in wanted
    ]


def shard_job(loaded: LoadedShow, venue: str, universes: Sequence[int]) -> VenueJob:
    """Compile and patch only the fixtures of `universes` (one shard of the venue)."""
    fixtures = shard_fixtures(loaded.venues[venue], universes)
    plan = compile_venue(loaded, venue, fixtures=fixtures)
    return VenueJob(loaded, plan, build_patch(plan.twin, plan.elements))


def restrict_routes(routes: Sequence[Route], universes: Sequence[int]) -> list[Route]:
    """The whole venue's routes cut down to `universes`, keeping their wire numbers."""
    wanted = set(universes)
    out = []
    for r in routes:
        keep = [k for k, u in enumerate(r.universes) if u in wanted]
        if not keep:
            continue
        out.append(
            dataclasses.replace(
                r,
                universes=tuple(r.universes[k] for k in keep),
                wire=tuple(r.wire[k] for k in keep),
                renumbered=tuple(u for u in r.renumbered if u in wanted),
            )
        )
    return out


def source_suffix(index: int, count: int) -> str:
    """What a shard adds to its sACN source name (so each shard is its own source)."""
    return "" if count == 1 else f" shard {index + 1}/{count}"


def element_balance(parts: Sequence[Sequence[int]], twin: Twin) -> list[int]:
    """Elements per part (for reports)."""
    index = {u: k for k, p in enumerate(parts) for u in p}
    counts = np.zeros(len(parts), np.int64)
    for fx in twin.fixtures:
        if fx.segments:
            counts[index[fx.segments[0].universe]] += fx.n_elements
    return [int(c) for c in counts]


def show_path(loaded: LoadedShow) -> Path:
    return Path(loaded.path)
