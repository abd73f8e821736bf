"""A venue in shards plays in lockstep with an unsharded one, through the same conductor.

`citypulse venue --shards 2`: the venue process keeps the bus and the timebase and
publishes its clock map; the shard that owns the venue's first universe sends the `--tap`
the wire capture reads. Its frames must pair with the unsharded venue's frames at the same
grid instants, as any two venues' do.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.cluster import Cluster, VenueSetup, all_locked

pytestmark = pytest.mark.network

TRIO = Path(__file__).resolve().parents[2] / "tests" / "data" / "lockstep" / "trio.yaml"
PERIOD_MS = 25.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    setups = [
        VenueSetup(venue="alpha", output="null", clock_offset_ms=80.0, extra=("--rt",)),
        VenueSetup(venue="beta", output="null", clock_offset_ms=-150.0, clock_drift_ppm=25.0,
                   extra=("--rt", "--shards", "2")),
    ]  # fmt: skip
    with Cluster(show=TRIO, workdir=tmp_path_factory.mktemp("shards"), venues=setups) as night:
        night.wait_for("every venue locked", lambda s: all_locked(s, ("alpha", "beta")), 45.0)
        yield night


def test_a_sharded_venue_plays_on_the_shared_grid(cluster: Cluster) -> None:
    # the show has a third venue, gamma, which this rehearsal leaves out: force the start
    assert cluster.cmd("arm", force=True)["accepted"]
    assert cluster.cmd("go", at="+2", force=True)["accepted"]
    cluster.wait_for(
        "both venues running",
        lambda s: all((s["venues"][v]["position_s"] or 0) > 0.5 for v in ("alpha", "beta")),
        15.0,
    )
    wire = cluster.measure(3.0)
    skew = wire["skew"]
    assert skew is not None
    assert wire["venues"]["beta"]["frames"] >= 3 * 40 * 0.9, wire["venues"]
    print("sharded venue, wire skew:", skew["overall"])  # for the record (pytest -s)
    assert skew["overall"]["skew_ms"]["p50"] <= 5.0, skew["overall"]
    assert skew["overall"]["skew_ms"]["p99"] < PERIOD_MS / 2, skew["overall"]
