"""Shards of a venue: whole fixtures, whole universes, and the very bytes of the whole venue."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from controller.bench.synthetic import write_city
from controller.outputs.routing import plan_routes
from controller.render.renderer import render
from controller.runtime.job import VenueJob, load_venue
from controller.runtime.shards import partition, restrict_routes, shard_job
from controller.show.rig import Protocol

ROOT = Path(__file__).resolve().parents[2]


def _dmx(job: VenueJob, ticks: list[int]) -> list[np.ndarray]:
    plan, patch = job.plan, job.patch
    frame, driven, dmx = plan.new_frame(), plan.new_driven(), patch.new_output()
    out = []
    for k in ticks:
        render(plan, plan.render_time(k), frame, driven)
        out.append(patch.apply(frame, dmx, 0.9, driven).copy())
    return out


def _check_shards(job: VenueJob, shards: int, ticks: list[int]) -> None:
    parts = partition(job.plan.twin, shards)
    assert len(parts) == shards
    universes = [u for p in parts for u in p]
    assert universes == list(job.patch.universes)  # every universe once, in order
    whole = _dmx(job, ticks)
    rows = {u: i for i, u in enumerate(job.patch.universes)}
    elements = 0
    for part in parts:
        shard = shard_job(job.loaded, job.plan.venue, part)
        assert shard.patch.universes == part
        elements += shard.plan.elements.n
        for k, want, got in zip(ticks, whole, _dmx(shard, ticks), strict=True):
            expected = want[[rows[u] for u in part]]
            assert np.array_equal(got, expected), f"frame {k}, shard {part[0]}..{part[-1]}"
    assert elements == job.plan.elements.n  # no shard renders another's elements


@pytest.mark.parametrize("shards", [2, 3])
def test_sample_show_shards_send_the_whole_venues_bytes(shards: int) -> None:
    job = load_venue(ROOT / "shows" / "digital-night.yaml", "beijing")
    _check_shards(job, shards, list(range(0, job.plan.frame_count, 211)))


def test_city_shards_send_the_whole_venues_bytes(tmp_path: Path) -> None:
    job = load_venue(write_city(tmp_path, 40), None)
    _check_shards(job, 4, list(range(0, job.plan.frame_count, 157)))


def test_partition_balances_elements_and_never_splits_a_fixture(tmp_path: Path) -> None:
    twin = load_venue(write_city(tmp_path, 33), None).plan.twin
    parts = partition(twin, 4)
    sizes = [len(p) for p in parts]
    assert sum(sizes) == 33
    assert max(sizes) - min(sizes) <= 1
    for fx in twin.fixtures:
        owners = {k for k, p in enumerate(parts) for s in fx.segments if s.universe in p}
        assert len(owners) == 1, fx.id
    assert partition(twin, 1) == [twin.universes]
    with pytest.raises(ValueError, match="shards=0"):
        partition(twin, 0)


def test_restricted_routes_keep_the_whole_venues_wire_numbers(tmp_path: Path) -> None:
    job = load_venue(write_city(tmp_path, 10), None)
    routes = plan_routes(job.plan.twin, protocol=Protocol.ARTNET, target="127.0.0.1:7000")
    cut = restrict_routes(routes, (4, 5, 6))
    (route,) = cut
    assert route.universes == (4, 5, 6)
    whole = dict(zip(routes[0].universes, routes[0].wire, strict=True))
    assert route.wire == tuple(whole[u] for u in (4, 5, 6))
    assert restrict_routes(routes, (99,)) == []
