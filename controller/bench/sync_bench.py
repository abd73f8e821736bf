"""L8 sync benchmark: how well venues in different "cities" stay in lockstep, measured on the wire.

One rehearsal per priority mode (`simulator.cluster.Cluster`, real processes): a private
mosquitto, the conductor, the show's venues, the first on a clean path and the others
behind WAN links (RTT, one-sided jitter), each on a simulated clock offset by hundreds of
milliseconds and drifting by tens of ppm. Figures:
- convergence: process start to a locked timebase, per venue;
- estimator error: the venue's estimate of shared time minus the truth (known, because the
  clocks are simulated on one host), sampled ten times a second: when it converged (stays
  within 1 ms), and p50/p99/max from 10 s after the lock (the convergence budget) and from
  the lock itself;
- wire skew: each venue's `--tap` frames, timestamped by the kernel in a capture process,
  paired across venues (p50 / p99 / max of |skew|, missing and bunched frames);
- late join: a venue stopped mid-show (its report kept) and started again: spawn to its
  first frame on the wire, the skew of its frames from then on, and the frames the
  restarted player dropped (those in host stalls counted apart);
- broker outage: the broker killed for `outage_s`; frames missed and the skew at the end
  of the outage (the holdover drift), then the time to lock again;
- host stalls: a SCHED_FIFO 99 watchdog on every CPU (`simulator.stalls`) for the whole run;
  each venue's dropped frames, and the frames missing on the wire in the outage, that fell
  in a stall of the whole machine (every CPU stopped at once) are counted apart.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.clock import MonotonicClock, utc_anchor
from simulator.cluster import Cluster, VenueSetup, all_locked
from simulator.stall_intervals import Interval, drops_text, host_line, wire_gaps
from simulator.stalls import HostStalls

__all__ = ["SyncBenchOptions", "bench_sync", "sync_table"]

_clock = MonotonicClock()
Gaps = list[tuple[Interval, int]]


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncBenchOptions:
    show: Path
    venues: tuple[str, ...]
    rtt_ms: float = 100.0
    jitter_ms: float = 20.0
    offset_ms: float = 500.0
    drift_ppm: float = 50.0
    seconds: float = 30.0  # wire-skew window
    outage_s: float = 60.0
    modes: tuple[str, ...] = ("rt", "normal")
    output: str = "null"


def _setups(opts: SyncBenchOptions, rt: bool) -> list[VenueSetup]:
    setups = []
    for i, venue in enumerate(opts.venues):
        sign = 1.0 if i % 2 == 0 else -1.0
        link = "" if i == 0 else f"rtt={opts.rtt_ms:g}ms,jitter={opts.jitter_ms:g}ms"
        setups.append(VenueSetup(
            venue=venue, output=opts.output, link=link,
            clock_offset_ms=sign * opts.offset_ms * (1.0 if i else 0.5),
            clock_drift_ppm=sign * opts.drift_ppm, extra=("--rt",) if rt else (),
        ))  # fmt: skip
    return setups


def _now_utc() -> float:
    return _clock.now() + utc_anchor()


def _late_join(night: Cluster, venue: str) -> dict[str, Any]:
    # Stopped (its report kept: the venue's figures before the restart), then started again.
    night.stop(f"venue-{venue}")
    first = night.reports.get(venue, {})
    spawned = _now_utc()
    night.start_venue(venue)
    wire = night.measure(10.0, keep_series=True)
    series = wire.get("series", {}).get(venue) or []
    pair = next(
        (
            p
            for p in (wire.get("skew") or {}).get("pairs", [])
            if venue in (p["venue"], p["reference"])
        ),
        None,
    )
    return {
        "venue": venue,
        "report_before_restart": first,
        "first_frame_after_spawn_s": round(wire["epoch_s"] + series[0] - spawned, 3)
        if series
        else None,
        "skew_ms": None if pair is None else pair["skew_ms"],
    }


def _outage(night: Cluster, opts: SyncBenchOptions) -> tuple[dict[str, Any], dict[str, Gaps]]:
    """The outage's figures, and each venue's frame gaps on the wire during it."""
    before = night.measure(5.0)
    night.kill("broker")
    during = night.measure(opts.outage_s, keep_series=True)
    night.start_broker()
    restored = _clock.now()
    night.wait_for("locked again", lambda s: all_locked(s, opts.venues), 60.0)
    after = night.measure(5.0)
    skew = during.get("skew") or {}
    return {
        "seconds": opts.outage_s,
        "missing_frames": {
            v: skew.get("venues", {}).get(v, {}).get("missing") for v in opts.venues
        },
        "skew_before_ms": (before.get("skew") or {}).get("overall", {}).get("skew_ms"),
        "skew_during_ms": skew.get("overall", {}).get("skew_ms"),
        "skew_after_ms": (after.get("skew") or {}).get("overall", {}).get("skew_ms"),
        "relock_s": round(_clock.now() - restored, 3),
    }, _wire_gaps(during)


def _wire_gaps(wire: dict[str, Any]) -> dict[str, Gaps]:
    """Each venue's frame gaps in a capture with its series, in shared time. The capture's
    kernel stamps are CLOCK_REALTIME; shared time is UTC carried by the monotonic clock from
    one reading, so the two differ by the wall clock's slew since then (well under 1 ms)."""
    period_ms, epoch = wire.get("period_ms"), wire.get("epoch_s")
    if not period_ms or epoch is None:
        return {}
    series = wire.get("series") or {}
    return {
        v: wire_gaps([epoch + t for t in times], period_ms * 1e-3) for v, times in series.items()
    }


