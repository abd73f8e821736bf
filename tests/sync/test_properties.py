"""Whatever exchanges arrive, the timebase never raises and its map never runs backwards."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hypothesis import event, given, settings
from hypothesis import strategies as st

from controller.sync import Exchange, Timebase, TimebaseConfig
from controller.sync.discipline import Discipline, Estimate

SHARED = 1_700_000_000.0
# A small window and lock threshold so short examples reach LOCKED and exercise the map.
CONFIG = TimebaseConfig(min_floor_samples=4, fit_interval_s=0.05, lock_error_s=1.0)
HEAVY = settings(max_examples=min(150, settings().max_examples), deadline=None)

any_float = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 1e12, -1e12, 1e13, SHARED, math.nan]
)
garbage = st.builds(Exchange, t1=any_float, t2=any_float, t3=any_float, t4=any_float)


@st.composite
def plausible(draw: st.DrawFn, offset: float) -> list[Exchange]:
    """A drifting clock over a jittery path, seconds to minutes of it.

    `offset` is the example's shared − local; a stream may shift it (a conductor clock
    step) a little, past the step threshold, or absurdly far.
    """
    offset += draw(st.sampled_from([0.0, 0.0, 0.02, -0.02, 0.2, -0.2, 1e4]))
    drift = draw(st.floats(-2e-3, 2e-3))
    local = draw(st.floats(0.0, 1e6))
    exchanges = []
    for _ in range(draw(st.integers(0, 60))):
        local += draw(st.floats(0.0, 0.5) | st.floats(0.0, 30.0))
        forward, reverse = draw(st.floats(0.0, 0.3)), draw(st.floats(0.0, 0.3))
        hold = draw(st.floats(0.0, 0.01))
        t2 = local + forward + offset + drift * local
        t4 = local + forward + hold + reverse
        exchanges.append(Exchange(t1=local, t2=t2, t3=t2 + hold, t4=t4))
    return exchanges


@dataclass(frozen=True, slots=True)
class Query:
    advance_s: float


def steps(offset: float) -> st.SearchStrategy[list[tuple[str, object]]]:
    return st.lists(
        st.one_of(
            plausible(offset).map(lambda exchanges: ("stream", exchanges)),
            garbage.map(lambda exchange: ("one", [exchange])),
            st.floats(0.0, 30.0).map(lambda advance: ("query", Query(advance))),
        ),
        max_size=8,
    )


@HEAVY
@given(data=st.data())
def test_any_exchanges_never_raise_and_the_map_is_monotonic(data: st.DataObject) -> None:
    offset = data.draw(st.floats(-1e4, 1e4)) + SHARED
    timebase = Timebase(config=CONFIG)
    now = 0.0
    last_shared = -math.inf
    for kind, payload in data.draw(steps(offset)):
        if isinstance(payload, Query):
            now += payload.advance_s
        else:
            assert isinstance(payload, list)
            # Reordered and duplicated, as a broker may deliver them.
            batch = data.draw(st.permutations(payload + payload[: len(payload) // 3]))
            for exchange in batch:
                timebase.add_exchange(exchange)
                if math.isfinite(exchange.t4) and kind == "stream":
                    now = max(now, exchange.t4)
        before = timebase.map  # as it stood, not steered
        clock = timebase.clock_map(now)
        snapshot = timebase.snapshot(now)
        assert snapshot.samples >= 0
        estimate = timebase.estimate(now)
        if estimate is not None:
            assert math.isfinite(estimate.offset_s)
            assert math.isfinite(estimate.error_bound_s)
            assert estimate.error_bound_s >= 0
        if clock is None:
            continue
        event(f"locked; steps={min(len(timebase.steps), 2)}")
        assert 1 + clock.rate > 0
        shared = clock.shared(now)
        # Steering never moves the map back, at the instant it steers or later.
        assert shared >= last_shared
        if before is not None:
            assert shared >= before.shared(now)
        last_shared = shared
        later = now + data.draw(st.floats(0.0, 10.0))
        assert clock.shared(later) >= shared
        # A frame's deadline: the map has reached the frame's instant there.
        instant = shared + data.draw(st.floats(0.0, 10.0))
        deadline = clock.local(instant)
        assert deadline >= now or math.isclose(deadline, now)
        rounding = 16 * math.ulp(max(abs(instant), abs(deadline)))
        assert clock.shared(deadline) >= instant - rounding


@HEAVY
@given(
    moves=st.lists(
        st.tuples(
            st.floats(0.0, 5.0),  # time since the last steer
            st.floats(-1.0, 1.0) | st.floats(-0.06, 0.06),  # estimate − map
            st.floats(-1e-3, 1e-3),  # estimated rate
        ),
        max_size=40,
    )
)
def test_steering_never_runs_the_map_backwards_nor_slews_past_the_limit(
    moves: list[tuple[float, float, float]],
) -> None:
    discipline = Discipline(max_slew=500e-6, step_threshold_s=0.05, slew_time_s=5.0)
    now, last = 100.0, -math.inf
    discipline.steer(Estimate(now, SHARED, 0.0))
    for advance, error, rate in moves:
        now += advance
        clock = discipline.map
        assert clock is not None
        before = clock.shared(now)
        holding = now < clock.local_at
        assert before >= last
        event = discipline.steer(Estimate(now, before + error, rate))
        assert (event is None) == (abs(error) <= 0.05 or holding)
        clock = discipline.map
        assert clock is not None
        assert clock.shared(now) >= before
        if event is None and clock.local_at == now:
            assert abs(clock.rate - rate) <= 500e-6 + 1e-12
        last = clock.shared(now)
