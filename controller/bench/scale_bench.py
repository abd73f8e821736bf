"""L8 the scale ladder: synthetic cities played live as sACN into a counting receiver.

Each rung writes a city of N universes with the five full-city layers `bench render` uses,
starts the counting receiver (`controller.bench.receiver`) in its own process, and plays
the city with the real command line, `citypulse run CITY --output sacn --target
127.0.0.1:PORT --go --duration S [--shards K] [--rt] --json`, as an operator would. The
sender's processes are sampled (psutil) for CPU and memory while they play; the receiver
judges every frame. Figures per rung: frames the grid asked for, sent, dropped (skipped by
the sender as too late, or never seen by the receiver), incomplete (a universe missing at
a sync), achieved fps at the receiver, frame-interval deviation, sender CPU (per frame and
in cores), receiver CPU, peak memory, and the packets/s that arrived. A SCHED_FIFO 99
watchdog on every CPU (`simulator.stalls`) runs while the sender plays: `host` lists the
stalls of the whole machine, `wire_missing` the frames missing at the receiver and how many
of them in such a stall (kernel arrival stamps, CLOCK_REALTIME, against shared time: the two
differ by the wall clock's slew since this process read it, well under a millisecond).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from controller.bench.receiver import receive
from controller.bench.synthetic import write_city
from controller.clock import Clock
from simulator.stall_intervals import Interval
from simulator.stalls import HostStalls

__all__ = ["run_rung", "sample_tree"]

SAMPLE_S = 0.25


def sample_tree(pid: int) -> dict[int, tuple[float, float]] | None:
    """{pid: (CPU seconds, resident MiB)} of process `pid` and its descendants, or None."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - the bench extra is not installed
        return None
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    out: dict[int, tuple[float, float]] = {}
    for p in procs:
        try:
            t = p.cpu_times()
            out[p.pid] = (t.user + t.system, p.memory_info().rss / 2**20)
        except psutil.Error:
            continue
    return out


