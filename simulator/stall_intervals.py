"""Host stalls from per-CPU wake-up gaps, and which lost frames they explain (pure).

A watchdog on each CPU (`simulator.stalls`) wakes on absolute deadlines every `period_s` at
the highest real-time priority (`WakeRecorder` keeps its schedule and its gaps). A gap
between two consecutive wake-ups longer than a threshold means nothing of ours could run on
that CPU for that long. The gap bounds the stall from outside: it is the stall plus up to one
period of the watchdog's own sleep before it. Where every monitored CPU has a gap at the same
instant (`host_stalls`: the intersection of the per-CPU gaps), nothing on the machine ran: on
a VM, the hypervisor took the virtual CPUs. No software sends a frame meanwhile; this module
says which dropped frames (`attribute_drops`) and which frames missing on the wire
(`attribute_gaps`) fall in such a stall.

Times are shared time (UTC seconds, `MonotonicClock().now() + utc_anchor()` in each process);
lengths are seconds inside and milliseconds in reports.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LONG_S",
    "SLACK_S",
    "Interval",
    "WakeRecorder",
    "attribute_drops",
    "attribute_gaps",
    "drops_text",
    "host_line",
    "host_stalls",
    "intersect",
    "stall_extents",
    "stall_summary",
    "steal_ticks",
    "wire_gaps",
]

LONG_S = 0.010  # host stalls listed one by one in a summary: this long or longer
# Each process reads its own UTC anchor once (`utc_anchor()`: wall minus monotonic time), so two
# processes' shared times differ by how much the wall clock was slewed between their reads: far
# below a millisecond on a disciplined host. An interval counts as overlapping a stall when it
# comes within this slack of it.
SLACK_S = 0.001
LATE_FRACTION = 0.5  # the player drops a frame later than this part of a period (its rule)


@dataclass(frozen=True, slots=True, kw_only=True)
class Interval:
    """[start, end] in seconds of one clock (shared time, unless said otherwise)."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end) and self.end >= self.start):
            raise ValueError(f"start={self.start!r}, end={self.end!r}: need finite start <= end")

    @property
    def length_s(self) -> float:
        return self.end - self.start

    def overlaps(self, other: Interval, slack_s: float = 0.0) -> bool:
        """True when the two share more than an instant, each widened by `slack_s`."""
        return self.start - slack_s < other.end and other.start < self.end + slack_s

    def as_pair(self) -> list[float]:
        """[start s (to the microsecond), length ms (to the microsecond)] for reports."""
        return [round(self.start, 6), round(self.length_s * 1e3, 3)]


