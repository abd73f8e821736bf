"""Three venues in lockstep over a real mosquitto, with real processes, links and a wire capture.

One rehearsal runs for the whole module (starting one costs seconds): a private broker from
`citypulse bus init`, a conductor and a standby, three venues of the Trio show behind WAN-like
links with clock offsets of hundreds of milliseconds and drifts of tens of ppm. The tests run
in order, each one a chapter of the night: start together, attacks and garbage refused, a
venue restarting mid-show, the broker dying and coming back, the conductor dying and the
standby taking over. A different show refusing to play is a venue of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controller.clock import MonotonicClock, utc_anchor
from controller.protocols.signing import new_nonce, sign
from controller.runtime.credentials import load_credentials
from simulator.cluster import Cluster, VenueSetup, all_locked
from tests.lockstep.helpers import TRIO, copy_trio

pytestmark = pytest.mark.network

VENUES = ("alpha", "beta", "gamma")
PERIOD_MS = 25.0
RT = ("--rt",)  # SCHED_FIFO where allowed (root here and in CI); refused: normal priority
clock = MonotonicClock()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    setups = [
        VenueSetup(venue="alpha", output="null", clock_offset_ms=120.0, clock_drift_ppm=20.0,
                   extra=RT),
        VenueSetup(venue="beta", output="null", link="rtt=60ms,jitter=5ms",
                   clock_offset_ms=-300.0, clock_drift_ppm=-40.0, extra=RT),
        VenueSetup(venue="gamma", output="null", link="rtt=100ms,jitter=10ms",
                   clock_offset_ms=450.0, clock_drift_ppm=35.0, extra=RT),
    ]  # fmt: skip
    with Cluster(show=TRIO, workdir=tmp_path_factory.mktemp("night"), venues=setups,
                 standby=True, rt=True) as night:  # fmt: skip
        night.wait_for("every venue locked", lambda s: all_locked(s, VENUES), 45.0)
        yield night


def few_missing(wire: dict[str, Any], venue: str) -> bool:
    """At most a couple of frames dropped (two cores run eight processes and the tests);
    a venue that stopped, or stalled for a tenth of a second, misses many more."""
    return bool(wire["skew"]["venues"][venue]["missing"] <= 3)


def test_three_venues_start_on_the_same_frame_at_the_same_instant(cluster: Cluster) -> None:
    assert cluster.cmd("arm")["accepted"]
    go = cluster.cmd("go", at="+1.5")
    assert go["accepted"], go
    status = cluster.wait_for(
        "every venue running",
        lambda s: all((s["venues"][v]["position_s"] or 0) > 0.5 for v in VENUES),
        10.0,
    )
    assert status["state"]["state"] == "running"
    wire = cluster.measure(4.0)
    skew = wire["skew"]
    assert skew is not None
    for venue in VENUES:
        assert wire["venues"][venue]["frames"] >= 4 * 40 * 0.9, wire["venues"]
        assert few_missing(wire, venue), skew["venues"]
    # the venues' frames pair up across cities: the same grid instants, within a few ms
    print("start together, wire skew:", skew["overall"])  # for the record (pytest -s)
    assert skew["overall"]["skew_ms"]["p50"] <= 5.0, skew["overall"]
    assert skew["overall"]["skew_ms"]["p99"] < PERIOD_MS / 2, skew["overall"]
    assert all(p["unpaired"] <= 3 for p in skew["pairs"]), skew["pairs"]  # beside a drop


def _publish_as(
    cluster: Cluster, role: str, topic: str, payloads: list[bytes]
) -> list[dict[str, Any]]:
    """Publish raw payloads with `role`'s credentials; the command results seen meanwhile."""
    import asyncio

    from controller.transports.mqtt import BusClient

    creds = load_credentials(cluster.credentials(role))
    results: list[dict[str, Any]] = []

    async def run() -> None:
        client = BusClient(url=cluster.broker_url, client_id=f"test-{new_nonce()[:6]}",
                           username=creds.username, password=creds.password)  # fmt: skip
        async with client:
            await client.subscribe(creds.topics.cmd_result)
            for payload in payloads:
                await client.publish(topic, payload, qos=1)
            try:
                async with asyncio.timeout(3.0):
                    async for message in client.messages():
                        results.append(json.loads(message.payload))
                        if len(results) >= len(payloads):
                            return
            except TimeoutError:
                pass

    asyncio.run(run())
    return results


