"""The seeded delay models produce the streams they promise."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from controller.sync.delay_models import ClockModel, PathModel, Scenario, simulate

QUIET = PathModel(forward_s=0.03, reverse_s=0.05, jitter="none", processing_s=0.001)


def _delays(scenario: Scenario, seed: int = 1) -> np.ndarray:
    return np.array([exchange.delay_s for exchange in simulate(scenario, seed=seed).exchanges])


def test_same_seed_same_stream_other_seed_other_stream() -> None:
    scenario = Scenario(duration_s=20.0)
    assert simulate(scenario, seed=7).exchanges == simulate(scenario, seed=7).exchanges
    assert simulate(scenario, seed=7).exchanges != simulate(scenario, seed=8).exchanges


def test_quiet_path_gives_exact_delay_and_half_asymmetry_offset_error() -> None:
    clock = ClockModel(offset_s=0.25, drift_ppm=0.0)
    sim = simulate(Scenario(clock=clock, path=QUIET, rate_hz=5.0, duration_s=10.0), seed=1)
    assert len(sim.exchanges) == 50
    for exchange, truth in zip(sim.exchanges, sim.true_offset, strict=True):
        assert exchange.delay_s == pytest.approx(0.08, abs=1e-6)
        assert exchange.t3 - exchange.t2 == pytest.approx(0.001, abs=1e-6)
        # Offset at the midpoint; the truth is at arrival, the same with no drift.
        assert exchange.offset_s - truth == pytest.approx((0.03 - 0.05) / 2, abs=1e-6)


def test_drift_makes_the_true_offset_move_at_the_drift_rate() -> None:
    clock = ClockModel(drift_ppm=50.0)
    sim = simulate(Scenario(clock=clock, path=QUIET, rate_hz=1.0, duration_s=100.0), seed=1)
    slope = np.polyfit(sim.arrival_tau, sim.true_offset, 1)[0]
    assert slope == pytest.approx(-50e-6, rel=1e-3)


@pytest.mark.parametrize("jitter", ["exponential", "pareto"])
def test_one_sided_jitter_never_goes_below_the_floor(jitter: str) -> None:
    path = replace(QUIET, jitter=jitter, jitter_s=0.01)  # type: ignore[arg-type]
    excess = _delays(Scenario(path=path, duration_s=60.0)) - 0.08
    assert excess.min() >= -1e-6
    assert np.median(excess) > 0.001


def test_symmetric_normal_jitter_straddles_the_floor() -> None:
    path = replace(QUIET, jitter="normal", jitter_s=0.01)
    excess = _delays(Scenario(path=path, duration_s=60.0)) - 0.08
    assert np.quantile(excess, 0.05) < -0.015  # RTT sd is 14 ms
    assert abs(np.median(excess)) < 0.002


def test_spikes_stalls_and_loss_show_up() -> None:
    spiky = replace(QUIET, spike_probability=0.05, spike_s=0.1, fifo=False)
    delays = _delays(Scenario(path=spiky, duration_s=100.0))
    assert 0.05 <= np.mean(delays > 0.1) <= 0.15  # either leg may spike
    stalled = replace(QUIET, stall_rate_hz=0.5, stall_s=0.2)
    assert np.max(_delays(Scenario(path=stalled, duration_s=100.0))) >= 0.2
    lossy = replace(QUIET, loss=0.1)
    count = len(simulate(Scenario(path=lossy, duration_s=100.0), seed=1).exchanges)
    assert 850 <= count <= 950


def test_fifo_paths_deliver_in_order() -> None:
    path = replace(QUIET, jitter="exponential", jitter_s=0.05, spike_probability=0.1)
    sim = simulate(Scenario(path=path, duration_s=30.0), seed=3)
    sent = [exchange.t1 for exchange in sim.exchanges]
    assert sent == sorted(sent)


def test_route_step_moves_the_floor_and_conductor_step_the_offset() -> None:
    path = replace(QUIET, step_at_s=10.0, step_forward_s=0.04)
    clock = ClockModel(conductor_steps=((10.0, 0.5),))
    sim = simulate(Scenario(clock=clock, path=path, duration_s=20.0), seed=1)
    delays = np.array([exchange.delay_s for exchange in sim.exchanges])
    assert delays[sim.arrival_tau < 9.9] == pytest.approx(0.08, abs=1e-6)
    assert delays[sim.arrival_tau > 10.2] == pytest.approx(0.12, abs=1e-6)
    truth = sim.true_offset
    assert truth[sim.arrival_tau > 10.2].mean() - truth[sim.arrival_tau < 9.9].mean() == (
        pytest.approx(0.5, abs=1e-3)
    )


def test_outages_send_nothing() -> None:
    sim = simulate(Scenario(path=QUIET, duration_s=30.0, outages=((10.0, 20.0),)), seed=1)
    sent_tau = sim.arrival_tau - 0.081
    assert not np.any((sent_tau >= 10.0) & (sent_tau < 20.0))
    assert sim.local_at(15.0) == pytest.approx(1015.0)
