"""L5 the per-direction floor fit: the widest strip between the two legs' one-way floors.

Each exchange gives two one-way readings (RFC 5905 §8 notation, θ the true offset):
  forward  u = t2 − t1 = θ + d_fwd   (offset + delay/2)
  reverse  v = t3 − t4 = θ − d_rev   (offset − delay/2)
Delays are never negative, so every forward reading lies on or above the line θ(t) and every
reverse reading on or below it. With θ(t) = a + b·t, the lowest forward readings trace
θ(t) + floor_fwd and the highest reverse readings θ(t) − floor_rev; the rate b that
separates the two clouds by the widest strip is the clock's rate, and the middle of that
strip is θ(t) + (floor_fwd − floor_rev)/2, the static asymmetry no two-way exchange can see.

Why: a round trip is quick only when both legs are quick at once, but each leg's floor
shows up on its own. With independent queueing on the legs (exponential, mean μ per leg,
n samples) the lowest round trip sits about μ·√(2/n) above the path floor, each leg's
lowest reading about μ/n above its floor: at 15 Hz for 30 s with μ = 20 ms, ~1.3 ms
against ~0.05 ms. This is the convex-hull estimator of Duda et al. (1987) and the linear
programme of Moon, Skelly and Towsley (1999), solved here as a one-dimensional convex
minimisation over the rate (golden section), with the caller's Gaussian rate prior as a
tie-breaker where the data leave the rate free; the strip's rate is then weighed against
that prior by their precisions (a short window's strip rate rests on a few readings).

Error terms, for the caller's bound: each envelope sits above (below) its leg's true floor
by the leg's lowest excess, about exponential with mean m = the floor's local spacing,
estimated from the spacings of the lowest residuals. The midpoint's error is half the
difference of the two excesses, so at most half the larger one; `systematic_s` is the
larger 99th percentile (ln 100 · m) in full, because a FIFO path (TCP) makes the lowest
readings cluster and the spacings understate m (measured: half of it covered only 91 % of
errors at 50 exchanges/s). A tilt of the envelopes moves the midpoint most at the
window's ends: `se_rate` is twice the larger spacing over half the span. Only one-sided (queueing)
jitter has a hard floor; under symmetric jitter the spacings are wide, the bound says so and
the caller's other fits win.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["EnvelopeFit", "envelope_fit"]

_GOLDEN = (5**0.5 - 1) / 2
_ITERATIONS = 48  # golden-section steps: the search interval shrinks by 0.618⁴⁸ ≈ 1e-10
_PRIOR_SDS = 5.0  # the rate is searched within this many prior standard deviations
_SPACING_RANKS = 8  # spacings of the lowest this-many residuals estimate the floor density
_P99 = math.log(100.0)  # exponential excess: P(excess > ln(100)·m) = 1 %


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvelopeFit:
    """The strip's middle line offset(t) = intercept + rate·(t − t_ref), and its error terms."""

    t_ref: float
    intercept: float
    rate: float
    width_s: float  # the strip's width: the round trip both legs' floors add up to
    strip_rate: float  # the rate of the widest strip alone, before the prior is weighed in
    systematic_s: float
    se_intercept: float
    se_rate: float


def _floor_spacing(residuals: NDArray[np.float64]) -> float:
    """Mean spacing of the lowest residuals above the envelope (which touches two at 0)."""
    ranks = min(_SPACING_RANKS, residuals.size - 1)
    lowest = np.partition(residuals, ranks)[: ranks + 1]
    return float(lowest.max()) / max(1, ranks - 1)


def envelope_fit(
    t: NDArray[np.float64],
    offset: NDArray[np.float64],
    delay: NDArray[np.float64],
    *,
    rate_prior: float,
    rate_prior_sd: float,
    max_rate: float,
    timestamp_noise_s: float,
) -> EnvelopeFit | None:
    """Fit the widest strip between forward and reverse readings; None if under 4 samples."""
    if t.size < 4:
        return None
    u = offset + delay / 2.0
    v = offset - delay / 2.0
    # The prior only breaks ties: its weight makes a one-prior-sd change of the rate cost
    # the timestamp noise, far less than any rate the data pin down moves the strip.
    weight = timestamp_noise_s / (2.0 * rate_prior_sd**2)

    def narrowing(b: float) -> float:
        return float(np.max(v - b * t) - np.min(u - b * t)) + weight * (b - rate_prior) ** 2

    lo = max(rate_prior - _PRIOR_SDS * rate_prior_sd, -max_rate)
    hi = min(rate_prior + _PRIOR_SDS * rate_prior_sd, max_rate)
    x1, x2 = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
    f1, f2 = narrowing(x1), narrowing(x2)
    for _ in range(_ITERATIONS):
        if f1 < f2:
            hi, x2, f2 = x2, x1, f1
            x1 = hi - _GOLDEN * (hi - lo)
            f1 = narrowing(x1)
        else:
            lo, x1, f1 = x1, x2, f2
            x2 = lo + _GOLDEN * (hi - lo)
            f2 = narrowing(x2)
    t_ref = float(t[0] + t[-1]) / 2.0
    half_span = max(float(t[-1] - t[0]) / 2.0, 1e-3)
    data_rate = (lo + hi) / 2.0
    spacing = _spacing_at(data_rate, t, u, v)
    # The strip's rate is known to about `se_data`; the prior to `rate_prior_sd`. Combined
    # by their precisions (as the least-squares fits do): a short window's rate, which two
    # or three floor readings decide, leans on the prior instead of ruling the extrapolation
    # (measured on a venue: 100-400 ppm rate errors for the first 10-20 s after a lock).
    se_data = 2.0 * spacing / half_span
    sd = rate_prior_sd
    w = sd**2 / (sd**2 + se_data**2)
    rate = rate_prior + w * (data_rate - rate_prior)
    above = u - rate * t
    below = v - rate * t
    a_u, a_v = float(above.min()), float(below.max())
    width = a_u - a_v
    # A leaned-on rate may leave readings of the two legs on the wrong sides of each other:
    # the line is then a compromise by up to half that overlap, which the bound carries.
    overlap = max(0.0, -width) / 2.0
    return EnvelopeFit(
        t_ref=t_ref,
        intercept=(a_u + a_v) / 2.0 + rate * t_ref,
        rate=rate,
        width_s=width,
        strip_rate=data_rate,
        systematic_s=_P99 * spacing + overlap,
        se_intercept=timestamp_noise_s / t.size**0.5,
        # The search never leaves the prior's ±5 sd: no rate error beyond that, however short
        # the span (a 0.2 s burst would otherwise claim a 10,000 ppm uncertainty).
        se_rate=min(float(np.hypot(w * se_data, (1.0 - w) * sd)), _PRIOR_SDS * sd),
    )


def _spacing_at(
    rate: float, t: NDArray[np.float64], u: NDArray[np.float64], v: NDArray[np.float64]
) -> float:
    """The larger of the two legs' floor spacings seen along `rate`."""
    above, below = u - rate * t, v - rate * t
    return max(_floor_spacing(above - above.min()), _floor_spacing(below.max() - below))
