"""L5 detecting changes that make the older samples wrong: route changes and clock jumps.

Rules:
- A route change is a persistent move of the delay floor: the delay quantiles of the last
  `recent_s` seconds sit above (or below) those of the older samples by more than the
  older samples' own spread. The older samples then describe another path.
- A clock jump is a persistent move of the offset away from the current fit: the conductor
  stepped its clock (or a standby with a slightly different clock took over). The older
  samples then describe another clock.
- Either way the caller drops the samples before the returned cut. A change must last
  `recent_s` seconds to be believed: spikes, stalls and jitter do not.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from controller.sync.fit import LineFit
from controller.sync.samples import SampleArrays

__all__ = ["offset_jump_cut", "route_change_cut"]

_MIN_SIDE_SAMPLES = 20  # fewer samples on either side of a candidate cut decide nothing
_MIN_JUMP_SAMPLES = 8  # older samples needed, and a quarter of the recent ones
_MAD_TO_SIGMA = 1.4826  # median absolute deviation of a normal sample → its sigma
_MEDIAN_SE = 1.2533  # sd of a normal sample's median, in sigma/√n
_LINE_SIGMAS = 3.0


def route_change_cut(samples: SampleArrays, *, recent_s: float, min_step_s: float) -> float | None:
    """Where the delay floor moved for good, as a relative time to cut before; or None.

    The 10 % and the 50 % quantiles of the delays of the last `recent_s` seconds must both
    have moved the same way, against those of the older samples, by more than
    max(`min_step_s`, the older samples' spread between the two quantiles): a spike or a
    stall moves neither, and jitter alone rarely moves both that far.

    The cut lies two round trips past the change point: an exchange in flight during the
    change crossed one leg of each path, and its offset is biased by half the difference.
    """
    t, delay = samples.t, samples.delay
    if t.size < 2 * _MIN_SIDE_SAMPLES:
        return None
    split = int(np.searchsorted(t, float(t[-1]) - recent_s))
    old, new = delay[:split], delay[split:]
    if old.size < _MIN_SIDE_SAMPLES or new.size < _MIN_SIDE_SAMPLES:
        return None
    old_q10, old_q50 = np.quantile(old, (0.1, 0.5))
    new_q10, new_q50 = np.quantile(new, (0.1, 0.5))
    threshold = max(min_step_s, float(old_q50 - old_q10))
    low, mid = float(new_q10 - old_q10), float(new_q50 - old_q50)
    if not (min(low, mid) > threshold or max(low, mid) < -threshold):
        return None
    # Change point: the split of the recent samples with the fewest on the wrong side of
    # the level halfway between the old and the new median.
    level = (old_q50 + new_q50) / 2.0
    first_new = _best_split(new > level if mid > 0 else new < level)
    boundary = float(t[min(split + first_new, t.size - 1)])
    return boundary + 2.0 * float(max(old_q50, new_q50))


def offset_jump_cut(
    samples: SampleArrays, fit: LineFit, *, recent_s: float, min_step_s: float
) -> float | None:
    """Where the offset jumped away from `fit` for good (a clock step), or None.

    Looks at the faster quarter of the last `recent_s` seconds of samples: their median
    residual against `fit` must exceed max(`min_step_s`, 5 standard errors of that median
    (from the spread of the whole window's faster quarter) combined with 3 of the line).
    The cut is the first of them after the change point; everything before it belongs to
    the old clock.
    """
    t = samples.t
    if t.size < 5 * _MIN_JUMP_SAMPLES:
        return None
    split = int(np.searchsorted(t, float(t[-1]) - recent_s))
    recent_delay = samples.delay[split:]
    if split < _MIN_JUMP_SAMPLES or recent_delay.size < 4 * _MIN_JUMP_SAMPLES:
        return None
    fast = np.flatnonzero(recent_delay <= np.quantile(recent_delay, 0.25)) + split
    resid = samples.offset[fast] - fit.intercept - fit.rate * (t[fast] - fit.t_ref)
    jump = float(np.median(resid))
    # The spread comes from the faster quarter of the whole window: twenty-odd recent
    # samples alone misjudge it badly.
    every = samples.delay <= np.quantile(samples.delay, 0.25)
    resid_all = samples.offset[every] - fit.intercept - fit.rate * (t[every] - fit.t_ref)
    spread = _MAD_TO_SIGMA * float(np.median(np.abs(resid_all - np.median(resid_all))))
    median_se = _MEDIAN_SE * spread / fast.size**0.5
    line_se = float(np.hypot(fit.se_intercept, fit.se_rate * (float(t[-1]) - fit.t_ref)))
    threshold = max(min_step_s, float(np.hypot(5.0 * median_se, _LINE_SIGMAS * line_se)))
    if abs(jump) <= threshold:
        return None
    # Change point: the split of those samples with the fewest on the wrong side of half
    # the new level (the latest third of them is past any change that was just believed).
    level = float(np.median(resid[-(fast.size // 3) :])) / 2.0
    new_like = resid > level if jump > 0 else resid < level
    first_new = _best_split(new_like)
    return float(t[fast[min(first_new, fast.size - 1)]])


def _best_split(new_like: NDArray[np.bool_]) -> int:
    """The index splitting old from new with the fewest samples on the wrong side."""
    wrong_before = np.concatenate(([0], np.cumsum(new_like)))
    wrong_after = np.concatenate((np.cumsum((~new_like)[::-1])[::-1], [0]))
    return int(np.argmin(wrong_before + wrong_after))
