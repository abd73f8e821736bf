"""L8 measure render + patch speed: frames/s, channels/s, per-frame p50/p99/max.

Frames are timed one by one on the injected clock (render, then patch), walking show time
at the show's fps from `start`. Per-effect cost is timed the same way, clip by clip, and
reported as microseconds per 1,000 elements so designers can budget effects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from controller.clock import Clock
from controller.compile.plan import VenuePlan
from controller.patch.patcher import Patch
from controller.render.renderer import composite_clip, render

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


def bench_render(case: BenchCase, *, frames: int, start: float, clock: Clock) -> dict[str, Any]:
    plan, patch = case.plan, case.patch
    frame = plan.new_frame()
    driven = plan.new_driven()
    out = patch.new_output()
    for k in range(5):  # warm caches and lazy tables
        patch.apply(render(plan, start + k / plan.fps, frame), out)
    r_times: list[float] = []
    p_times: list[float] = []
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
    wall = clock.now() - t0
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