def _sender(
    show: Path, port: int, *, seconds: float, shards: int, rt: bool, clock: Clock
) -> tuple[dict[str, Any], list[tuple[float, float, float]], str]:
    """Run `citypulse run`; its report, the (time, cpu, rss) samples and its stderr."""
    argv = [
        sys.executable, "-m", "controller", "run", str(show), "--output", "sacn",
        "--target", f"127.0.0.1:{port}", "--go", "--duration", f"{seconds:g}",
        "--shards", str(shards), "--json", *(["--rt"] if rt else []),
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples: list[tuple[float, float, float]] = []
    cpu: dict[int, float] = {}  # per process, so one that ends keeps what it used
    while proc.poll() is None:
        got = sample_tree(proc.pid)
        if got is not None:
            for pid, (used, _) in got.items():
                cpu[pid] = max(cpu.get(pid, 0.0), used)
            samples.append((clock.now(), sum(cpu.values()), sum(r for _, r in got.values())))
        clock.wait_until(clock.now() + SAMPLE_S)
    out, err = proc.communicate()
    if proc.returncode != 0 or not out.strip():
        msg = f"citypulse run exited {proc.returncode}: {err.strip()[-2000:]}"
        raise RuntimeError(msg)
    report: dict[str, Any] = json.loads(out)
    return report, samples, err


def host_steal_s() -> float | None:
    """CPU time the hypervisor took from this VM so far (all CPUs, /proc/stat's steal), or
    None where the kernel does not say. Stalls of every process at once show up here."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _steady(samples: list[tuple[float, float, float]], seconds: float) -> dict[str, Any]:
    """CPU over the playing part (the last `seconds` of the sender's life, trimmed)."""
    if len(samples) < 3:
        return {"cpu_cores": None, "peak_rss_mib": None}
    end = samples[-1][0]
    window = [s for s in samples if end - 0.9 * seconds <= s[0] <= end - 0.5]
    if len(window) < 2:
        window = samples[-3:]
    (t0, c0, _), (t1, c1, _) = window[0], window[-1]
    return {
        "cpu_cores": round((c1 - c0) / max(t1 - t0, 1e-9), 3),
        "peak_rss_mib": round(max(s[2] for s in samples), 1),
    }


def run_rung(
    universes: int, *, seconds: float, shards: int, rt: bool, workdir: Path, clock: Clock,
    fps: int = 44,
) -> dict[str, Any]:  # fmt: skip
    show = write_city(workdir / f"city{universes}", universes, fps=fps)
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=receive, args=(child, float(fps), rt), daemon=True)
    proc.start()
    try:
        if not parent.poll(60):
            raise RuntimeError("the receiver did not start")
        port = parent.recv()
        steal_before = host_steal_s()
        with HostStalls() as watchdog:
            report, samples, _ = _sender(show, port, seconds=seconds, shards=shards, rt=rt,
                                         clock=clock)  # fmt: skip
        steal_after = host_steal_s()
        parent.send("stop")
        if not parent.poll(60):
            raise RuntimeError("the receiver did not report")
        received: dict[str, Any] = parent.recv()
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    figures = _figures(universes, fps, seconds, shards, report, received, _steady(samples, seconds))
    stolen = None if steal_before is None or steal_after is None else steal_after - steal_before
    figures["host_steal_s"] = None if stolen is None else round(stolen, 2)
    stalls = watchdog.result()
    figures["host"] = stalls.as_dict()
    # The sender's own drops name ticks of a grid whose epoch `run --json` does not report, so
    # the frames missing at the receiver are what is set against the host stalls.
    gaps = [(Interval(start=t0, end=t1), n) for s in received["sources"] for t0, t1, n in s["gaps"]]
    figures["wire_missing"] = stalls.attribute_gaps(gaps)
    return figures


def _figures(
    universes: int, fps: int, seconds: float, shards: int, report: dict[str, Any],
    received: dict[str, Any], steady: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    sources = received["sources"]
    frames = min((s["frames"] for s in sources), default=0)
    sent = int(report["frames_sent"])
    cpu = steady["cpu_cores"]
    shard_reports = report.get("shards") or [report]
    return {
        "universes": universes,
        "shards": shards,
        "seconds": seconds,
        "fps_target": fps,
        "frames_expected": round(seconds * fps),
        "frames_sent": sent,
        "frames_dropped_sender": int(report["frames_dropped"]),
        "frames_skipped_wire": sum(s["frames_skipped"] for s in sources),
        "frames_received": frames,
        "frames_incomplete": sum(s["incomplete"] for s in sources),
        "out_of_order": sum(s["out_of_order"] for s in sources),
        "universes_seen": sum(s["universes"] for s in sources),
        "fps_achieved": min((s["fps"] for s in sources), default=0.0),
        "interval_dev_ms": max(
            (s["interval_dev_ms"] for s in sources if s["interval_dev_ms"]),
            key=lambda d: d["p99"],
            default=None,
        ),
        "lateness_ms": report.get("lateness_ms"),
        # Each drop: a DropRecord (controller.runtime.engine).
        "drops": [d for shard in report.get("shards", [report]) for d in shard.get("drops", [])],
        "sender_cpu_cores": cpu,
        "sender_cpu_ms_per_frame": None if cpu is None else round(cpu / fps * 1e3, 3),
        "sender_peak_rss_mib": steady["peak_rss_mib"],
        "receiver_cpu_s": received["cpu_s"],
        "receiver_peak_rss_mib": received["peak_rss_mib"],
        "receiver_socket_drops": received["socket_drops"],
        "packets_per_s": round(sum(s["data_packets"] for s in sources) / max(seconds, 1e-9)),
        "realtime": report.get("realtime"),
        "send_errors": sum(o.get("errors", 0) for o in report.get("outputs", [])),
        "errors": [r.get("error") for r in shard_reports if r.get("error")],
    }
