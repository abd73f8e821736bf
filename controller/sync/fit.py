"""L5 the offset-and-rate line fit behind the timebase: low-delay filtering or robust regression.

Strategy:
- Model: offset(t) = a + b·(t − t̄), with `t` local seconds and `t̄` the fit's weighted mean
  time, so the intercept and the rate are uncorrelated. A Gaussian prior on `b` keeps the
  rate sane while the window is short: around 0 (oscillators are within about ±100 ppm),
  or around the rate fitted before the samples were dropped (a route change, a clock
  jump, an outage longer than the window: the venue clock's rate did not change).
- Floor fit (RFC 5905 §10's clock filter, generalised from "the one minimum-delay sample of
  the last 8" to a window): keep the lowest-delay fraction of the samples. A sample whose
  round trip exceeds the floor by `x` has its offset wrong by at most x/2 (the extra delay
  split any way between the legs), so it is weighted by 1/((x/2)²/3 + ε²): the variance of
  an error spread evenly over ±x/2, plus timestamp noise ε.
- All-sample fit: Huber-weighted iteratively reweighted least squares over every sample.
- Per-direction floor fit (`controller.sync.envelope`): the widest strip between the
  forward and reverse one-way readings, its middle the offset. Under one-sided (queueing)
  jitter it is an order of magnitude closer than any round-trip filter, because each leg's
  floor shows up on its own while a quick round trip needs both legs quick at once.
- Choice: min-delay filtering is right when the slow exchanges carry queueing bias: the
  all-sample line then disagrees with the floor line by more than their joint 3σ, and the
  floor fit wins. Otherwise the fit with the smaller standard error wins; under symmetric
  jitter the floor band is no steadier than the rest (low delay does not mean low error),
  so the all-sample fit, with twenty times the samples, wins. The per-direction fit then
  replaces the winner when its own bound is smaller and the two agree within their bounds
  (the legs have hard floors: queueing), and its strip is not empty (the line model holds).
- Error terms: the fit's standard errors (heteroskedasticity-robust, from the residuals),
  and a systematic term. For the floor fit: half the gap between the two lowest delays
  (how far the best exchange may still sit above the path's true floor), plus half the
  weighted delay excess of its samples times the share of the excess that shows up in the
  offset (1 if all queueing were on one leg; measured, see `_one_way_share`). For the
  all-sample fit: its disagreement with the floor fit. Static path asymmetry is in none
  of them: no two-way exchange sees it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from controller.sync.envelope import envelope_fit
from controller.sync.samples import SampleArrays

__all__ = ["FitMode", "FitOptions", "LineFit", "fit_window"]

FitMode = Literal["envelope", "floor", "all"]

_HUBER_K = 1.345  # Huber's tuning constant: 95 % efficiency under normal noise
_MAD_TO_SIGMA = 1.4826  # median absolute deviation of a normal sample → its sigma
_HUBER_ROUNDS = 3
_SIGNIFICANT = 3.0  # sigmas for "the two fits disagree"
_MAX_LEVERAGE = 0.99
_MIN_SHARE_SAMPLES = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class FitOptions:
    """The knobs of one fit (see `TimebaseConfig` for their meaning)."""

    floor_fraction: float
    min_floor_samples: int
    timestamp_noise_s: float
    rate_prior: float  # mean of the Gaussian prior on the rate, dimensionless (s/s)
    rate_prior_sd: float  # and its standard deviation
    max_rate: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LineFit:
    """A fitted line in window-relative units: offset(t) = intercept + rate·(t − t_ref)."""

    mode: FitMode
    t_ref: float
    intercept: float
    rate: float
    se_intercept: float
    se_rate: float
    systematic_s: float
    used: int
    # The round-trip floor fit, for change detection: the envelope follows a jump of the
    # offset at once (one side of its strip moves), the low-delay band only slowly.
    floor: LineFit | None = None


@dataclass(frozen=True, slots=True)
class _Line:
    t_ref: float
    intercept: float
    rate: float
    se_intercept: float
    se_rate: float

    def at(self, t: float) -> float:
        return self.intercept + self.rate * (t - self.t_ref)

    def se_at(self, t: float) -> float:
        return float(np.hypot(self.se_intercept, self.se_rate * (t - self.t_ref)))


def _weighted_line(
    t: NDArray[np.float64], y: NDArray[np.float64], w: NDArray[np.float64], opts: FitOptions
) -> _Line:
    """Weighted least squares with a Gaussian prior on the rate; `w` are inverse variances."""
    sw = float(w.sum())
    t_ref = float((w * t).sum() / sw)
    dt = t - t_ref
    y_mean = float((w * y).sum() / sw)
    sxx = float((w * dt * dt).sum())
    sxy = float((w * dt * (y - y_mean)).sum())
    prior = 1.0 / opts.rate_prior_sd**2
    rate = (sxy + prior * opts.rate_prior) / (sxx + prior)
    rate = min(max(rate, -opts.max_rate), opts.max_rate)
    resid = y - y_mean - rate * dt
    # Heteroskedasticity-robust variances with the leverage correction (HC3): honest even
    # when the weights model the noise badly (symmetric jitter is not smaller on low-delay
    # samples) and when a few heavy samples carry the line (they fit themselves).
    leverage = np.minimum(w / sw + w * dt * dt / (sxx + prior), _MAX_LEVERAGE)
    wr2 = (w * resid / (1.0 - leverage)) ** 2
    se_intercept = max(float(wr2.sum()) ** 0.5 / sw, opts.timestamp_noise_s / t.size**0.5)
    se_rate_data = float((wr2 * dt * dt).sum()) ** 0.5 / (sxx + prior)
    # While the span is short the prior pulls the rate towards its mean by up to this much.
    shrink = opts.rate_prior_sd * prior / (sxx + prior)
    se_rate = float(np.hypot(se_rate_data, shrink))
    return _Line(t_ref, y_mean, rate, se_intercept, se_rate)


def _floor_fit(samples: SampleArrays, opts: FitOptions) -> tuple[_Line, float, int]:
    """The low-delay fit, its systematic term and how many samples it used."""
    delay = samples.delay
    count = min(delay.size, max(opts.min_floor_samples, int(opts.floor_fraction * delay.size)))
    chosen = np.argpartition(delay, count - 1)[:count] if count < delay.size else None
    t = samples.t if chosen is None else samples.t[chosen]
    y = samples.offset if chosen is None else samples.offset[chosen]
    d = delay if chosen is None else delay[chosen]
    lowest = np.partition(d, 1)[:2] if d.size > 1 else np.repeat(d, 2)
    half_excess = (d - lowest[0]) / 2.0
    spread = half_excess**2 / 3.0
    w = 1.0 / (spread + opts.timestamp_noise_s**2)
    line = _weighted_line(t, y, w, opts)
    # Noise the delay excess does not explain (symmetric jitter): measured on the residuals,
    # it flattens the weights so a few lucky exchanges cannot carry the line alone.
    resid = y - line.intercept - line.rate * (t - line.t_ref)
    unexplained = (_MAD_TO_SIGMA * float(np.median(np.abs(resid)))) ** 2 - float(np.median(spread))
    if unexplained > opts.timestamp_noise_s**2:
        w = 1.0 / (spread + unexplained)
        line = _weighted_line(t, y, w, opts)
    gap = float(lowest[1] - lowest[0])
    mean_half_excess = float((w * half_excess).sum() / w.sum())
    share = _one_way_share(samples, line, float(lowest[0]))
    return line, share * mean_half_excess + gap / 2.0, int(d.size)


def _one_way_share(samples: SampleArrays, line: _Line, floor_delay: float) -> float:
    """How much of the delay excess shows up in the offset, at most (0: none, 1: all).

    Queueing on one leg only moves the offset by half the excess (share 1); equal jitter on
    both legs moves it either way, on average not at all (share 0). Estimated on the
    faster half of the window as the slope of the floor fit's residuals against the half
    excess, plus three standard errors, at most 1.
    """
    faster = samples.delay <= np.median(samples.delay)
    h = (samples.delay[faster] - floor_delay) / 2.0
    resid = samples.offset[faster] - line.intercept - line.rate * (samples.t[faster] - line.t_ref)
    h_centred = h - h.mean()
    shh = float((h_centred * h_centred).sum())
    if h.size < _MIN_SHARE_SAMPLES or shh <= 0.0:
        return 1.0
    slope = float((h_centred * resid).sum()) / shh
    noise = resid - resid.mean() - slope * h_centred
    se: float = (float((noise * noise).sum()) / (h.size - 2) / shh) ** 0.5
    return min(1.0, abs(slope) + _SIGNIFICANT * se)


def _huber_fit(samples: SampleArrays, start: _Line, opts: FitOptions) -> _Line:
    """Huber-weighted regression over all samples, starting from `start`."""
    t, y = samples.t, samples.offset
    line = start
    for _ in range(_HUBER_ROUNDS):
        resid = y - line.intercept - line.rate * (t - line.t_ref)
        centre = float(np.median(resid))
        scale = _MAD_TO_SIGMA * float(np.median(np.abs(resid - centre)))
        scale = max(scale, opts.timestamp_noise_s)
        distance = np.abs(resid - centre) / scale
        huber = np.minimum(1.0, _HUBER_K / np.maximum(distance, 1e-12))
        line = _weighted_line(t, y, huber / scale**2, opts)
    return line


def fit_window(samples: SampleArrays, opts: FitOptions) -> LineFit | None:
    """Fit the window, choosing between the floor and the all-sample fit; None if too few."""
    if samples.t.size < opts.min_floor_samples:
        return None
    floor, floor_systematic, used = _floor_fit(samples, opts)
    floor_used = used
    chosen, systematic = floor, floor_systematic
    mode: FitMode = "floor"
    if samples.t.size > used:
        everything = _huber_fit(samples, floor, opts)
        t_last = float(samples.t[-1])
        disagreement = abs(everything.at(t_last) - floor.at(t_last))
        floor_se, everything_se = floor.se_at(t_last), everything.se_at(t_last)
        joint = float(np.hypot(floor_se, everything_se))
        if disagreement <= _SIGNIFICANT * joint and everything_se < floor_se:
            chosen, mode, systematic = everything, "all", disagreement
            used = int(samples.t.size)
    reference = _line_fit("floor", floor, floor_systematic, floor_used)
    envelope = _envelope_if_better(samples, opts, chosen, systematic)
    if envelope is not None:
        return replace(envelope, floor=reference)
    return replace(_line_fit(mode, chosen, systematic, used), floor=reference)


def _line_fit(mode: FitMode, line: _Line, systematic: float, used: int) -> LineFit:
    return LineFit(
        mode=mode, t_ref=line.t_ref, intercept=line.intercept, rate=line.rate,
        se_intercept=line.se_intercept, se_rate=line.se_rate, systematic_s=systematic,
        used=used,
    )  # fmt: skip


def _envelope_if_better(
    samples: SampleArrays, opts: FitOptions, chosen: _Line, systematic: float
) -> LineFit | None:
    """The per-direction floor fit, if it is tighter than `chosen` and consistent with it."""
    fit = envelope_fit(
        samples.t, samples.offset, samples.delay, rate_prior=opts.rate_prior,
        rate_prior_sd=opts.rate_prior_sd, max_rate=opts.max_rate,
        timestamp_noise_s=opts.timestamp_noise_s,
    )  # fmt: skip
    if fit is None or fit.width_s <= 0.0:
        return None
    line = _Line(fit.t_ref, fit.intercept, fit.rate, fit.se_intercept, fit.se_rate)
    t_last = float(samples.t[-1])
    bound = fit.systematic_s + _SIGNIFICANT * line.se_at(t_last)
    chosen_bound = systematic + _SIGNIFICANT * chosen.se_at(t_last)
    if bound >= chosen_bound or abs(line.at(t_last) - chosen.at(t_last)) > bound + chosen_bound:
        return None
    return LineFit(
        mode="envelope", t_ref=fit.t_ref, intercept=fit.intercept, rate=fit.rate,
        se_intercept=fit.se_intercept, se_rate=fit.se_rate, systematic_s=fit.systematic_s,
        used=int(samples.t.size),
    )  # fmt: skip
