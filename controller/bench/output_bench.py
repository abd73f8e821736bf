"""L8 output benchmark: encoder packets/s, and frame timing as a receiver sees it.

Part 1 times the Art-Net and sACN senders' whole-frame path (`frame_array`: staging,
sequence numbers, packet bytes) and the same plus `sendto` over loopback UDP.
Part 2 plays a synthetic city in real time with the real player and Art-Net output to a
receiver in ANOTHER process (so its work never shares our GIL). The receiver takes each
datagram's kernel arrival timestamp (SO_TIMESTAMPNS), so the intervals measure when frames
left us, not when a Python receiver woke up; it decodes with the simulator's own wire code
and latches on ArtSync, then reports inter-frame interval deviation, bunched frames and the
long-run rate error from a least-squares fit.
"""

from __future__ import annotations

import multiprocessing as mp
import socket
import struct
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from controller.clock import Clock
from controller.outputs.factory import build_outputs
from controller.outputs.routing import plan_routes
from controller.protocols import artnet, sacn
from controller.runtime.job import load_venue
from controller.runtime.session import SessionOptions, VenueSession
from controller.show.rig import Protocol

__all__ = ["bench_encoders", "bench_timing"]

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def _senders(protocol: str, n: int, port: int) -> Any:
    if protocol == "artnet":
        return artnet.ArtNetSender(
            targets=dict.fromkeys(range(n), ("127.0.0.1", port)),
            sync_address=("127.0.0.1", port),
            mode="constant",
        )
    return sacn.SacnSender(
        cid=bytes(16),
        source_name="citypulse bench",
        universes=range(1, n + 1),
        sync_address=1,
        unicast=dict.fromkeys(range(1, n + 1), ("127.0.0.1", port)),
        discovery_interval_s=None,
        mode="constant",
    )


def bench_encoders(
    *, universes: tuple[int, ...], frames: int, clock: Clock
) -> list[dict[str, Any]]:
    rng = np.random.default_rng(7)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))  # never read: the kernel drops what overflows; sends cost the same
    port = sink.getsockname()[1]
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    results = []
    try:
        for protocol in ("artnet", "sacn"):
            for n in universes:
                sender = _senders(protocol, n, port)
                data = rng.integers(0, 256, (n, 512), dtype=np.uint8)
                packets = 0
                t0 = clock.now()
                for k in range(frames):
                    packets += len(sender.frame_array(k * 0.025, data))
                encode_s = clock.now() - t0
                sent = 0
                t0 = clock.now()
                for k in range(frames):
                    for d in sender.frame_array((frames + k) * 0.025, data):
                        try:
                            tx.sendto(d.data, d.address)
                        except OSError:
                            continue
                        sent += 1
                send_s = clock.now() - t0
                per_frame = packets / frames
                results.append(
                    {
                        "protocol": protocol,
                        "universes": n,
                        "packets_per_frame": per_frame,
                        "encode_packets_per_s": round(packets / encode_s),
                        "encode_send_packets_per_s": round(sent / send_s),
                        "max_fps_encode_send": round(sent / send_s / per_frame, 1),
                    }
                )
    finally:
        sink.close()
        tx.close()
    return results


def _receiver(show: str, port_pipe: Connection, seconds: float) -> None:  # runs in a child process
    from simulator.core import SimulatorCore

    job = load_venue(Path(show), None)
    routes = plan_routes(job.plan.twin, protocol=Protocol.ARTNET)
    core = SimulatorCore(twin=job.plan.twin, patch=job.patch, routes=routes, fps=job.plan.fps)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.5)
    port_pipe.send(sock.getsockname()[1])
    stop = threading.Event()
    idle = 0
    while not stop.is_set():
        try:
            data, ancdata, _flags, source = sock.recvmsg(2048, socket.CMSG_SPACE(16))
        except TimeoutError:
            idle += 1
            if idle > 2 * seconds + 20 or (core.statistics().frames_latched and idle > 4):
                break
            continue
        idle = 0
        t = 0.0
        for level, kind, raw in ancdata:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", raw[:16])
                t = sec + nsec * 1e-9
        core.receive(t, "artnet", data, source)
    port_pipe.send(core.statistics().as_dict())


def bench_timing(*, show: Path, seconds: float, realtime: bool, clock: Clock) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_receiver, args=(str(show), child, seconds), daemon=True)
    proc.start()
    try:
        if not parent.poll(60):
            raise RuntimeError("the receiver process did not start")
        port = parent.recv()
        job = load_venue(show, None)
        plan = job.plan
        routes = plan_routes(plan.twin, protocol=Protocol.ARTNET, target=f"127.0.0.1:{port}")
        outputs = build_outputs(
            routes,
            job.patch.universes,
            venue=plan.venue,
            show_name="bench",
            clock=clock,
            fps=plan.fps,
        )
        session = VenueSession(
            job, SessionOptions(go=True, duration=seconds, realtime=realtime), clock=clock,
            outputs=outputs,
        )  # fmt: skip
        session.run_inline()
        player, engine = session.player, session.engine
        if not parent.poll(seconds + 30):
            raise RuntimeError("the receiver process did not report")
        stats: dict[str, Any] = parent.recv()
    finally:
        proc.join(5)
        if proc.is_alive():
            proc.kill()
    late = np.asarray(player.lateness) * 1e3
    return {
        "universes": len(job.patch.universes),
        "fps": plan.fps,
        "seconds": seconds,
        "realtime": player.realtime_status,
        "frames_sent": engine.frames_sent,
        "frames_dropped": engine.frames_dropped,
        "sender_wakeup_late_ms": {
            "p50": round(float(np.percentile(late, 50)), 3),
            "p99": round(float(np.percentile(late, 99)), 3),
            "max": round(float(late.max()), 3),
        },
        "receiver": {
            k: stats.get(k)
            for k in (
                "frames_latched",
                "torn_frames",
                "sequence_gaps",
                "malformed",
                "intervals",
                "jitter_p50_ms",
                "jitter_p99_ms",
                "jitter_max_ms",
                "measured_fps",
                "rate_error_ppm",
                "bunched",
            )
        },
    }
