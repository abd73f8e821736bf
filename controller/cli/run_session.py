"""L8 what `citypulse run` plays into: routes, sinks and outputs, the simulator, the report.

The session itself (playback, engine, player) is `controller.runtime.session`; this module
only chooses where bytes go and prints what happened:
- real sockets and serial ports (the rig's outputs, or one protocol with `--target`);
- `--output sim` in real time: the rig's routes over loopback into `citypulse simulate`
  in its own process (`controller.cli.sim_process`), as a real receiver would be;
- `--output sim --virtual`: the simulator core in-process, in virtual time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.cli.common import ArgumentError, VenueJob
from controller.clock import Clock, MonotonicClock, wall_minus_monotonic
from controller.outputs.base import Output
from controller.outputs.factory import build_outputs, udp_sinks
from controller.outputs.routing import Route, plan_routes
from controller.runtime.session import SessionOptions, VenueSession
from controller.show.rig import Protocol
from controller.testing.clock import ManualClock

__all__ = ["RunOptions", "open_outputs", "open_session", "summary"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    output: str = "rig"
    target: str | None = None
    interface: str | None = None
    virtual: bool = False
    record: Path | None = None
    preview: Path | None = None
    osc_in: int | None = None
    tap: tuple[str, int] | None = None  # a monitoring Art-Net copy of the first universe
    session: SessionOptions = field(default_factory=SessionOptions)


def _routes(job: VenueJob, options: RunOptions) -> list[Route]:
    plan = job.plan
    protocol = None if options.output in ("rig", "sim") else Protocol(options.output)
    try:
        routes = plan_routes(plan.twin, protocol=protocol, target=options.target)
    except ValueError as exc:
        raise ArgumentError("--target", str(exc)) from exc
    if not routes:
        raise ArgumentError("--output", f"venue {plan.venue!r} has no outputs in its rig")
    serial = (Protocol.ENTTEC, Protocol.OPENDMX)
    for r in routes:
        if r.protocol in serial and not r.device and options.output != "sim":
            raise ArgumentError(
                "--target", f"{r.protocol.value} needs a serial device (--target /dev/ttyUSB0)"
            )
    if options.output == "sim" and sum(r.protocol in serial for r in routes) > 1:
        raise ArgumentError("--output", "sim: the simulator has one serial widget per venue")
    return routes


class _InProcessSim:
    """The simulator core in this process (virtual time), with its recorder."""

    def __init__(self, job: VenueJob, routes: list[Route], clock: Clock, record: Path | None):
        from simulator.core import SimulatorCore

        plan = job.plan
        self.core = SimulatorCore(twin=plan.twin, patch=job.patch, routes=routes, fps=plan.fps)
        self.recorder: Any = None
        if record is not None:
            from simulator.recorder import Recorder

            self.recorder = Recorder.open(record, core=self.core, venue=plan.venue, fps=plan.fps)
            self.core.on_latch = self.recorder.record
        self.clock = clock

    def outputs_kwargs(self) -> dict[str, Any]:
        from simulator.inprocess import SimByteSink, SimDatagramSink, SimSerialPort

        core, clock = self.core, self.clock
        return {
            "sinks": lambda route: SimDatagramSink(core, clock, route.protocol.value),
            "serial_opener": lambda device: SimSerialPort(SimByteSink(core, clock, device=device)),
        }

    def finish(self, job: VenueJob, preview: Path | None) -> dict[str, Any]:
        if self.recorder is not None:
            self.recorder.close()
        if preview is not None:
            from controller.cli.preview_cmd import save_atomic
            from simulator.draw import draw_received

            title = f"{job.loaded.show.name}: received by the simulator"
            save_atomic([draw_received(self.core, job.plan, title=title)], preview)
        stats: dict[str, Any] = self.core.statistics().as_dict()
        return stats


@contextlib.contextmanager
def open_outputs(
    job: VenueJob, options: RunOptions, clock: Clock
) -> Iterator[tuple[Callable[[], list[Output]], dict[str, Any]]]:
    """Where the venue's bytes go: a maker of its outputs, and a dict that receives the
    simulator's statistics when the simulator ends (at the exit of this context)."""
    routes = _routes(job, options)
    sim_stats: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        kwargs: dict[str, Any] = {"sinks": udp_sinks(options.interface)}
        inproc = None
        if options.output == "sim" and options.virtual:
            inproc = _InProcessSim(job, routes, clock, options.record)
            kwargs = inproc.outputs_kwargs()
        elif options.output == "sim":
            from controller.cli.sim_process import SimulatorProcess

            proc = SimulatorProcess(
                show=Path(job.loaded.path),
                venue=job.plan.venue,
                record=options.record,
                preview=options.preview,
            )
            stack.callback(lambda: sim_stats.update(proc.stats))  # after the process ends
            routes = stack.enter_context(proc).retarget(routes)
        if options.tap is not None:
            routes = [*routes, _tap_route(job, options.tap)]
        yield (lambda: _outputs(job, routes, clock, options, kwargs)), sim_stats
    if inproc is not None:
        sim_stats.update(inproc.finish(job, options.preview))