def test_forged_replayed_and_expired_commands_are_rejected_and_audited(cluster: Cluster) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    creds = load_credentials(cluster.credentials("operator"))
    assert creds.signing_key is not None
    now = clock.now() + utc_anchor()
    hold = {
        "kind": "hold",
        "args": [],
        "id": "attack",
        "origin": "test",
        "exec_at": None,
        "force": False,
    }
    forged = sign(
        {**hold, "id": "forged"}, "operator", Ed25519PrivateKey.generate(), now, 30, new_nonce()
    )
    expired = sign(
        {**hold, "id": "expired"}, "operator", creds.signing_key, now - 120, 30, new_nonce()
    )
    valid = sign({**hold, "kind": "master", "args": [1.0], "id": "once"}, "operator",
                 creds.signing_key, now, 30, new_nonce())  # fmt: skip
    results = _publish_as(
        cluster, "operator", creds.topics.cmd_submit, [forged, expired, valid, valid]
    )
    by_id = {(r["id"], r["accepted"], (r.get("reason") or "").split(":")[0]) for r in results}
    assert ("forged", False, "forged") in by_id
    assert ("expired", False, "expired") in by_id
    assert ("once", True, "") in by_id
    assert ("once", False, "replayed") in by_id
    audit = [
        json.loads(line) for line in (cluster.dir / "conductor.audit").read_text().splitlines()
    ]
    reasons = {(e["id"], e["reason"]) for e in audit if e["event"] == "rejected"}
    assert {("forged", "forged"), ("expired", "expired"), ("once", "replayed")} <= reasons
    assert cluster.status()["state"]["state"] == "running"  # the hold never executed


def test_bad_bus_messages_are_dropped_and_the_show_keeps_playing(cluster: Cluster) -> None:
    creds = load_credentials(cluster.credentials("conductor"))
    topics = creds.topics
    garbage = [b"{", b"[1,2]", b'{"v":2}', b"\xff\xfe", b'{"v":1,"show_id":"trio"}']
    for topic in (topics.cmd_exec, topics.time_resp("beta")):
        _publish_as(cluster, "conductor", topic, garbage)
    _publish_as(cluster, "operator", topics.cmd_submit, garbage)
    wire = cluster.measure(2.0)
    for venue in VENUES:
        assert cluster.running(f"venue-{venue}")
        assert few_missing(wire, venue), wire["skew"]["venues"]
    assert "dropped" in cluster.log("venue-beta")


def test_a_restarted_venue_joins_late_at_the_right_frame_within_two_seconds(
    cluster: Cluster,
) -> None:
    cluster.kill("venue-beta")
    restarted = clock.now() + utc_anchor()
    cluster.start_venue("beta")
    wire = cluster.measure(8.0, keep_series=True)
    series = wire["series"]["beta"]
    status = cluster.status()["venues"]["beta"]
    # the protocol's part: from reaching the bus to playing the right frame (the state read,
    # the timebase locked, the show joined); the process's own start (imports, loading and
    # compiling the show) comes before it and is reported beside it
    assert status["join_s"] is not None
    assert status["join_s"] <= 2.0, status
    spawn_to_wire = wire["epoch_s"] + series[0] - restarted
    print(f"late join: {status['join_s']:.3f} s from the bus, {spawn_to_wire:.3f} s from spawn")
    pair = next(p for p in wire["skew"]["pairs"] if "beta" in (p["venue"], p["reference"]))
    assert pair["skew_ms"]["p50"] <= 5.0, pair  # on the grid with the others: the right frame


def test_the_show_holds_over_a_broker_outage_and_resyncs(cluster: Cluster) -> None:
    cluster.kill("broker")
    during = cluster.measure(5.0)
    for venue in VENUES:
        assert few_missing(during, venue), during["skew"]["venues"]
        assert during["venues"][venue]["frames"] >= 5 * 40 * 0.9
    assert during["skew"]["overall"]["skew_ms"]["p99"] < PERIOD_MS / 2
    cluster.start_broker()
    cluster.wait_for("every venue back and locked", lambda s: all_locked(s, VENUES), 30.0)


def test_the_standby_takes_over_when_the_conductor_dies(cluster: Cluster) -> None:
    cluster.kill("conductor")
    cluster.wait_for(
        "the standby takes over",
        lambda s: (
            s["conductor"] is not None
            and s["conductor"]["conductor"] == "standby"
            and s["conductor"]["online"]
        ),
        15.0,
    )
    result = cluster.cmd("hold")
    assert result["accepted"], result
    status = cluster.wait_for("held", lambda s: s["state"]["state"] == "held", 5.0)
    frames = {status["venues"][v]["frame"] for v in VENUES}
    assert len(frames) == 1, status["venues"]  # every venue holds the same frame
    wire = cluster.measure(2.0)
    assert wire["skew"]["overall"]["skew_ms"]["p99"] < PERIOD_MS / 2


def test_a_venue_with_a_different_show_refuses_and_names_the_file(
    cluster: Cluster, tmp_path: Path
) -> None:
    show = copy_trio(tmp_path)
    rig = show.parent / "rigs" / "beta.yaml"
    rig.write_text(rig.read_text().replace("count: 4", "count: 3"))
    done = subprocess.run(
        [sys.executable, "-m", "controller", "venue", str(show), "--venue", "beta",
         "--credentials", str(cluster.credentials("venue-beta")), "--broker", cluster.broker_url,
         "--output", "artnet", "--target", "127.0.0.1:9", "--ready-timeout", "20"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "beta refuses to play: a different show" in done.stderr
    assert "rigs/beta.yaml: differs" in done.stderr
