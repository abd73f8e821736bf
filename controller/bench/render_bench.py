"""L8 measure render + patch speed: frames/s, channels/s, per-frame p50/p99/max.

Frames are timed one by one on the injected clock (render, then patch), walking show time
at the show's fps from `start`. With `send`, each frame is then encoded and sent as sACN
over loopback the way the live output does it, and that is timed apart. Per-effect cost is timed the same way, clip by clip, and
reported as microseconds per 1,000 elements so designers can budget effects.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from controller.clock import Clock
from controller.compile.plan import VenuePlan
from controller.outputs.network import SacnOutput
from controller.outputs.routing import Route
from controller.outputs.udp import UdpSink
from controller.patch.patcher import Patch
from controller.render import jit
from controller.render.renderer import composite_clip, render
from controller.show.rig import Protocol

__all__ = ["BenchCase", "bench_effects", "bench_render", "percentiles"]


@dataclass(frozen=True, slots=True)
class BenchCase:
    name: str
    plan: VenuePlan
    patch: Patch
    compile_s: float


def percentiles(samples_s: list[float]) -> dict[str, float]:
    a = np.asarray(samples_s) * 1e3
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p99_ms": round(float(np.percentile(a, 99)), 3),
        "max_ms": round(float(a.max()), 3),
        "mean_ms": round(float(a.mean()), 3),
    }


class _Sink:
    """sACN by unicast into a socket of ours, read back after each frame (untimed): the
    encode + send cost of a frame, as the live output pays it (batched, UDP GSO)."""

    def __init__(self, patch: Patch, clock: Clock) -> None:
        self.rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with contextlib.suppress(OSError):
            self.rx.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)  # SO_RCVBUFFORCE (root)
        self.rx.bind(("127.0.0.1", 0))
        self.rx.setblocking(False)
        universes = patch.universes
        route = Route(protocol=Protocol.SACN, universes=universes, wire=universes,
                      host="127.0.0.1", port=self.rx.getsockname()[1])  # fmt: skip
        self.output = SacnOutput(name="bench", routes=[route], universes=universes,
                                 sink=UdpSink(), source_name="citypulse bench")  # fmt: skip
        self.output.open(clock.now())
        self._buffer = bytearray(2048)

    def send(self, now: float, dmx: NDArray[np.uint8]) -> None:
        self.output.stage(now, dmx, deadline=now)
        self.output.commit(now)

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while True:
                self.rx.recv_into(self._buffer)

    def close(self, now: float) -> None:
        self.output.close(now)
        self.rx.close()


def bench_render(
    case: BenchCase, *, frames: int, start: float, clock: Clock, send: bool = False
) -> dict[str, Any]:
    plan, patch = case.plan, case.patch
    frame = plan.new_frame()
    driven = plan.new_driven()
    out = patch.new_output()
    sink = _Sink(patch, clock) if send else None
    for k in range(5):  # warm caches and lazy tables
        patch.apply(render(plan, start + k / plan.fps, frame), out)
    r_times: list[float] = []
    p_times: list[float] = []
    s_times: list[float] = []
    total: list[float] = []
    t0 = clock.now()
    for k in range(frames):
        t = (start + k / plan.fps) % plan.duration
        a = clock.now()
        render(plan, t, frame, driven)
        b = clock.now()
        patch.apply(frame, out, plan.intensity, driven)
        c = clock.now()
        r_times.append(b - a)
        p_times.append(c - b)
        total.append(c - a)
        if sink is not None:
            sink.send(c, out)
            s_times.append(clock.now() - c)
            sink.drain()
    wall = clock.now() - t0
    if sink is not None:
        sink.close(clock.now())
    channels = len(patch.universes) * 512
    fps = frames / wall
    totals = percentiles(total)
    return {
        "case": case.name,
        "elements": plan.elements.n,
        "universes": len(patch.universes),
        "channels": channels,
        "clips": len(plan.clips),
        "frames": frames,
        "compile_s": round(case.compile_s, 3),
        "frames_per_s": round(fps, 1),
        "channels_per_s": round(fps * channels),
        "render": percentiles(r_times),
        "patch": percentiles(p_times),
        "frame": totals,
        "meets_44fps_11ms": totals["p99_ms"] <= 11.0,
        "send": percentiles(s_times) if s_times else None,
        "kernels": "numba" if jit.enabled() else "numpy",
    }


def bench_effects(
    case: BenchCase, *, frames: int, start: float, clock: Clock
) -> list[dict[str, Any]]:
    """Median cost of each effect's own render per frame, per 1,000 elements."""
    plan = case.plan
    frame = plan.new_frame()
    costs: dict[str, list[float]] = {}
    sizes: dict[str, list[int]] = {}
    for k in range(frames):
        t = start + k / plan.fps
        for clip in plan.clips:
            if not clip.start <= t < clip.end:
                continue
            local = t - clip.start
            a = clock.now()
            clip.renderer(local, clip.params_at(local), clip.scratch)
            composite_clip(frame, clip, 1.0)
            b = clock.now()
            costs.setdefault(clip.effect, []).append((b - a) / max(clip.n, 1) * 1e3)
            sizes.setdefault(clip.effect, []).append(clip.n)
    return [
        {
            "effect": name,
            "us_per_1000_elements": round(float(np.median(v)) * 1e6, 2),
            "elements": int(np.median(sizes[name])),
            "samples": len(v),
        }
        for name, v in sorted(costs.items())
    ]
