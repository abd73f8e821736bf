"""L8 one playing session: routes, outputs (real or simulated), engine, player, report."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from controller.cli.common import ArgumentError, VenueJob
from controller.clock import Clock, MonotonicClock
from controller.outputs.base import Output
from controller.outputs.factory import build_outputs, udp_sinks
from controller.outputs.routing import Route, plan_routes
from controller.runtime.engine import Engine
from controller.runtime.playback import EndAction, Playback, PlayState
from controller.runtime.player import Player
from controller.show.rig import Protocol
from controller.testing.clock import ManualClock

__all__ = ["RunOptions", "RunSession"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    output: str = "rig"
    target: str | None = None
    interface: str | None = None
    go: bool = False
    auto_go: bool = False
    hold_wait: float = 2.0
    duration: float | None = None
    end_action: str = "blackout"
    master: float = 1.0
    realtime: bool = False
    virtual: bool = False
    record: Path | None = None
    preview: Path | None = None
    osc_in: int | None = None


class RunSession:
    def __init__(self, job: VenueJob, options: RunOptions, *, start: float | None = None) -> None:
        self.job = job
        self.options = options
        plan = job.plan
        self.clock: Clock = ManualClock(autojump=True) if options.virtual else MonotonicClock()
        protocol = None if options.output in ("rig", "sim") else Protocol(options.output)
        try:
            self.routes: list[Route] = plan_routes(
                plan.twin, protocol=protocol, target=options.target
            )
        except ValueError as exc:
            raise ArgumentError("--target", str(exc)) from exc
        if not self.routes:
            raise ArgumentError("--output", f"venue {plan.venue!r} has no outputs in its rig")
        for r in self.routes:
            if (
                r.protocol in (Protocol.ENTTEC, Protocol.OPENDMX)
                and not r.device
                and options.output != "sim"
            ):
                raise ArgumentError(
                    "--target", f"{r.protocol.value} needs a serial device (--target /dev/ttyUSB0)"
                )
        self.sim: Any = None
        self.recorder: Any = None
        self.outputs = self._outputs()
        cues = [(c.name, c.t, c.hold) for c in plan.cues]
        self.playback = Playback(
            duration=plan.duration, cues=cues, end_action=EndAction(options.end_action)
        )
        self.engine = Engine(
            plan=plan, patch=job.patch, playback=self.playback, outputs=self.outputs
        )
        now = self.clock.now()
        self.playback.set_master(now, options.master)
        self.playback.arm(now)
        if start is not None:
            self.playback.seek(now, start)
        if options.go:
            self.playback.go(now)
        self.started_at = now
        self._held_since: float | None = None
        self.player = Player(
            engine=self.engine, clock=self.clock, realtime=options.realtime, until=self._done
        )
        self.quit = threading.Event()

    # -- wiring --------------------------------------------------------------------------
    def _outputs(self) -> list[Output]:
        plan, patch = self.job.plan, self.job.patch
        kwargs: dict[str, Any] = {}
        if self.options.output == "sim":
            from simulator.core import SimulatorCore
            from simulator.inprocess import SimByteSink, SimDatagramSink, SimSerialPort

            self.sim = SimulatorCore(twin=plan.twin, patch=patch, routes=self.routes, fps=plan.fps)
            if self.options.record is not None:
                from simulator.recorder import Recorder

                self.recorder = Recorder.open(
                    self.options.record, core=self.sim, venue=plan.venue, fps=plan.fps
                )
                self.sim.on_latch = self.recorder.record
            clock = self.clock
            kwargs["sinks"] = lambda route: SimDatagramSink(self.sim, clock, route.protocol.value)
            kwargs["serial_opener"] = lambda device: SimSerialPort(
                SimByteSink(self.sim, clock, device=device)
            )
        else:
            kwargs["sinks"] = udp_sinks(self.options.interface)
        from controller.clock import wall_minus_monotonic

        kwargs["venue_plan"] = (plan, patch)
        kwargs["wall_offset"] = 0.0 if self.options.virtual else wall_minus_monotonic()
        return build_outputs(
            self.routes,
            patch.universes,
            venue=plan.venue,
            show_name=self.job.loaded.show.name,
            clock=self.clock,
            fps=plan.fps,
            **kwargs,
        )

    # -- running -------------------------------------------------------------------------
    def _done(self, now: float) -> bool:
        pb, opts = self.playback, self.options
        state = pb.update(now)
        if self.quit.is_set() or state is PlayState.ENDED:
            return True
        if opts.duration is not None and now - self.started_at >= opts.duration:
            return True
        if state is PlayState.HELD and opts.auto_go:
            self._held_since = self._held_since if self._held_since is not None else now
            if now - self._held_since >= opts.hold_wait:
                self.engine.command(lambda p, t: p.go(t), now)
                self._held_since = None
        return False

    def start(self) -> None:
        self.engine.open(self.clock.now())
        self.player.start()
        if self.options.osc_in is not None:
            self._start_osc(self.options.osc_in)

    def _start_osc(self, port: int) -> None:
        """OSC commands on their own asyncio loop in a thread; commands take the engine lock."""
        import asyncio

        from controller.clock import wall_minus_monotonic
        from controller.runtime.osc_commands import OscCommands
        from controller.transports.osc_in import OscInput

        clock = self.clock
        self.osc_commands = OscCommands(
            engine=self.engine, venue=self.job.plan.venue, now=clock.now
        )
        ready = threading.Event()

        async def serve() -> None:
            async with OscInput(
                handler=self.osc_commands,
                clock=clock,
                wall_offset=wall_minus_monotonic(),
                port=port,
            ) as rx:
                self.osc_port = rx.port
                ready.set()
                while not self.quit.is_set() and self.player.running:
                    await clock.sleep_until(clock.now() + 0.1)

        self._osc_thread = threading.Thread(
            target=lambda: asyncio.run(serve()), name="osc-in", daemon=True
        )
        self._osc_thread.start()
        ready.wait(5.0)

    osc_commands: Any = None
    osc_port: int | None = None

    def run_virtual(self) -> None:
        self.engine.open(self.clock.now())
        self.player.run()
        self.finish()

    def wait(self, timeout: float) -> bool:
        """True while still playing (waits up to `timeout` seconds)."""
        self.player.join(timeout if timeout > 0 else 0.001)
        return self.player.running

    def finish(self) -> None:
        self.player.stop()
        self.player.join(2.0)
        now = self.clock.now()
        played = self.sim.dmx.copy() if self.sim is not None else None  # the last look played
        if self.player.next_deadline is not None:  # the stop frame keeps the frame rhythm
            self.clock.wait_until(self.player.next_deadline)
            now = self.clock.now()
        if self.playback.end_action is EndAction.BLACKOUT:
            self.engine.command(lambda p, t: p.set_blackout(t, True), now)
            self.engine.deliver(self.engine.prepare(now), now)
        self.engine.close(now)
        if self.recorder is not None:
            self.recorder.close()
        self._draw_received(played)

    def _draw_received(self, dmx: Any) -> None:
        if self.sim is None or self.options.preview is None:
            return
        from controller.cli.preview_cmd import save_atomic
        from simulator.draw import draw_received

        image = draw_received(
            self.sim,
            self.job.plan,
            title=f"{self.job.loaded.show.name}: received by the simulator",
            dmx=dmx,
        )
        save_atomic([image], self.options.preview)

    def key(self, ch: str) -> bool:
        """Handle one operator key; False to quit."""
        now = self.clock.now()
        pb = self.playback
        cmds = {
            "g": lambda p, t: p.go(t),
            " ": lambda p, t: p.go(t),
            "h": lambda p, t: p.hold(t),
            "b": lambda p, t: p.set_blackout(t, not p.blackout),
            "+": lambda p, t: p.set_master(t, min(1.0, round(p.master + 0.1, 2))),
            "-": lambda p, t: p.set_master(t, max(0.0, round(p.master - 0.1, 2))),
        }
        if ch == "q":
            self.quit.set()
            return False
        if ch in ("n", "p"):
            snap = pb.snapshot(now)
            names = [c.name for c in pb.cues]
            current = names.index(snap.cue) if snap.cue in names else -1
            target = current + (1 if ch == "n" else -1)
            if 0 <= target < len(names):
                self.last_message = self.engine.command(
                    lambda p, t: p.goto(t, names[target]), now
                ).message
            return True
        if ch in cmds:
            self.last_message = self.engine.command(cmds[ch], now).message
        return True

    last_message = ""

    def status_text(self) -> str:
        now = self.clock.now()
        s = self.engine.statistics(now)
        pb = s.playback
        late = np.percentile(self.player.lateness[-400:], 99) * 1e3 if self.player.lateness else 0.0
        flags = " BLACKOUT" if pb.blackout else ""
        wait = f" waiting at {pb.waiting_at} (GO)" if pb.waiting_at else ""
        return (
            f"{self.job.plan.venue} {pb.state.value.upper()}{flags}{wait}  t={pb.position:7.2f}s  "
            f"cue {pb.cue or '-'} -> {pb.next_cue or '-'}  master {pb.master:.0%}  "
            f"sent {s.frames_sent} dropped {s.frames_dropped} late-p99 {late:.2f}ms  {self.last_message}"
        )

    def report(self) -> dict[str, Any]:
        now = self.clock.now()
        s = self.engine.statistics(now)
        late = np.asarray(self.player.lateness) * 1e3 if self.player.lateness else np.zeros(1)
        out: dict[str, Any] = {
            "venue": self.job.plan.venue,
            "state": s.playback.state.value,
            "position_s": round(s.playback.position, 3),
            "frames_sent": s.frames_sent,
            "frames_dropped": s.frames_dropped,
            "late_frames": s.late_frames,
            "lateness_ms": {
                "p50": round(float(np.percentile(late, 50)), 3),
                "p99": round(float(np.percentile(late, 99)), 3),
                "max": round(float(late.max()), 3),
            },
            "realtime": self.player.realtime_status,
            "outputs": [
                {
                    "name": o.name,
                    "frames": o.frames,
                    "packets": o.packets,
                    "errors": o.errors,
                    "up": o.up,
                    "last_error": o.last_error,
                }
                for o in s.outputs
            ],
        }
        if self.player.error is not None:
            out["error"] = f"{type(self.player.error).__name__}: {self.player.error}"
        if self.sim is not None:
            out["simulator"] = self.sim.statistics().as_dict()
        return out

    def summary(self, report: dict[str, Any]) -> str:
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
        if "simulator" in report:
            sim = report["simulator"]
            lines.append(
                "  simulator: "
                + ", ".join(f"{k}={v}" for k, v in sim.items() if not isinstance(v, dict))
            )
        if "error" in report:
            lines.append(f"  output thread failed: {report['error']}")
        if self.osc_commands is not None:
            c = self.osc_commands
            lines.append(
                f"  osc input :{self.osc_port}: {c.accepted} accepted, {c.refused} refused, {c.ignored} ignored"
            )
        if self.options.preview:
            lines.append(f"  wrote {self.options.preview}")
        if self.options.record:
            lines.append(f"  recorded {self.options.record}")
        return "\n".join(lines) + "\n"
