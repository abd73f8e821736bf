"""L8 a counting sACN receiver for the benchmarks (runs in its own process).

It reads with recvmmsg into one numpy buffer (`controller.outputs.mmsg.ReceiveBatch`), so
it keeps up with thousands of universes at 44 fps on a shared core, and judges every
frame of every source (CID) with array operations, not per packet:
- a frame is a sync packet (E1.31 §6.3.3: the source latches what it sent before it); it
  is complete when every universe of its source arrived since that source's previous
  sync (a universe that arrived twice carries a frame the sender skipped: `superseded`);
- a data packet whose sequence is not the universe's previous + 1 (mod 256) is out of
  order or follows a loss; a sync whose sequence skips counts the frames it skipped;
- the kernel's arrival time of each sync (SO_TIMESTAMPNS) gives frame intervals, and the
  gaps longer than 1.5 periods (when, and how many frames they miss);
- packets the kernel dropped because this socket's buffer was full (/proc/net/udp
  `drops`) are reported apart: they measure the receiver, not the sender.
Packets are parsed by field offsets of ANSI E1.31-2016 (root vector @18, framing sequence
@111, options @112, universe @113; sync sequence @44), independently of the controller's
codec; stream-terminated packets (options bit 6) end a stream and are not frames.
"""

from __future__ import annotations

import contextlib
import os
import resource
import select
import socket
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
from numpy.typing import NDArray

from controller.outputs.mmsg import SO_TIMESTAMPNS, ReceiveBatch
from simulator.stall_intervals import wire_gaps

__all__ = ["FrameCounter", "receive"]

_DATA, _SYNC_VECTOR = 0x00000004, 0x00000008  # E1.31 root layer vectors @18
_TERMINATED = 0x40  # E1.31 framing options bit 6
SO_RCVBUFFORCE = 33
RECEIVE_BUFFER = 256 << 20
RECEIVER_PRIORITY = 5  # SCHED_FIFO below the senders (output 50, rendering 10): it reads
# kernel timestamps from a 256 MiB buffer, so running late costs it nothing, while above the
# rendering it took tens of ms from a shard (both shards dropped frames at the same ticks)


@dataclass(slots=True)
class _Source:
    counts: NDArray[np.int32] = field(default_factory=lambda: np.zeros(65536, np.int32))
    seen: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(65536, np.bool_))
    last_seq: NDArray[np.int32] = field(default_factory=lambda: np.full(65536, -1, np.int32))
    sync_seq: int = -1
    frames: int = 0
    complete: int = 0
    incomplete: int = 0
    skipped: int = 0  # frames a sync sequence jump says never arrived
    out_of_order: int = 0
    superseded: int = 0  # data sent twice before a sync (a frame the sender skipped)
    data: int = 0
    times: list[float] = field(default_factory=list)  # sync arrivals
    total: NDArray[np.int64] = field(default_factory=lambda: np.zeros(65536, np.int64))
    first_at: float = 0.0
    last_at: float = 0.0
    ref: int = -1  # the first universe seen: its packets time the frames of sync-less sources
    ref_times: list[float] = field(default_factory=list)


class FrameCounter:
    """Judge a stream of sACN datagrams frame by frame (see the module docstring)."""

    def __init__(self) -> None:
        self.sources: dict[bytes, _Source] = {}
        self.packets = 0
        self.bytes = 0
        self.other = 0

    def _source(self, cid: bytes) -> _Source:
        found = self.sources.get(cid)
        if found is None:
            found = self.sources[cid] = _Source()
        return found

    def _data(self, rows: NDArray[np.uint8], times: NDArray[np.float64]) -> None:
        if not len(rows):
            return
        same = np.all(rows[:, 22:38] == rows[0, 22:38], axis=1)
        if not same.all():  # two or more sources in one segment: one at a time
            self._data(rows[same], times[same])
            self._data(rows[~same], times[~same])
            return
        src = self._source(rows[0, 22:38].tobytes())
        alive = (rows[:, 112] & _TERMINATED) == 0
        live, at = rows[alive], times[alive]
        if len(live):
            universe = (live[:, 113].astype(np.int64) << 8) | live[:, 114]
            seq = live[:, 111].astype(np.int32)
            before = src.last_seq[universe]
            src.out_of_order += int(np.count_nonzero((before >= 0) & (seq != (before + 1) % 256)))
            src.last_seq[universe] = seq
            top = int(universe.max()) + 1
            arrived = np.bincount(universe, minlength=top)
            src.counts[:top] += arrived.astype(np.int32)
            src.total[:top] += arrived
            src.seen[universe] = True
            src.data += len(live)
            if src.ref < 0:
                src.ref, src.first_at = int(universe[0]), float(at[0])
            src.ref_times += at[universe == src.ref].tolist()
            src.last_at = float(at[-1])

    def _sync(self, row: NDArray[np.uint8], at: float) -> None:
        src = self._source(row[22:38].tobytes())
        seq = int(row[44])
        if src.sync_seq >= 0:
            src.skipped += (seq - src.sync_seq - 1) % 256
        src.sync_seq = seq
        src.frames += 1
        counts = src.counts[src.seen]
        if counts.size and np.all(counts >= 1):
            src.complete += 1
        else:
            src.incomplete += 1
        src.superseded += int(np.maximum(counts - 1, 0).sum())
        src.counts[src.seen] = 0
        src.times.append(at)

    def feed(
        self, data: NDArray[np.uint8], lengths: NDArray[np.int64], times: NDArray[np.float64]
    ) -> None:
        """Datagrams `data[i, :lengths[i]]` that arrived at `times[i]`, in arrival order."""
        n = len(lengths)
        self.packets += n
        self.bytes += int(lengths.sum())
        vector = (
            (data[:n, 18].astype(np.int64) << 24) | (data[:n, 19].astype(np.int64) << 16)
            | (data[:n, 20].astype(np.int64) << 8) | data[:n, 21]
        )  # fmt: skip
        is_data = (vector == _DATA) & (lengths >= 126)
        is_sync = (vector == _SYNC_VECTOR) & (lengths == 49)
        self.other += int(n - np.count_nonzero(is_data | is_sync))
        start = 0
        for i in np.flatnonzero(is_sync).tolist():
            pick = is_data[start:i]
            self._data(data[start:i][pick], times[start:i][pick])
            self._sync(data[i], float(times[i]))
            start = i + 1
        pick = is_data[start:n]
        self._data(data[start:n][pick], times[start:n][pick])

    def report(self, fps: float) -> dict[str, Any]:
        """Per source: frames judged at its syncs, and per universe what arrived how often.

        `universes_at_fps`: universes whose packets arrived at least 97 % of `fps` over the
        source's active span (sync or not); intervals are those of its syncs, or of its
        first universe's packets when it sends no sync, after its first `SETTLE_S`.
        """
        out = [_source_report(cid, s, fps) for cid, s in self.sources.items()]
        return {"packets": self.packets, "bytes": self.bytes, "other": self.other, "sources": out}


