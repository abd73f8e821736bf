"""L8 citypulse against the `sacn` library and PyArtNet: same universes, same effect, one run.

One receiver process (`controller.bench.receiver`) counts what arrives from each sender in
turn; between runs it reports and starts afresh. For every universe count of the ladder:
- citypulse: `citypulse run` of a city whose every pixel fades up and down (2 s each way,
  `synthetic.write_fade_city`), sACN unicast to the receiver, with sync;
- sacn and PyArtNet: the same universes and fade, driven as their docs show
  (`controller.bench.peers`), each in its own process.
Each sender is sampled from outside for CPU and memory while it plays. Figures per run:
universes whose packets arrived at >= 97 % of 44 fps, packets/s that arrived, CPU per
frame (CPU seconds per second / 44), frame-interval deviation at the receiver (syncs, or
the first universe's packets without sync), peak memory; then ratios against citypulse.
"""

from __future__ import annotations

import multiprocessing as mp
import subprocess
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from controller.bench.peers import pyartnet_peer, sacn_peer
from controller.bench.receiver import receive
from controller.bench.scale_bench import sample_tree
from controller.bench.synthetic import write_fade_city
from controller.clock import Clock

__all__ = ["SYSTEMS", "compare", "ratios"]

SYSTEMS = ("citypulse", "sacn", "pyartnet")
SAMPLE_S = 0.25
FPS = 44


def _play(system: str, show: Path, port: int, universes: int, seconds: float, rt: bool) -> Any:
    """Start one sender: a `subprocess.Popen` (citypulse) or a `multiprocessing.Process`."""
    if system == "citypulse":
        argv = [
            sys.executable, "-m", "controller", "run", str(show), "--output", "sacn",
            "--target", f"127.0.0.1:{port}", "--go", "--duration", f"{seconds:g}", "--json",
            *(["--rt"] if rt else []),
        ]  # fmt: skip
        return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = {"sacn": sacn_peer, "pyartnet": pyartnet_peer}[system]
    peer = mp.get_context("spawn").Process(
        target=target, args=(port, universes, seconds, FPS), name=f"{system} peer"
    )
    peer.start()
    return peer


def _watch(handle: Any, clock: Clock, seconds: float) -> dict[str, Any]:
    """Sample the sender's process tree until it ends: CPU cores while playing, peak MiB."""
    pid = handle.pid
    alive = (lambda: handle.poll() is None) if hasattr(handle, "poll") else handle.is_alive
    cpu: dict[int, float] = {}
    samples: list[tuple[float, float]] = []
    peak = 0.0
    while alive():
        got = sample_tree(pid)
        if got:
            for p, (used, _) in got.items():
                cpu[p] = max(cpu.get(p, 0.0), used)
            samples.append((clock.now(), sum(cpu.values())))
            peak = max(peak, sum(r for _, r in got.values()))
        clock.wait_until(clock.now() + SAMPLE_S)
    if hasattr(handle, "wait"):
        handle.wait()
    else:
        handle.join()
    end = samples[-1][0] if samples else 0.0
    window = [s for s in samples if end - 0.9 * seconds <= s[0] <= end - 0.5] or samples[-2:]
    cores = None
    if len(window) >= 2:
        (t0, c0), (t1, c1) = window[0], window[-1]
        cores = (c1 - c0) / max(t1 - t0, 1e-9)
    return {"cpu_cores": cores, "peak_rss_mib": round(peak, 1)}


def _run(
    system: str, universes: int, *, seconds: float, rt: bool, workdir: Path, conn: Connection,
    port: int, clock: Clock,
) -> dict[str, Any]:  # fmt: skip
    show = write_fade_city(workdir / f"fade{universes}", universes, fps=FPS)
    handle = _play(system, show, port, universes, seconds, rt)
    sender = _watch(handle, clock, seconds)
    conn.send("report")
    if not conn.poll(60):
        raise RuntimeError("the receiver did not report")
    received: dict[str, Any] = conn.recv()
    sources = received["sources"]
    active = max((s["active_s"] for s in sources), default=0.0)
    data = sum(s["data_packets"] for s in sources)
    cores = sender["cpu_cores"]
    return {
        "system": system,
        "universes": universes,
        "universes_at_44fps": sum(s["universes_at_fps"] for s in sources),
        "universes_seen": sum(s["universes"] for s in sources),
        "packets_per_s": round(data / active) if active else 0,
        "cpu_cores": None if cores is None else round(cores, 3),
        "cpu_ms_per_frame": None if cores is None else round(cores / FPS * 1e3, 3),
        "interval_dev_ms": max(
            (s["interval_dev_ms"] for s in sources if s["interval_dev_ms"]),
            key=lambda d: d["p99"],
            default=None,
        ),
        "peak_rss_mib": sender["peak_rss_mib"],
        "incomplete_frames": sum(s["incomplete"] for s in sources),
        "sync": any(s["frames"] for s in sources),
    }


def compare(
    ladder: list[int], *, seconds: float, rt: bool, workdir: Path, clock: Clock,
    systems: tuple[str, ...] = SYSTEMS,
) -> list[dict[str, Any]]:  # fmt: skip
    ctx = mp.get_context("spawn")
    conn, child = ctx.Pipe()
    receiver = ctx.Process(target=receive, args=(child, float(FPS), rt), daemon=True)
    receiver.start()
    rows = []
    try:
        if not conn.poll(60):
            raise RuntimeError("the receiver did not start")
        port = conn.recv()
        for universes in ladder:
            for system in systems:
                rows.append(_run(system, universes, seconds=seconds, rt=rt, workdir=workdir,
                                 conn=conn, port=port, clock=clock))  # fmt: skip
        conn.send("stop")
        conn.recv()
    finally:
        receiver.join(10)
        if receiver.is_alive():
            receiver.kill()
    return rows


def ratios(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """citypulse against each peer, every ratio oriented so that above 1 favours citypulse:
    universes held at 44 fps (its best rung against theirs), and at each rung packets/s
    arriving (ours / theirs), CPU per frame, jitter p99 and memory (theirs / ours)."""
    by = {(r["system"], r["universes"]): r for r in rows}
    held: dict[str, int] = {}
    for r in rows:
        held[r["system"]] = max(held.get(r["system"], 0), r["universes_at_44fps"])
    peers = [s for s in held if s != "citypulse"]
    rungs = []
    for n in sorted({r["universes"] for r in rows}):
        ours = by.get(("citypulse", n))
        if ours is None:
            continue
        for peer in peers:
            theirs = by.get((peer, n))
            if theirs is None:
                continue
            rungs.append({
                "universes": n, "peer": peer,
                "packets_per_s": _ratio(ours["packets_per_s"], theirs["packets_per_s"]),
                "cpu_per_frame": _ratio(theirs["cpu_ms_per_frame"], ours["cpu_ms_per_frame"]),
                "jitter_p99": _ratio(_p99(theirs), _p99(ours)),
                "memory": _ratio(theirs["peak_rss_mib"], ours["peak_rss_mib"]),
            })  # fmt: skip
    return {
        "universes_held": {p: _ratio(held.get("citypulse"), held[p]) for p in peers},
        "held": held,
        "rungs": rungs,
    }


def _per(value: float | None, count: int) -> float | None:
    return None if value is None or count <= 0 else value / count


def _p99(row: dict[str, Any]) -> float | None:
    dev = row["interval_dev_ms"]
    return None if dev is None else float(dev["p99"])


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 2)
