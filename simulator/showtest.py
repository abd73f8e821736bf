"""Run a show against the in-process simulator in virtual time and check expectations.

Strategy: no threads and no waiting. The real venue session (playback, engine, player,
commands) plays on a `ManualClock` that jumps from deadline to deadline: frames are
prepared and staged ahead, synced at their deadlines, dropped by the player's own policy;
the real outputs encode them (Art-Net, sACN, OSC, ENTTEC), the simulator decodes and
latches them, and the checks read what the simulator latched (decoded through the patch:
what each fixture would show), never the renderer's own frame. Hold cues are passed by
the session's own auto-go (a GO command after `hold_wait`), like an operator would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from controller.compile.elements import select
from controller.effects_api import ParamError, ParamKind, ParamSpec, normalise_param
from controller.outputs.factory import build_outputs
from controller.outputs.routing import plan_routes
from controller.preview.appearance import appearance_from_frame
from controller.runtime.engine import Prepared
from controller.runtime.job import VenueJob, resolve_time
from controller.runtime.session import SessionOptions, VenueSession
from controller.show.rig import Protocol
from controller.show.timeline import Target
from controller.testing.clock import ManualClock
from simulator.core import SimulatorCore
from simulator.expect import Check, ExpectFile
from simulator.inprocess import SimByteSink, SimDatagramSink, SimSerialPort
from simulator.stats import SimStats

__all__ = ["CheckResult", "ShowTestReport", "run_show_test"]

F32 = NDArray[np.float32]
LIT = 1.5 / 255.0
_COLOR = ParamSpec(name="color", kind=ParamKind.COLOR, default="white", doc="")


@dataclass(slots=True)
class CheckResult:
    name: str
    passed: bool = True
    detail: str = "not reached"
    reached: bool = False
    first_failure: float | None = None


@dataclass(slots=True)
class ShowTestReport:
    venue: str
    frames: int = 0
    position: float = 0.0
    checks: list[CheckResult] = field(default_factory=list)
    stream: list[CheckResult] = field(default_factory=list)
    simulator: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.passed and c.reached for c in self.checks) and all(
            c.passed for c in self.stream
        )


def _describe(check: Check, index: int) -> str:
    if check.name:
        return check.name
    when = f"at {check.at}" if check.at is not None else f"between {check.between}"
    return f"check {index + 1} ({when})"


@dataclass(slots=True)
class _Prepared:
    check: Check
    result: CheckResult
    start: float
    end: float
    targets: NDArray[np.int32]
    color: tuple[float, ...] | None


def _evaluate(p: _Prepared, light: F32, t: float) -> None:
    c, r = p.check, p.result
    r.reached = True
    sel = light[p.targets]
    if len(sel) == 0:
        ok, detail = False, "the target selects no elements in this venue"
    elif c.dark is not None:
        peak = float(sel.max())
        lit = int((sel.max(axis=1) > LIT).sum())
        ok = (peak <= LIT) == c.dark
        detail = f"{lit}/{len(sel)} lit, brightest {peak:.3f}"
    elif c.lit is not None:
        frac = float((sel.max(axis=1) > LIT).mean())
        ok, detail = frac >= c.lit, f"{frac:.0%} lit (want >= {c.lit:.0%})"
    elif c.level is not None:
        mean = float(sel.max(axis=1).mean())
        ok = c.level.min <= mean <= c.level.max
        detail = f"mean brightness {mean:.3f} (want {c.level.min:g}..{c.level.max:g})"
    else:
        assert p.color is not None
        want = np.asarray(p.color, np.float32)
        along = float((sel @ want).mean() / max(float(want @ want), 1e-9))
        norm = sel / np.maximum(sel.max(axis=1, keepdims=True), 1e-6)
        dist = float(np.linalg.norm(norm.mean(axis=0) - want / max(float(want.max()), 1e-6)))
        ok = along >= c.min_level and dist <= c.tolerance
        detail = (
            f"level along colour {along:.2f} (want >= {c.min_level:g}), colour distance {dist:.2f}"
        )
    if not ok and r.passed:
        r.passed, r.first_failure = False, t
        r.detail = f"at {t:.3f} s: {detail}"
    elif r.passed:
        r.detail = detail


def _prepare_checks(spec: ExpectFile, job: VenueJob) -> list[_Prepared]:
    out = []
    for i, check in enumerate(spec.checks):
        if check.at is not None:
            start = end = resolve_time(str(check.at), job.loaded, f"checks[{i}].at")
        else:
            assert check.between is not None
            start = resolve_time(str(check.between[0]), job.loaded, f"checks[{i}].between")
            end = resolve_time(str(check.between[1]), job.loaded, f"checks[{i}].between")
        target = Target(group=check.target) if isinstance(check.target, str) else check.target
        targets = select(target, job.plan.twin, job.plan.elements)
        color = None
        if check.color is not None:
            try:
                color = normalise_param(_COLOR, check.color, clip_length=1.0).at(0.0)
            except ParamError as exc:
                raise ValueError(f"checks[{i}].color: {exc.message}") from exc
        out.append(_Prepared(check, CheckResult(_describe(check, i)), start, end, targets, color))
    return out


def run_show_test(job: VenueJob, spec: ExpectFile, *, max_frames: int = 200_000) -> ShowTestReport:
    """Play the venue through the real session (engine, player, commands) in virtual time."""
    plan, patch = job.plan, job.patch
    protocol = None if spec.output == "rig" else Protocol(spec.output)
    routes = plan_routes(plan.twin, protocol=protocol)
    sim = SimulatorCore(twin=plan.twin, patch=patch, routes=routes, fps=plan.fps)
    clock = ManualClock(autojump=True)
    outputs = build_outputs(
        routes, patch.universes, venue=plan.venue, show_name=job.loaded.show.name, clock=clock,
        fps=plan.fps, sinks=lambda r: SimDatagramSink(sim, clock, r.protocol.value),
        serial_opener=lambda device: SimSerialPort(SimByteSink(sim, clock, device=device)),
        venue_plan=(plan, patch), paced_serial=False,
    )  # fmt: skip
    checks = _prepare_checks(spec, job)
    start = resolve_time(str(spec.start), job.loaded, "start")
    until = (
        resolve_time(str(spec.until), job.loaded, "until")
        if spec.until is not None
        else plan.duration
    )
    report = ShowTestReport(venue=plan.venue)
    has_beam = np.zeros(plan.elements.n, np.bool_)
    decoded = plan.new_frame()
    period = 1.0 / plan.fps

    def on_frame(prepared: Prepared, now: float) -> None:
        # the show time this frame depicts: a venue's output trim renders ahead of (or
        # behind) the show position, by design
        t = plan.render_time(prepared.show_frame)
        light = appearance_from_frame(sim.frame(decoded), plan.elements, has_beam).light
        for p in checks:
            if p.start - period / 2 <= t <= p.end + period / 2 or (
                p.start == p.end and abs(t - p.start) < period / 2
            ):
                _evaluate(p, light, t)
        report.frames += 1
        report.position = t
        if t >= until or report.frames >= max_frames:
            session.stop()

    options = SessionOptions(
        go=True, auto_go=spec.auto_go, hold_wait=spec.hold_wait, end_action="hold"
    )
    session = VenueSession(
        job, options, clock=clock, outputs=outputs, start=start, on_frame=on_frame
    )
    session.run_inline()
    report.checks = [p.result for p in checks]
    stats = sim.statistics()
    report.simulator = stats.as_dict()
    if spec.stream is not None:
        report.stream = _stream_checks(spec, stats)
    return report


def _stream_checks(spec: ExpectFile, stats: SimStats) -> list[CheckResult]:
    s = spec.stream
    assert s is not None
    out = []
    if s.fps is not None:
        measured = stats.timing.measured_fps or 0.0
        ok = abs(measured - s.fps) <= s.fps * s.fps_tolerance
        out.append(
            CheckResult(f"frames at {s.fps:g} fps", ok, f"measured {measured:.3f} fps", True)
        )
    gaps = stats.sequence_gaps
    out.append(CheckResult("no sequence gaps", gaps <= s.max_sequence_gaps, f"{gaps} gaps", True))
    torn = stats.torn_frames
    out.append(
        CheckResult("no torn frames", torn <= s.max_torn_frames, f"{torn} torn frames", True)
    )
    bad = stats.malformed.total
    out.append(
        CheckResult("no malformed packets", bad <= s.max_malformed, f"{bad} malformed", True)
    )
    return out


def load_spec_path(show_arg: Path | None, spec_path: Path, spec: ExpectFile) -> Path:
    if show_arg is not None:
        return show_arg
    if spec.show is None:
        raise ValueError("no show: name it on the command line or as 'show:' in the file")
    return spec_path.parent / spec.show
