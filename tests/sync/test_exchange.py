"""RFC 5905 §8 offset and delay of one exchange, and which exchanges are garbage."""

from __future__ import annotations

import math

import pytest

from controller.sync import Exchange, Timebase
from controller.sync.exchange import rejection

SHARED = 1_700_000_000.0


def test_offset_and_delay_follow_rfc_5905_section_8() -> None:
    # Venue clock 0.5 s behind shared time; 30 ms out, 50 ms back, 1 ms at the server.
    exchange = Exchange(t1=100.0, t2=SHARED + 0.530, t3=SHARED + 0.531, t4=100.081)
    # θ = ½[(T2 − T1) + (T3 − T4)], δ = (T4 − T1) − (T3 − T2)
    assert exchange.offset_s == pytest.approx(SHARED - 100.0 + 0.5 + (0.030 - 0.050) / 2)
    assert exchange.delay_s == pytest.approx(0.080)
    assert exchange.midpoint == pytest.approx(100.0405)


def test_offset_is_wrong_by_half_the_asymmetry_and_exact_when_symmetric() -> None:
    def exchange(forward: float, reverse: float) -> Exchange:
        return Exchange(
            t1=10.0, t2=SHARED + forward, t3=SHARED + forward, t4=10.0 + forward + reverse
        )

    assert exchange(0.05, 0.05).offset_s == pytest.approx(SHARED - 10.0, abs=1e-6)
    assert exchange(0.06, 0.04).offset_s - (SHARED - 10.0) == pytest.approx(0.01, abs=1e-6)


@pytest.mark.parametrize(
    ("t1", "t2", "t3", "t4", "reason"),
    [
        pytest.param(math.nan, 1.0, 1.0, 2.0, "not finite", id="nan"),
        pytest.param(0.0, math.inf, math.inf, 2.0, "not finite", id="inf"),
        pytest.param(0.0, 1e13, 1e13, 2.0, "out of range", id="absurd"),
        pytest.param(5.0, 1.0, 1.0, 4.0, "t4 < t1", id="received-before-sent"),
        pytest.param(0.0, 2.0, 1.0, 4.0, "t3 < t2", id="replied-before-received"),
        pytest.param(0.0, 1.0, 3.0, 1.0, "negative round-trip delay", id="negative-delay"),
        pytest.param(0.0, 1.0, 1.0, 6.0, "over the 5 s limit", id="huge-delay"),
    ],
)
def test_garbage_exchanges_are_rejected_with_a_reason(
    t1: float, t2: float, t3: float, t4: float, reason: str
) -> None:
    exchange = Exchange(t1=t1, t2=t2, t3=t3, t4=t4)
    found = rejection(exchange, max_delay_s=5.0)
    assert found is not None
    assert reason in found
    timebase = Timebase()
    assert timebase.add_exchange(exchange) == found
    assert timebase.rejected == 1
    assert timebase.snapshot(10.0).samples == 0


def test_rounding_sized_negative_delay_counts_as_zero() -> None:
    exchange = Exchange(t1=0.0, t2=1.0, t3=1.0 + 2e-7, t4=1e-7)
    assert rejection(exchange, max_delay_s=5.0) is None
    assert exchange.delay_s == 0.0


def test_duplicate_and_stale_replies_are_dropped() -> None:
    timebase = Timebase()
    first = Exchange(t1=0.0, t2=SHARED + 0.05, t3=SHARED + 0.05, t4=0.1)
    assert timebase.add_exchange(first) is None
    assert timebase.add_exchange(first) == "duplicate reply (same t1)"
    late = Exchange(t1=200.0, t2=SHARED + 200.05, t3=SHARED + 200.05, t4=200.1)
    assert timebase.add_exchange(late) is None
    stale = Exchange(t1=1.0, t2=SHARED + 1.05, t3=SHARED + 1.05, t4=1.1)
    assert timebase.add_exchange(stale) == "older than the window"
    assert timebase.rejected == 2
    assert timebase.snapshot(200.1).samples == 1  # the first left the 120 s window
