"""sACN receiver bookkeeping per universe: live sources, their priority and sequence.

Rules (ANSI E1.31-2016 §6.7.1 network data loss, §6.7.2 sequence numbering, §6.2.3 priority):
- Sources are told apart by CID. A source not heard for 2.5 s is dropped (network data
  loss timeout), which lets a lower-priority backup take over.
- Sequence: discard a packet when -20 < int8(new - last) <= 0 (late or duplicate);
  otherwise the packets skipped in between are counted as a gap.
- Priority: only packets at the highest live priority reach the output; equal priorities
  from two sources are not merged (the latest packet wins).
- At most `MAX_SOURCES` sources per universe are tracked, so hostile CIDs cannot grow memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.wire.sacn import sequence_is_newer

__all__ = ["DATA_LOSS_TIMEOUT_S", "MAX_SOURCES", "UniverseSources", "Verdict"]

DATA_LOSS_TIMEOUT_S = 2.5  # E1.31: E131_NETWORK_DATA_LOSS_TIMEOUT
MAX_SOURCES = 16


@dataclass(slots=True)
class _Source:
    priority: int
    sequence: int
    last_seen: float


@dataclass(frozen=True, slots=True)
class Verdict:
    accept: bool  # the data may reach the output
    out_of_order: bool = False
    gap: int = 0  # packets missing before this one
    lower_priority: bool = False
    terminated: bool = False  # a live source ended its stream with this packet


class UniverseSources:
    """The sources sending one universe, and whose data wins."""

    def __init__(self) -> None:
        self._sources: dict[bytes, _Source] = {}

    def __len__(self) -> int:
        return len(self._sources)

    def expire(self, now: float) -> None:
        stale = [c for c, s in self._sources.items() if now - s.last_seen > DATA_LOSS_TIMEOUT_S]
        for cid in stale:
            del self._sources[cid]

    def packet(
        self, now: float, *, cid: bytes, priority: int, sequence: int, terminated: bool
    ) -> Verdict:
        """Judge one data packet of this universe (see the module rules)."""
        self.expire(now)
        source = self._sources.get(cid)
        if source is None:
            if terminated or len(self._sources) >= MAX_SOURCES:
                return Verdict(accept=False)  # unknown source ending, or no room: ignore
            source = self._sources[cid] = _Source(priority, sequence, now)
            gap = 0
        else:
            if not sequence_is_newer(source.sequence, sequence):
                return Verdict(accept=False, out_of_order=True)
            gap = ((sequence - source.sequence) & 0xFF) - 1
            source.sequence, source.last_seen, source.priority = sequence, now, priority
        if terminated:
            del self._sources[cid]  # E1.31 §6.2.6: drop the source at once, ignore its data
            return Verdict(accept=False, gap=gap, terminated=True)
        top = max(s.priority for s in self._sources.values())
        if priority < top:
            return Verdict(accept=False, gap=gap, lower_priority=True)
        return Verdict(accept=True, gap=gap)
