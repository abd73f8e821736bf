"""Route changes and clock jumps are found where they happen, and nothing else is."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from controller.sync.changes import offset_jump_cut, route_change_cut
from controller.sync.delay_models import ClockModel, PathModel, Scenario, simulate
from controller.sync.fit import FitOptions, fit_window
from controller.sync.samples import SampleArrays, SampleWindow

PATH = PathModel(jitter_s=0.01)
OPTIONS = FitOptions(
    floor_fraction=0.1,
    min_floor_samples=16,
    timestamp_noise_s=50e-6,
    rate_prior=0.0,
    rate_prior_sd=100e-6,
    max_rate=1e-3,
)


def _window(scenario: Scenario, seed: int = 1) -> tuple[SampleWindow, float]:
    """All of `scenario`'s exchanges in a window; also the local time of true τ = 0."""
    sim = simulate(scenario, seed=seed)
    window = SampleWindow(window_s=1e6, max_samples=10_000, max_delay_s=5.0)
    for exchange in sim.exchanges:
        window.add(exchange)
    assert not math.isnan(window.origin_t)
    return window, sim.local_at(0.0) - window.origin_t


def _until(window: SampleWindow, t_rel: float) -> SampleArrays:
    arrays = window.arrays()
    keep = arrays.t <= t_rel
    return SampleArrays(arrays.t[keep], arrays.offset[keep], arrays.delay[keep])


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(PATH, id="exponential"),
        pytest.param(replace(PATH, spike_probability=0.05), id="spikes"),
        pytest.param(replace(PATH, stall_rate_hz=0.5), id="stalls"),
        pytest.param(replace(PATH, jitter="normal", jitter_s=0.02), id="normal"),
    ],
)
def test_jitter_spikes_and_stalls_are_no_route_change(path: PathModel) -> None:
    window, _ = _window(Scenario(path=path, duration_s=120.0))
    t_end = float(window.arrays().t[-1])
    for end in np.arange(20.0, t_end, 0.5):
        assert route_change_cut(_until(window, end), recent_s=8.0, min_step_s=0.004) is None


@pytest.mark.parametrize("step_s", [0.02, -0.02])
def test_route_change_is_cut_just_after_it_happened(step_s: float) -> None:
    path = replace(PATH, forward_s=0.06, reverse_s=0.06, step_at_s=40.0, step_forward_s=step_s)
    path = replace(path, step_reverse_s=step_s)
    window, zero = _window(Scenario(path=path, duration_s=60.0))
    for end in np.arange(20.0, 60.0, 0.5):
        cut = route_change_cut(_until(window, end - zero), recent_s=8.0, min_step_s=0.004)
        if cut is not None:
            break
    assert cut is not None
    assert end <= 48.0  # believed within the 8 s it must last
    assert 40.0 <= cut + zero <= 41.0  # two round trips past the change


def test_clock_jump_is_cut_where_it_happened_and_jitter_is_not_one() -> None:
    clock = ClockModel(conductor_steps=((40.0, 0.01),))
    window, zero = _window(Scenario(clock=clock, path=PATH, duration_s=60.0))
    fit = fit_window(_until(window, 39.0 - zero), OPTIONS)
    assert fit is not None
    found = []
    for end in np.arange(30.0, 60.0, 0.5):
        cut = offset_jump_cut(_until(window, end - zero), fit, recent_s=8.0, min_step_s=0.004)
        found.append((end, cut))
    assert all(cut is None for end, cut in found if end < 40.0)
    first = next((end, cut) for end, cut in found if cut is not None)
    assert first[0] <= 46.0
    assert first[1] is not None
    assert 40.0 <= first[1] + zero <= 40.5
