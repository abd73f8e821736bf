"""The Digital Night ceremony rehearsed on one machine: three cities in lockstep, end to end.

`run_ceremony` starts a `Cluster` (a private mosquitto, the conductor, Beijing, Lhasa and
Singapore behind WAN links with their clocks hundreds of milliseconds off and drifting tens
of ppm, each into its own simulator process), arms the show, schedules GO a few seconds
ahead, passes the hold at the ignition with a second GO, and plays on. It reports, per
venue, what the timebase estimated against the truth, the error bound, the round trip and
the frames dropped, the cross-venue skew measured on the wire, and draws all three cities
as their simulators saw them at one and the same instant. A host-stall watchdog
(`simulator.stalls`) runs throughout: the report says which dropped frames fell in a stall
of the whole machine (`host`; per venue `drops_during_host_stalls` / `drops_unexplained`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from controller.clock import MonotonicClock
from controller.files import replace_atomic
from controller.outputs.routing import plan_routes
from controller.protocols import bus
from controller.runtime.credentials import load_credentials
from controller.runtime.job import load_venue
from controller.transports.mqtt import BusClient
from simulator.cluster import Cluster, VenueSetup, all_locked
from simulator.core import SimulatorCore
from simulator.draw import draw_received
from simulator.recorder import read_recording
from simulator.stalls import HostStalls

__all__ = ["CITIES", "CeremonyOptions", "cities_picture", "run_ceremony"]

_clock = MonotonicClock()

# The sub-venues' links and clocks, as the cities would have them (a test setting: the
# clock offsets and drifts are simulated, the links emulated).
CITIES = (
    VenueSetup(venue="beijing", clock_offset_ms=240.0, clock_drift_ppm=18.0),
    VenueSetup(venue="lhasa", link="rtt=60ms,jitter=10ms", clock_offset_ms=-410.0,
               clock_drift_ppm=-32.0),
    VenueSetup(venue="singapore", link="rtt=100ms,jitter=20ms", clock_offset_ms=630.0,
               clock_drift_ppm=45.0),
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class CeremonyOptions:
    show: Path
    out: Path
    seconds: float = 60.0  # of playing, from the first GO
    hold_wait_s: float = 3.0  # at the ignition hold, before the operator's second GO
    rt: bool = True
    broker: tuple[str, int] | None = None
    deployment: Path | None = None
    venues: tuple[VenueSetup, ...] = CITIES
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)
    on_started: Callable[[Cluster], None] | None = None  # e.g. serve the console


Progress = Callable[[str, dict[str, Any]], None]  # (phase, status) for the live display


async def _fetch_status(cluster: Cluster) -> dict[str, Any]:
    creds = load_credentials(cluster.credentials("operator"))
    topics = creds.topics
    out: dict[str, Any] = {"state": None, "venues": {}}
    client = BusClient(url=cluster.broker_url, client_id="demo-monitor",
                       username=creds.username, password=creds.password)  # fmt: skip
    async with client:
        await client.subscribe(topics.state)
        await client.subscribe(topics.status_all)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.3):
                async for message in client.messages():
                    ref = topics.parse(message.topic)
                    with contextlib.suppress(bus.BusPayloadError):
                        if ref is not None and ref.kind.value == "state":
                            out["state"] = bus.decode(bus.ShowState, message.payload).model_dump()
                        elif ref is not None and ref.node is not None:
                            status = bus.decode(bus.VenueStatus, message.payload)
                            out["venues"][ref.node] = status.model_dump()
    return out


def status_now(cluster: Cluster) -> dict[str, Any]:
    return asyncio.run(_fetch_status(cluster))


def _setups(opts: CeremonyOptions) -> list[VenueSetup]:
    out = []
    for v in opts.venues:
        extra = (
            "--record", str(opts.out / f"{v.venue}.cprec"),
            "--preview", str(opts.out / f"{v.venue}-received.png"),
            *(("--rt",) if opts.rt else ()), *opts.extra.get(v.venue, ()),
        )  # fmt: skip
        out.append(VenueSetup(venue=v.venue, link=v.link, clock_offset_ms=v.clock_offset_ms,
                              clock_drift_ppm=v.clock_drift_ppm, output="sim", extra=extra))  # fmt: skip
    return out


def _watch(cluster: Cluster, phase: str, until: Callable[[dict[str, Any]], bool], timeout_s: float,
           progress: Progress) -> dict[str, Any]:  # fmt: skip
    deadline = _clock.now() + timeout_s
    while True:
        status = status_now(cluster)
        progress(phase, status)
        if until(status) or _clock.now() > deadline:
            return status
        _clock.wait_until(_clock.now() + 0.5)


def run_ceremony(opts: CeremonyOptions, progress: Progress, workdir: Path) -> dict[str, Any]:
    # The watchdog runs until every venue has stopped: a drop in a venue's last frames is
    # still inside the watched time.
    with HostStalls() as watchdog:
        result = _rehearse(opts, progress, workdir)
    stalls = watchdog.result()
    state = result["status"].get("state") or {}
    for venue in result["venues"].values():
        venue.update(stalls.attribute_drops(venue["report"], epoch=state.get("epoch"),
                                            fps=state.get("fps")))  # fmt: skip
    result["host"] = stalls.as_dict()
    return result


def _rehearse(opts: CeremonyOptions, progress: Progress, workdir: Path) -> dict[str, Any]:
    names = tuple(v.venue for v in opts.venues)
    cluster = Cluster(show=opts.show, workdir=workdir, venues=_setups(opts),
                      broker=opts.broker, deployment=opts.deployment,
                      rt=opts.rt)  # fmt: skip
    with cluster:
        if opts.on_started is not None:
            opts.on_started(cluster)
        _watch(cluster, "starting: venues lock to the conductor's time",
               lambda s: all_locked(s, names), 90.0, progress)  # fmt: skip
        arm = cluster.cmd("arm")
        go = cluster.cmd("go", at="+3")
        capture = cluster.start_measure(opts.seconds + 40.0)
        played_from = _clock.now()
        _watch(cluster, "GO at +3 s: playing to the ignition hold",
               lambda s: (s["state"] or {}).get("state") == "held", 60.0, progress)  # fmt: skip
        _watch(cluster, f"held at the ignition: GO in {opts.hold_wait_s:g} s",
               lambda s: False, opts.hold_wait_s, progress)  # fmt: skip
        resume = cluster.cmd("go")
        remaining = max(1.0, opts.seconds - (_clock.now() - played_from))
        _watch(cluster, "the city pulse: playing", lambda s: False, remaining, progress)
        final_status = status_now(cluster)
        capture.stop()
        wire = capture.result(60)
        cluster.capture = None
    reports = cluster.reports
    return {
        "commands": {"arm": arm, "go": go, "resume": resume},
        "status": final_status,
        "wire": wire.get("skew"),
        "venues": {
            name: {
                "setup": {
                    "link": v.link or "direct",
                    "clock_offset_ms": v.clock_offset_ms,
                    "clock_drift_ppm": v.clock_drift_ppm,
                },
                "report": reports.get(name, {}),
            }
            for name, v in ((v.venue, v) for v in opts.venues)
        },
        "logs": str(workdir),
    }


def _dmx_at(path: Path, universes: list[int], at: float) -> tuple[np.ndarray, float]:
    """The venue's latched universes as they stood at simulator time `at` (and the last t)."""
    dmx = np.zeros((len(universes), 512), np.uint8)
    rows = {u: i for i, u in enumerate(universes)}
    last = 0.0
    _, records = read_recording(path)
    for record in records:
        if record.t > at:
            break
        if record.universe in rows:
            dmx[rows[record.universe]] = np.frombuffer(record.data, np.uint8)
        last = record.t
    return dmx, last