@contextlib.contextmanager
def open_session(
    job: VenueJob, options: RunOptions, *, start: float | None = None
) -> Iterator[tuple[VenueSession, dict[str, Any]]]:
    """A session wired to its outputs; the dict receives the simulator's statistics."""
    clock: Clock = ManualClock(autojump=True) if options.virtual else MonotonicClock()
    with open_outputs(job, options, clock) as (outputs, sim_stats):
        session = VenueSession(job, options.session, clock=clock, outputs=outputs(), start=start)
        yield session, sim_stats


def _tap_route(job: VenueJob, tap: tuple[str, int]) -> Route:
    first = job.patch.universes[0]
    return Route(protocol=Protocol.ARTNET, universes=(first,), wire=(0,), host=tap[0], port=tap[1])


def _outputs(
    job: VenueJob, routes: list[Route], clock: Clock, options: RunOptions, kwargs: dict[str, Any]
) -> list[Output]:
    plan, patch = job.plan, job.patch
    return build_outputs(
        routes,
        patch.universes,
        venue=plan.venue,
        show_name=job.loaded.show.name,
        clock=clock,
        fps=plan.fps,
        venue_plan=(plan, patch),
        wall_offset=0.0 if options.virtual else wall_minus_monotonic(),
        paced_serial=not options.virtual,  # virtual time is single-threaded
        **kwargs,
    )


def summary(report: dict[str, Any], options: RunOptions) -> str:
    late = report["lateness_ms"]
    lines = [
        (
            f"{report['venue']}: {report['state']} at {report['position_s']:.2f} s; "
            f"{report['frames_sent']} frames sent, {report['frames_dropped']} dropped, "
            f"lateness p50 {late['p50']:.2f} / p99 {late['p99']:.2f} / max {late['max']:.2f} ms "
            f"({report['realtime']})"
        )
    ]
    for o in report["outputs"]:
        err = f", {o['errors']} errors ({o['last_error']})" if o["errors"] else ""
        lines.append(f"  {o['name']}: {o['frames']} frames, {o['packets']} packets{err}")
        lines.extend(f"    warning: {w}" for w in o.get("warnings", ()))
    if report.get("simulator"):
        sim = report["simulator"]
        lines.append(
            "  simulator: "
            + ", ".join(f"{k}={v}" for k, v in sim.items() if not isinstance(v, dict | list))
        )
    if "osc_in" in report:
        c = report["osc_in"]
        lines.append(
            f"  osc input :{c['port']}: {c['accepted']} accepted, {c['refused']} refused, "
            f"{c['ignored']} ignored, {c['malformed']} malformed, {c['dropped']} dropped"
        )
    if "error" in report:
        lines.append(f"  output thread failed: {report['error']}")
    if options.preview:
        lines.append(f"  wrote {options.preview}")
    if options.record:
        lines.append(f"  recorded {options.record}")
    return "\n".join(lines) + "\n"