class WakeRecorder:
    """The watchdog's schedule: deadlines `start + n * period_s`, and its gaps.

    `woke(now)` records the wake-up and returns the next deadline: the first one after `now`,
    computed from `start` (never by adding sleeps, so lateness never accumulates), skipping
    the deadlines a stall made it miss (they are counted, never caught up in a burst). Every
    gap between consecutive wake-ups longer than `threshold_s` is kept (the first `keep`).
    """

    def __init__(
        self, *, start: float, period_s: float, threshold_s: float, keep: int = 100_000
    ) -> None:
        if not (math.isfinite(start) and math.isfinite(period_s) and period_s > 0):
            raise ValueError(f"start={start!r}, period_s={period_s!r}: need a positive period")
        if not (math.isfinite(threshold_s) and threshold_s > period_s):
            raise ValueError(f"threshold_s={threshold_s!r} must exceed period_s={period_s!r}")
        self.start, self.period_s, self.threshold_s, self.keep = start, period_s, threshold_s, keep
        self.last = start  # the previous wake-up (the start counts as one)
        self.wakes = 0
        self.missed = 0  # deadlines skipped because the wake-up came after them
        self.gaps: list[Interval] = []
        self.max_gap_s = 0.0
        self._n = 1

    @property
    def deadline(self) -> float:
        return self.start + self._n * self.period_s

    def woke(self, now: float) -> float:
        gap = now - self.last
        self.max_gap_s = max(self.max_gap_s, gap)
        if gap > self.threshold_s and len(self.gaps) < self.keep:
            self.gaps.append(Interval(start=self.last, end=now))
        following = math.floor((now - self.start) / self.period_s) + 1  # first deadline > now
        if following > self._n:
            self.missed += following - self._n - 1
            self._n = following
        self.last = now
        self.wakes += 1
        return self.deadline


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """Where an interval of `a` and one of `b` overlap (each list sorted and disjoint)."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i].start, b[j].start), min(a[i].end, b[j].end)
        if end > start:
            out.append(Interval(start=start, end=end))
        if a[i].end < b[j].end:
            i += 1
        else:
            j += 1
    return out


def host_stalls(per_cpu: Sequence[Sequence[Interval]]) -> list[Interval]:
    """Intervals in which EVERY CPU had a gap (a gap on some CPUs only is not a host stall)."""
    if not per_cpu:
        return []
    common = sorted(per_cpu[0], key=lambda i: i.start)
    for gaps in per_cpu[1:]:
        common = intersect(common, sorted(gaps, key=lambda i: i.start))
    return common


def stall_extents(per_cpu: Sequence[Sequence[Interval]]) -> list[Interval]:
    """Each host stall widened to the union of the CPU gaps that overlap it: from the first
    CPU stopping to the last one running again. Until then the machine is not whole: the
    threads queued on a CPU still stopped wait for it (measured: three venues' output
    threads woke when the last CPU resumed, 14 ms after the common gap ended)."""
    extents: list[Interval] = []
    for host in host_stalls(per_cpu):
        start, end = host.start, host.end
        for gaps in per_cpu:
            for gap in gaps:
                if gap.overlaps(host):
                    start, end = min(start, gap.start), max(end, gap.end)
        extents.append(Interval(start=start, end=end))
    return extents


def stall_summary(stalls: Sequence[Interval], *, long_s: float = LONG_S) -> dict[str, Any]:
    """Count, total and longest (ms), and every stall of at least `long_s` as [start, ms]."""
    lengths = [s.length_s for s in stalls]
    return {
        "count": len(stalls),
        "total_ms": round(sum(lengths) * 1e3, 3),
        "max_ms": round(max(lengths, default=0.0) * 1e3, 3),
        "long": [s.as_pair() for s in stalls if s.length_s >= long_s],
    }


def _overlapping(window: Interval, stalls: Sequence[Interval], slack_s: float) -> list[Interval]:
    return [s for s in stalls if window.overlaps(s, slack_s)]


def _stall_ms(hit: Iterable[Interval]) -> list[float]:
    return sorted({round(s.length_s * 1e3, 1) for s in hit}, reverse=True)


def _overlap_s(window: Interval, stalls: Sequence[Interval], slack_s: float) -> float:
    """How long `window` spent inside the stalls (each widened by `slack_s`)."""
    total = 0.0
    for s in stalls:
        total += max(0.0, min(window.end, s.end + slack_s) - max(window.start, s.start - slack_s))
    return total


def attribute_drops(
    drops: Iterable[Sequence[float]],
    *,
    frames_dropped: int | None,
    epoch: float | None,
    fps: float | None,
    stalls: Sequence[Interval],
    slack_s: float = SLACK_S,
    late_fraction: float = LATE_FRACTION,
) -> dict[str, Any]:
    """Which of a player's dropped frames a host stall explains.

    `drops`: [tick, frames, woke late ms, preparing took ms] per drop (a venue report's
    `drops`). Tick k was due at shared instant `epoch + k / fps` and the player woke `late`
    ms after. The player drops a frame later than `late_fraction` of a period; the drop is
    the host's when, without the time the whole host stood still inside [deadline,
    deadline + late] (each stall widened by `slack_s`), the player would have been within
    that limit. Frames counted in `frames_dropped` but not listed (a report keeps the first
    drops only), and every frame when `epoch` or `fps` is unknown, are unexplained.
    `frames_dropped` None: no report.
    """
    if frames_dropped is None:
        return {"drops_during_host_stalls": None, "drops_unexplained": None, "host_stalls_ms": []}
    during, hit = 0, []
    if epoch is not None and fps:
        limit_s = late_fraction / fps
        for tick, frames, late_ms, *_ in drops:
            deadline = epoch + tick / fps
            window = Interval(start=deadline, end=deadline + max(late_ms, 0.0) * 1e-3)
            if window.length_s - _overlap_s(window, stalls, slack_s) <= limit_s:
                during += int(frames)
                hit += _overlapping(window, stalls, slack_s)
    during = min(during, frames_dropped)
    return {
        "drops_during_host_stalls": during,
        "drops_unexplained": frames_dropped - during,
        "host_stalls_ms": _stall_ms(hit),
    }


def wire_gaps(times: Sequence[float], period_s: float) -> list[tuple[Interval, int]]:
    """Each interval between consecutive frame times longer than 1.5 periods, with the frames
    it is missing (round(interval / period) - 1, as `simulator.skew` counts them)."""
    if not (math.isfinite(period_s) and period_s > 0):
        raise ValueError(f"period_s={period_s!r} must be a positive number")
    ordered = sorted(times)
    out = []
    for before, after in itertools.pairwise(ordered):
        if after - before > 1.5 * period_s:
            missing = round((after - before) / period_s) - 1
            out.append((Interval(start=before, end=after), missing))
    return out


def attribute_gaps(
    gaps: Iterable[tuple[Interval, int]], *, stalls: Sequence[Interval], slack_s: float = SLACK_S
) -> dict[str, Any]:
    """Frames missing on the wire, and how many of them in gaps that overlap a host stall."""
    missing = during = 0
    hit: list[Interval] = []
    for gap, frames in gaps:
        missing += frames
        found = _overlapping(gap, stalls, slack_s)
        if found:
            during += frames
            hit += found
    return {
        "missing": missing,
        "missing_during_host_stalls": during,
        "missing_unexplained": missing - during,
        "host_stalls_ms": _stall_ms(hit),
    }


def drops_text(dropped: int | None, attribution: dict[str, Any]) -> str:
    """'0', '2 (2 during host stalls of 27 ms)', '3 (1 during a host stall of 27 ms, 2 not)'."""
    if dropped is None:
        return "-"
    during = attribution.get("drops_during_host_stalls") or 0
    if not dropped or not during:
        return str(dropped)
    lengths = ", ".join(f"{ms:g}" for ms in attribution.get("host_stalls_ms", []))
    stalls = "host stalls" if len(attribution.get("host_stalls_ms", [])) != 1 else "a host stall"
    rest = dropped - during
    return f"{dropped} ({during} during {stalls} of {lengths} ms{f', {rest} not' if rest else ''})"


def steal_ticks(proc_stat: str, cpu: int) -> int | None:
    """CPU `cpu`'s steal time in `/proc/stat` (USER_HZ ticks): the time the hypervisor ran
    something else while this virtual CPU had work (proc(5): the 8th value of a `cpuN`
    line). None when the line or the field is not there (an old kernel, no steal clock)."""
    name = f"cpu{cpu}"
    for line in proc_stat.splitlines():
        fields = line.split()
        if fields and fields[0] == name:
            if len(fields) > 8 and fields[8].isdigit():
                return int(fields[8])
            return None
    return None


def host_line(host: dict[str, Any]) -> str:
    """The report line of a `StallReport.as_dict()`: how many host stalls, the longest, and
    whether the watchdog ran at normal priority (then it attributes no drop)."""
    watchdog = host.get("watchdog") or {}
    line = (
        f"  host stalls (every CPU stopped at once, FIFO 99 watchdog): {host.get('count', '-')}, "
        f"max {host.get('max_ms', 0):g} ms"
    )
    if host.get("steal_s") is not None:
        line += f"; CPU time taken by the hypervisor (steal) {host['steal_s']:g} s"
    if watchdog.get("refused"):
        line += f"; watchdog at normal priority ({watchdog['refused']}): no drop is attributed"
    return line
