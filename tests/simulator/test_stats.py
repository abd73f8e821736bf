"""Frame timing: jitter percentiles, bunching, long-run rate error, bounded memory."""

from __future__ import annotations

import pytest

from controller.protocols import artnet
from simulator.stats import FrameTimer
from tests.simulator.helpers import SOURCE, MakeCore, level

FPS = 40.0
PERIOD = 1.0 / FPS


def test_perfect_frames_have_no_jitter_and_no_rate_error() -> None:
    timer = FrameTimer(fps=FPS)
    for k in range(1000):
        timer.add(1000.0 + k * PERIOD)
    timing = timer.summary()
    assert timing.intervals == 999
    assert timing.jitter_max_ms == pytest.approx(0.0, abs=1e-6)
    assert timing.measured_fps == pytest.approx(FPS, rel=1e-9)
    assert timing.rate_error_ppm == pytest.approx(0.0, abs=1e-3)
    assert timing.bunched == 0


def test_a_slow_sender_clock_shows_as_negative_ppm() -> None:
    timer = FrameTimer(fps=FPS)
    stretch = 1.0 + 100e-6  # frames 100 ppm too far apart
    for k in range(100_000):
        timer.add(k * PERIOD * stretch)
    timing = timer.summary()
    assert timing.rate_error_ppm == pytest.approx(-100.0, abs=0.05)
    assert timing.jitter_p99_ms == pytest.approx(PERIOD * 100e-6 * 1e3, rel=1e-3)


def test_jitter_percentiles_are_in_milliseconds_around_the_period() -> None:
    timer = FrameTimer(fps=FPS)
    t = 0.0
    for k in range(101):
        timer.add(t)
        t += 0.020 if k % 2 else 0.030  # +-5 ms around 25 ms
    timing = timer.summary()
    assert timing.jitter_p50_ms == pytest.approx(5.0)
    assert timing.jitter_max_ms == pytest.approx(5.0)
    assert timing.measured_fps == pytest.approx(FPS, rel=1e-3)


def test_a_frame_within_half_a_period_is_bunched() -> None:
    timer = FrameTimer(fps=FPS)
    for t in (0.0, 0.025, 0.049, 0.055, 0.075):  # 6 ms after the previous one
        timer.add(t)
    timing = timer.summary()
    assert timing.bunched == 1
    assert timing.jitter_max_ms == pytest.approx(19.0)


def test_the_interval_window_is_bounded() -> None:
    timer = FrameTimer(fps=FPS, capacity=10)
    for k in range(100):
        timer.add(k * PERIOD + (0.005 if k < 50 else 0.0))
    timing = timer.summary()
    assert timing.intervals == 10
    assert timing.jitter_max_ms == pytest.approx(0.0, abs=1e-6), "old jitter left the window"


def test_fewer_than_two_frames_give_no_timing() -> None:
    timer = FrameTimer(fps=FPS)
    timer.add(1.0)
    timing = timer.summary()
    assert (timing.intervals, timing.measured_fps, timing.jitter_p99_ms) == (0, None, None)


def test_timer_rejects_nonsense_options() -> None:
    with pytest.raises(ValueError, match="fps=0"):
        FrameTimer(fps=0)


def test_core_times_frames_by_artsync_latches(make_core: MakeCore) -> None:
    core = make_core()
    sender = artnet.ArtNetSender(
        targets=dict.fromkeys((1, 2, 3), SOURCE), sync_address=SOURCE, mode="constant"
    )
    for k in range(1, 41):
        now = k * PERIOD + (0.004 if k == 20 else 0.0)
        for d in sender.frame(now, dict.fromkeys((1, 2, 3), level(k))):
            core.receive(now, "artnet", d.data, SOURCE)
    stats = core.statistics()
    assert stats.timing.jitter_max_ms == pytest.approx(4.0)
    assert stats.timing.measured_fps == pytest.approx(FPS, rel=1e-2)
    assert (stats.frames_latched, stats.torn_frames, stats.timing.bunched) == (40, 0, 0)


def test_core_times_immediate_frames_by_the_lowest_universe(make_core: MakeCore) -> None:
    core = make_core()
    sender = artnet.ArtNetSender(targets=dict.fromkeys((1, 2, 3), SOURCE), mode="constant")
    for k in range(10):
        for n, d in enumerate(sender.frame(k * PERIOD, dict.fromkeys((1, 2, 3), level(k)))):
            core.receive(k * PERIOD + n * 0.001, "artnet", d.data, SOURCE)
    stats = core.statistics()
    assert stats.frames_latched == 10
    assert stats.timing.jitter_max_ms == pytest.approx(0.0, abs=1e-6)


def test_as_dict_has_flat_scalars_and_nested_protocol_counts(make_core: MakeCore) -> None:
    report = make_core().statistics().as_dict()
    assert report["frames_latched"] == 0
    assert report["packets_by_protocol"] == {
        "artnet": 0,
        "sacn": 0,
        "osc": 0,
        "enttec": 0,
        "opendmx": 0,
    }
    assert report["measured_fps"] is None
    assert report["gaps_by_universe"] == {"1": 0, "2": 0, "3": 0}