def cities_picture(show: Path, out: Path, venues: tuple[str, ...]) -> tuple[Path, float] | None:
    """All cities as their simulators latched them at one host instant: the latest instant every
    recording reached, less a second. Returns the picture and that instant, or None."""
    recordings = {v: out / f"{v}.cprec" for v in venues}
    if not all(p.exists() for p in recordings.values()):
        return None
    ends = []
    for path in recordings.values():
        _, records = read_recording(path)
        ends.append(max((r.t for r in records), default=0.0))
    at = min(ends) - 1.0
    images = []
    for venue, path in recordings.items():
        job = load_venue(show, venue)
        plan, patch = job.plan, job.patch
        core = SimulatorCore(
            twin=plan.twin, patch=patch, routes=plan_routes(plan.twin), fps=plan.fps
        )
        dmx, _ = _dmx_at(path, list(patch.universes), at)
        images.append(draw_received(core, plan, title=f"{plan.twin.venue.name}",
                                    subtitle=f"as its simulator latched it at host time {at:.3f} s",
                                    dmx=dmx, width=800))  # fmt: skip
    width = sum(i.width for i in images)
    height = max(i.height for i in images)
    sheet = Image.new("RGB", (width, height), (8, 8, 12))
    x = 0
    for image in images:
        sheet.paste(image, (x, 0))
        x += image.width
    target = out / "cities.png"
    replace_atomic(target, sheet.save)
    return target, at
