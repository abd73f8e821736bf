"""The per-direction floor fit on hand-made readings with a known line."""

from __future__ import annotations

import numpy as np
import pytest

from controller.sync.envelope import EnvelopeFit, envelope_fit

US = 1e-6


def _readings(
    rate: float, intercept: float, fwd: np.ndarray, rev: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t, offset, delay) from a true line and each leg's one-way delay."""
    t = np.arange(fwd.size, dtype=np.float64) * 0.1
    theta = intercept + rate * t
    u, v = theta + fwd, theta - rev  # t2 − t1 and t3 − t4
    return t, (u + v) / 2.0, u - v


def _fit(
    t: np.ndarray, offset: np.ndarray, delay: np.ndarray, prior: float = 0.0
) -> EnvelopeFit | None:
    return envelope_fit(
        t, offset, delay, rate_prior=prior, rate_prior_sd=100e-6, max_rate=1e-3,
        timestamp_noise_s=50e-6,
    )  # fmt: skip


def test_recovers_the_line_when_each_leg_touches_its_floor_at_different_times() -> None:
    # Never both legs quick at once: every round trip is at least 10 ms over the floor,
    # yet each leg touches its floor twice, far apart.
    rng = np.random.default_rng(7)
    fwd = 0.05 + 0.01 + rng.exponential(0.02, 400)
    rev = 0.04 + 0.01 + rng.exponential(0.02, 400)
    fwd[[20, 380]] = 0.05
    rev[[60, 300]] = 0.04
    t, offset, delay = _readings(40e-6, 0.3, fwd, rev)
    fit = _fit(t, offset, delay)
    assert fit is not None
    assert fit.strip_rate == pytest.approx(40e-6, abs=1e-9)  # the strip alone: exact
    # Two floor readings per leg, the next ones 10 ms up: by the fit's own measure the
    # strip's rate is loose, and the rate leans on the prior (0); the bound still holds.
    assert 0.0 < fit.rate < 40e-6
    middle = fit.intercept + fit.rate * (t - fit.t_ref)
    miss = np.max(np.abs(middle - (0.3 + 40e-6 * t + 0.005)))
    assert miss <= fit.systematic_s + 3.0 * fit.se_rate * (t[-1] - t[0]) / 2.0
    # With the prior on the truth, the middle of the strip is the truth plus half the
    # static asymmetry (5 ms), exactly.
    exact = _fit(t, offset, delay, prior=40e-6)
    assert exact is not None
    assert exact.rate == pytest.approx(40e-6, abs=1e-9)
    middle = exact.intercept + exact.rate * (t - exact.t_ref)
    assert np.max(np.abs(middle - (0.3 + 40e-6 * t + 0.005))) <= 0.01 * US
    assert exact.width_s == pytest.approx(0.09, abs=1e-9)
    assert (delay.min() - 0.09) >= 0.01  # no round trip came near the floor


def test_a_short_window_leans_on_the_prior_and_a_long_dense_one_does_not() -> None:
    rng = np.random.default_rng(9)
    n = 2000  # 200 s at 10 Hz; one-sided jitter of 10 ms mean per leg
    fwd = 0.05 + rng.exponential(0.01, n)
    rev = 0.05 + rng.exponential(0.01, n)
    t, offset, delay = _readings(60e-6, 0.4, fwd, rev)
    short = _fit(t[:40], offset[:40], delay[:40])  # 4 s
    full = _fit(t, offset, delay)
    assert short is not None
    assert full is not None
    assert abs(short.strip_rate - 60e-6) > 100e-6  # 4 s of floors: the strip alone is far off
    assert abs(short.rate - 60e-6) < 50e-6  # leaning on the prior (0), nearer the truth
    assert abs(full.rate - full.strip_rate) < 1e-6  # 200 s of floors: the data decide
    assert full.rate == pytest.approx(60e-6, abs=3e-6)
    for fit, span in ((short, 4.0), (full, 200.0)):  # the bound covers the truth at the ends
        for at in (t[0], t[0] + span):
            miss = abs(fit.intercept + fit.rate * (at - fit.t_ref) - (0.4 + 60e-6 * at))
            assert miss <= fit.systematic_s + 3.0 * fit.se_rate * span / 2.0


def test_bound_is_tight_when_the_floor_is_dense_and_wide_when_it_is_not() -> None:
    rng = np.random.default_rng(8)
    dense = _fit(
        *_readings(0.0, 0.0, 0.05 + rng.exponential(0.001, 600), 0.05 + rng.exponential(0.001, 600))
    )
    sparse = _fit(
        *_readings(0.0, 0.0, 0.05 + rng.normal(0.0, 0.02, 600), 0.05 + rng.normal(0.0, 0.02, 600))
    )
    assert dense is not None
    assert sparse is not None
    assert dense.systematic_s < 50 * US
    assert sparse.systematic_s > 20 * dense.systematic_s


def test_flat_data_leave_the_rate_at_the_prior() -> None:
    # Two readings per leg at one instant say nothing about the rate: the prior decides.
    t = np.zeros(4)
    offset = np.array([0.001, 0.001, 0.001, 0.001])
    delay = np.array([0.1, 0.1, 0.1, 0.1])
    fit = _fit(t, offset, delay, prior=25e-6)
    assert fit is not None
    assert fit.rate == pytest.approx(25e-6, abs=1e-9)


def test_too_few_readings_give_no_fit() -> None:
    assert _fit(np.zeros(3), np.zeros(3), np.full(3, 0.1)) is None