def _one_mode(opts: SyncBenchOptions, rt: bool, workdir: Path) -> dict[str, Any]:
    started = _clock.now()
    # The watchdog outlives the cluster: the venues' last frames are watched too.
    with HostStalls() as watchdog, Cluster(show=opts.show, workdir=workdir,
                                           venues=_setups(opts, rt),
                                           rt=rt) as night:  # fmt: skip
        night.wait_for("every venue locked", lambda s: all_locked(s, opts.venues), 120.0)
        locked_all_s = _clock.now() - started
        night.cmd("arm", force=True)
        night.cmd("go", at="+2")
        _clock.wait_until(_clock.now() + 3.0)
        wire = night.measure(opts.seconds)
        # The outage first: a holdover's drift is measured on rates fitted over a minute,
        # as a venue that has been playing has them, not on a late joiner's first seconds.
        outage, gaps = _outage(night, opts) if opts.outage_s > 0 else (None, {})
        late = _late_join(night, opts.venues[-1])
        state = night.status().get("state") or {}  # the grid: tick k at epoch + k / fps
        links = _link_lateness(night)
    stalls = watchdog.result()
    if outage is not None:
        outage["missing_attribution"] = {v: stalls.attribute_gaps(g) for v, g in gaps.items()}
    reports = dict(night.reports)
    joined = reports.get(late["venue"], {})  # the restarted process's own report
    late["milestones_s"] = joined.get("join")
    late["after_restart"] = {
        "frames_dropped": joined.get("frames_dropped"),
        "drops": joined.get("drops"),
        **stalls.attribute_drops(joined, epoch=state.get("epoch"), fps=state.get("fps")),
    }
    reports[late["venue"]] = late.pop("report_before_restart") or joined
    return {
        "mode": "SCHED_FIFO (--rt)" if rt else "normal priority",
        "all_locked_after_start_s": round(locked_all_s, 3),
        "venues": {
            v: {
                "frames_dropped": reports.get(v, {}).get("frames_dropped"),
                "lateness_ms": reports.get(v, {}).get("lateness_ms"),
                "realtime": reports.get(v, {}).get("realtime"),
                "timebase": reports.get(v, {}).get("timebase"),
                "drops": reports.get(v, {}).get("drops"),
                **stalls.attribute_drops(
                    reports.get(v, {}), epoch=state.get("epoch"), fps=state.get("fps")
                ),
            }
            for v in opts.venues
        },
        "host": stalls.as_dict(),
        "links": links,
        "wire": wire.get("skew"),
        "late_join": late,
        "broker_outage": outage,
    }


def _link_lateness(night: Cluster) -> dict[str, Any]:
    """How late the emulated links wrote past their scheduled release (p50 / p99 ms, each
    direction): the harness's own error, which every venue sees as delay-floor noise."""
    if night.links is None:
        return {}
    stats = night.links.statistics()
    return {
        venue: {d: [link[d]["late_p50_ms"], link[d]["late_p99_ms"]] for d in ("up", "down")}
        for venue, link in stats.items()
        if link["up"]["chunks"] or link["down"]["chunks"]
    }


