"""L5 one NTP-style four-timestamp time exchange and its offset and delay (RFC 5905 §8).

A venue sends a request at local monotonic time `t1`; the conductor stamps its receipt `t2`
and its reply `t3` in shared time (UTC seconds as the conductor's host reports it); the venue
stamps the reply's arrival `t4` on its monotonic clock. Nothing here reads a clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["MAX_ABS_TIME_S", "Exchange", "rejection"]

# Timestamps beyond this (about 31,700 years) are garbage, and keep the fit's sums finite.
MAX_ABS_TIME_S = 1e12

# A negative delay larger than this is impossible (the drift across one round trip is
# nanoseconds); smaller negative delays are timestamp rounding and count as zero.
_NEGATIVE_DELAY_TOLERANCE_S = 1e-6


@dataclass(frozen=True, slots=True, kw_only=True)
class Exchange:
    """One completed exchange: local send, server receive, server send, local receive.

    `t1` and `t4` are local monotonic seconds; `t2` and `t3` are shared seconds.
    """

    t1: float  # RFC 5905 §8 T1: origin timestamp (client clock)
    t2: float  # RFC 5905 §8 T2: receive timestamp (server clock)
    t3: float  # RFC 5905 §8 T3: transmit timestamp (server clock)
    t4: float  # RFC 5905 §8 T4: destination timestamp (client clock)

    @property
    def offset_s(self) -> float:
        """Shared minus local time: θ = ½[(T2 − T1) + (T3 − T4)] (RFC 5905 §8).

        Exact when the two one-way delays are equal; otherwise wrong by exactly
        (d_fwd − d_rev)/2, which no two-way exchange can observe.
        """
        return ((self.t2 - self.t1) + (self.t3 - self.t4)) / 2.0

    @property
    def delay_s(self) -> float:
        """Round-trip delay without the server's hold time: δ = (T4 − T1) − (T3 − T2) (§8)."""
        return max(0.0, (self.t4 - self.t1) - (self.t3 - self.t2))

    @property
    def midpoint(self) -> float:
        """The local instant the offset belongs to: halfway between send and receipt."""
        return (self.t1 + self.t4) / 2.0


def rejection(exchange: Exchange, *, max_delay_s: float) -> str | None:
    """Why `exchange` cannot be a sample (a short reason), or None when it can.

    Rejects non-finite or absurd timestamps, a reply received before its request was sent,
    a server that answered before it received, a negative or oversized round-trip delay.
    """
    stamps = (exchange.t1, exchange.t2, exchange.t3, exchange.t4)
    if not all(math.isfinite(t) and abs(t) <= MAX_ABS_TIME_S for t in stamps):
        return "timestamp not finite or out of range"
    if exchange.t4 < exchange.t1:
        return "received before sent (t4 < t1)"
    if exchange.t3 < exchange.t2:
        return "server replied before it received (t3 < t2)"
    delay = (exchange.t4 - exchange.t1) - (exchange.t3 - exchange.t2)
    if delay < -_NEGATIVE_DELAY_TOLERANCE_S:
        return f"negative round-trip delay {delay:.6f} s"
    if delay > max_delay_s:
        return f"round-trip delay {delay:.3f} s over the {max_delay_s:g} s limit"
    return None