SETTLE_S = 1.0  # intervals in a source's first second are left out (processes warming up)


MIN_INTERVALS = 10  # fewer: no interval figures (None), rather than a misleading zero


def _deviation(times: list[float], period: float) -> dict[str, float] | None:
    t = np.asarray(times)
    if len(t) > 2:
        t = t[t >= t[0] + SETTLE_S]
    if len(t) <= MIN_INTERVALS:
        return None
    dev = np.abs(np.diff(t) - period) * 1e3
    return {
        "p50": round(float(np.percentile(dev, 50)), 3),
        "p99": round(float(np.percentile(dev, 99)), 3),
        "max": round(float(dev.max()), 3),
    }


def _source_report(cid: bytes, s: _Source, fps: float) -> dict[str, Any]:
    period = 1.0 / fps
    clock = s.times if len(s.times) > 1 else s.ref_times
    span = (clock[-1] - clock[0]) if len(clock) > 1 else 0.0
    active = max(s.last_at - s.first_at, 1e-9)
    rates = s.total[s.seen] / active
    return {
        "source": cid.hex()[:8], "universes": int(np.count_nonzero(s.seen)),
        "frames": s.frames, "complete": s.complete, "incomplete": s.incomplete,
        "frames_skipped": s.skipped, "out_of_order": s.out_of_order,
        "superseded": s.superseded, "data_packets": s.data,
        "fps": round((len(clock) - 1) / span, 2) if span > 0 else 0.0,
        "interval_dev_ms": _deviation(clock, period),
        "universes_at_fps": int(np.count_nonzero(rates >= 0.97 * fps)),
        "universe_rate_min": round(float(rates.min()), 2) if len(rates) else 0.0,
        "active_s": round(active, 3),
        # [first, last arrival (s, CLOCK_REALTIME), frames missing] around each gap
        "gaps": [[g.start, g.end, n] for g, n in wire_gaps(clock, period)],
    }  # fmt: skip


def _socket_drops(port: int) -> int | None:
    """Datagrams the kernel dropped on our socket (the `drops` column of /proc/net/udp)."""
    try:
        with open("/proc/net/udp", encoding="ascii") as fh:
            for line in fh.readlines()[1:]:
                parts = line.split()
                if int(parts[1].split(":")[1], 16) == port:
                    return int(parts[-1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def receive(conn: Connection, fps: float, realtime: bool = False) -> None:  # pragma: no cover
    """Bind 127.0.0.1:0, say the port, count until told to stop, send the report.

    With `realtime` it asks for SCHED_FIFO (below the senders' output and rendering), so other
    programs on the machine cannot starve it and count as the senders' losses.
    """
    if realtime:
        with contextlib.suppress(OSError, AttributeError):
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RECEIVER_PRIORITY))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
    except OSError:  # not root: as much as the system allows
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    port = sock.getsockname()[1]
    conn.send(port)
    batch, counter = ReceiveBatch(capacity=1024, width=700), FrameCounter()
    fd = sock.fileno()
    stopping, last, cpu_before = False, "stop", _cpu()
    while True:
        ready, _, _ = select.select([fd, conn.fileno()], [], [], 1.0)
        got = 0
        if fd in ready:
            lengths, times = batch.receive(fd)
            got = len(lengths)
            if got:
                counter.feed(batch.data, lengths, times)
        if conn.fileno() in ready and not stopping:
            # "stop" or "report": the senders have finished; drain what is queued, then answer
            stopping, last = True, conn.recv()
        if stopping and not got:
            conn.send(_final(counter, fps, port, cpu_before))
            if last == "stop":
                break
            stopping, counter = False, FrameCounter()  # "report": count afresh for the next
            cpu_before = _cpu()
    sock.close()


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _final(counter: FrameCounter, fps: float, port: int, cpu_before: float) -> dict[str, Any]:
    result = counter.report(fps)
    result |= {
        "cpu_s": round(_cpu() - cpu_before, 3),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "socket_drops": _socket_drops(port),
    }
    return result