def bench_sync(opts: SyncBenchOptions, workdir: Path | None = None) -> dict[str, Any]:
    results = []
    with tempfile.TemporaryDirectory(prefix="citypulse-bench-sync-") as tmp:
        base = workdir or Path(tmp)
        for mode in opts.modes:
            results.append(_one_mode(opts, mode == "rt", base / mode))
    return {
        "show": str(opts.show),
        "venues": list(opts.venues),
        "link": {"rtt_ms": opts.rtt_ms, "one_sided_jitter_ms": opts.jitter_ms},
        "clocks": {"offset_ms": opts.offset_ms, "drift_ppm": opts.drift_ppm},
        "runs": results,
    }


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict) and "p99" in value:
        return " / ".join(_fmt(value.get(k)) for k in ("p50", "p99", "max"))
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def sync_table(result: dict[str, Any]) -> str:
    head = (
        f"bench sync: {result['show']}, venues {', '.join(result['venues'])}; links RTT "
        f"{result['link']['rtt_ms']:g} ms, one-sided jitter {result['link']['one_sided_jitter_ms']:g} ms; "
        f"clocks +-{result['clocks']['offset_ms']:g} ms, +-{result['clocks']['drift_ppm']:g} ppm"
    )
    lines = [head]
    for run in result["runs"]:
        lines.append(
            f"\n{run['mode']}: every venue locked {run['all_locked_after_start_s']:.1f} s after start"
        )
        lines.append(
            "  venue        locked / converged (<=1 ms) after s  estimator err p50/p99/max ms"
            "  map err p99 ms  from lock: estimator / map p99 ms  dropped"
        )
        for venue, v in run["venues"].items():
            truth = (v["timebase"] or {}).get("truth") or {}
            since_lock = (
                f"{_fmt((truth.get('estimate_error_from_lock_ms') or {}).get('p99'))} / "
                f"{_fmt((truth.get('map_error_from_lock_ms') or {}).get('p99'))}"
            )
            lines.append(
                f"  {venue:<12} {_fmt(truth.get('locked_after_s')):>6} / "
                f"{_fmt(truth.get('converged_after_s')):<26}  "
                f"{_fmt(truth.get('estimate_error_ms')):>28}  "
                f"{_fmt((truth.get('map_error_ms') or {}).get('p99')):>14}  {since_lock:>33}  "
                f"{drops_text(v['frames_dropped'], v)}"
            )
        lines.append(host_line(run["host"]))
        for venue, late in (run.get("links") or {}).items():
            lines.append(
                f"  link {venue}: writes late past their release p50/p99 ms: up "
                f"{_fmt(late['up'][0])} / {_fmt(late['up'][1])}, down "
                f"{_fmt(late['down'][0])} / {_fmt(late['down'][1])}"
            )
        wire = run["wire"] or {}
        overall = wire.get("overall", {})
        lines.append(
            f"  wire skew p50/p99/max ms: {_fmt(overall.get('skew_ms'))} over {overall.get('frames')} frames"
        )
        late = run["late_join"]
        lines.append(
            f"  late join ({late['venue']}): first frame {late['first_frame_after_spawn_s']} s after "
            f"the process started; its skew {_fmt(late['skew_ms'])} ms; after the show loaded "
            f"(seconds): {late.get('milestones_s')}"
        )
        after = late.get("after_restart")
        if after is not None:
            lines.append(
                f"  late joiner's own drops after its restart: {after.get('frames_dropped')} "
                f"({after.get('drops_during_host_stalls')} during host stalls)"
            )
        outage = run["broker_outage"]
        if outage:
            explained = {v: a["missing_during_host_stalls"]
                         for v, a in outage.get("missing_attribution", {}).items()}  # fmt: skip
            lines.append(
                f"  broker outage {outage['seconds']:g} s: missing frames {outage['missing_frames']} "
                f"(during host stalls: {explained}); skew "
                f"during {_fmt(outage['skew_during_ms'])} ms, after {_fmt(outage['skew_after_ms'])} ms; "
                f"relocked in {outage['relock_s']} s"
            )
    return "\n".join(lines) + "\n"


def default_venues(show: Path) -> Sequence[str]:
    from controller.render.effects import default_registry
    from controller.show.load import load_show

    return tuple(load_show(show, default_registry()).show.venues)
