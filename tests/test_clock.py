"""SkewedClock and UtcClock over a ManualClock: exact maps, exact inverse, deadlines in skewed time."""

from __future__ import annotations

import asyncio
import math

import pytest

from controller.clock import MonotonicClock, SkewedClock, UtcClock, utc_anchor
from controller.testing import ManualClock


def test_offset_and_drift_are_exact_on_a_manual_base() -> None:
    base = ManualClock(100.0)
    clock = SkewedClock(base, offset_s=0.5, drift_ppm=50.0)
    assert clock.now() == 100.5  # at start: the offset alone
    base.advance(1000.0)
    # 1000 s of base time gain 1000 * 50e-6 = 50 ms
    assert clock.now() == pytest.approx(1100.0 + 0.5 + 0.05, abs=1e-12)
    assert clock.now() - base.now() == pytest.approx(0.55, abs=1e-12)


def test_negative_offset_and_drift_lose_time() -> None:
    base = ManualClock(10.0)
    clock = SkewedClock(base, offset_s=-0.25, drift_ppm=-40.0)
    base.advance(500.0)
    assert clock.now() - base.now() == pytest.approx(-0.25 - 0.02, abs=1e-12)


def test_rate_is_one_plus_drift() -> None:
    base = ManualClock(0.0)
    clock = SkewedClock(base, offset_s=3.0, drift_ppm=20.0, start=0.0)
    a = clock.now()
    base.advance(2.0)
    assert (clock.now() - a) / 2.0 == pytest.approx(1.0 + 20e-6, abs=1e-15)


@pytest.mark.parametrize(
    ("offset_s", "drift_ppm"), [(0.0, 0.0), (0.5, 50.0), (-0.5, -50.0), (1.7e9, 0.0), (-300.0, 1e5)]
)
def test_inverse_round_trips(offset_s: float, drift_ppm: float) -> None:
    clock = SkewedClock(ManualClock(1234.5), offset_s=offset_s, drift_ppm=drift_ppm)
    for t in (0.0, 1234.5, 1234.5 + 1e-7, 5000.25, 86400.0 * 3):
        assert clock.to_base(clock.from_base(t)) == pytest.approx(
            t, abs=1e-9 * max(1.0, abs(offset_s) * 1e-6)
        )
        skewed = clock.from_base(t)
        assert clock.from_base(clock.to_base(skewed)) == pytest.approx(skewed, rel=1e-15, abs=1e-9)


def test_wait_until_lands_on_the_inverse_and_never_early() -> None:
    base = ManualClock(50.0, autojump=True)
    clock = SkewedClock(base, offset_s=0.3, drift_ppm=-35.0)
    deadline = clock.now() + 10.0
    clock.wait_until(deadline)
    assert clock.now() >= deadline
    assert base.now() == pytest.approx(50.0 + 10.0 / (1.0 - 35e-6), abs=1e-9)


def test_wait_until_with_a_utc_sized_offset_returns_at_the_deadline() -> None:
    base = ManualClock(1000.0, autojump=True)
    clock = UtcClock(base, anchor=1.7e9)
    deadline = 1.7e9 + 1000.1
    clock.wait_until(deadline)
    assert clock.now() >= deadline
    assert clock.now() - deadline < 1e-6


async def test_sleep_until_wakes_at_the_base_instant_of_a_skewed_deadline() -> None:
    base = ManualClock(0.0)
    clock = SkewedClock(base, offset_s=0.2, drift_ppm=100.0)
    deadline = 5.2  # skewed; base instant = 5 / (1 + 1e-4)
    task = asyncio.create_task(clock.sleep_until(deadline))
    await asyncio.sleep(0)  # noqa: TID251 - let the task register its sleeper
    base.advance(5.0 / (1 + 1e-4) - 1e-6)
    await asyncio.sleep(0)  # noqa: TID251
    assert not task.done()
    base.advance(2e-6)
    await asyncio.wait_for(task, 1.0)
    assert clock.now() >= deadline


def test_utc_clock_is_anchor_plus_base() -> None:
    base = ManualClock(7.0)
    clock = UtcClock(base, anchor=1_700_000_000.0)
    assert clock.now() == 1_700_000_007.0
    base.advance(0.125)
    assert clock.now() == 1_700_000_007.125


def test_utc_anchor_is_read_once() -> None:
    first = utc_anchor()
    assert utc_anchor() == first
    assert first > 1.6e9  # seconds since 1970, from this century
    clock = UtcClock()
    assert clock.now() - (MonotonicClock().now() + first) == pytest.approx(0.0, abs=0.05)


@pytest.mark.parametrize(
    ("offset_s", "drift_ppm"),
    [(math.nan, 0.0), (math.inf, 0.0), (0.0, math.nan), (0.0, 1e5 + 1), (0.0, -2e6)],
)
def test_rejects_values_that_are_not_a_clock(offset_s: float, drift_ppm: float) -> None:
    with pytest.raises(ValueError, match=r"out of range|not a finite number"):
        SkewedClock(ManualClock(), offset_s=offset_s, drift_ppm=drift_ppm)


def test_a_deadline_that_rounds_short_is_still_reached() -> None:
    # to_base rounds this deadline to a base time whose skewed reading is 1 ulp short
    base = ManualClock(1000.0, autojump=True)
    clock = SkewedClock(base, offset_s=-0.45, drift_ppm=37.0)
    deadline = 1078.0235711103792
    assert clock.from_base(clock.to_base(deadline)) < deadline
    clock.wait_until(deadline)
    assert clock.now() >= deadline
