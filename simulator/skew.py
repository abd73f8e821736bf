"""Cross-venue frame skew from per-venue series of frame emission times (pure).

Input: for each venue, the times (seconds, one clock for all venues) at which it emitted
its frames, as `simulator.capture` reads them off the wire. Each frame of a venue is paired
with the reference venue's nearest frame; the pairing is unambiguous while |skew| is less
than half a frame period, so a frame further than that from every reference frame counts
as unpaired instead of being matched to the wrong neighbour.

Reported, in milliseconds:
- per pair (venue vs reference): |skew| p50/p99/max, mean signed skew (> 0: the venue is
  late), frames paired and unpaired;
- per venue: frames, frames missing (an interval longer than 1.5 periods counts the frames
  it skipped, round(interval / period) - 1), bunched intervals (shorter than half a period);
- overall: |skew| over every pair, and the spread max - min over the venues of each
  reference frame that every venue emitted (the "all cities at once" figure).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["nearest_skews", "skew_report", "venue_summary"]

Stats = dict[str, float | None]


def _ms_stats(values_s: NDArray[np.float64]) -> Stats:
    """p50/p99/max of `values_s` in ms (rounded to microseconds); None when empty."""
    if values_s.size == 0:
        return {"p50": None, "p99": None, "max": None}
    ms = values_s * 1e3
    p50, p99 = np.percentile(ms, [50, 99])
    return {
        "p50": round(float(p50), 3),
        "p99": round(float(p99), 3),
        "max": round(float(ms.max()), 3),
    }


def venue_summary(times: NDArray[np.float64], period_s: float) -> dict[str, Any]:
    """Frames, missing frames and bunched intervals of one venue's sorted emission times."""
    intervals = np.diff(times)
    long = intervals[intervals > 1.5 * period_s]
    missing = int(np.sum(np.rint(long / period_s) - 1)) if long.size else 0
    return {
        "frames": int(times.size),
        "missing": missing,
        "bunched": int(np.sum(intervals < 0.5 * period_s)),
        "interval_ms": _ms_stats(intervals),
    }


def nearest_skews(
    times: NDArray[np.float64], reference: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """For each time, its signed distance to the nearest reference time and that time's index."""
    if reference.size == 0:
        return np.full(times.shape, np.inf), np.zeros(times.shape, dtype=np.intp)
    at = np.searchsorted(reference, times)
    left = np.clip(at - 1, 0, reference.size - 1)
    right = np.clip(at, 0, reference.size - 1)
    pick = np.where(
        np.abs(times - reference[left]) <= np.abs(times - reference[right]), left, right
    )
    return times - reference[pick], pick.astype(np.intp)


def skew_report(
    series_by_venue: Mapping[str, Sequence[float]],
    period_s: float,
    *,
    reference: str | None = None,
) -> dict[str, Any]:
    """The skew report (see the module docstring) of venues against `reference` (default: the first)."""
    if not (math.isfinite(period_s) and period_s > 0):
        raise ValueError(f"period_s={period_s!r} must be a positive number")
    names = list(series_by_venue)
    if not names:
        raise ValueError("series_by_venue is empty")
    ref = names[0] if reference is None else reference
    if ref not in series_by_venue:
        raise ValueError(f"reference={ref!r} is not one of {names}")
    series = {n: np.sort(np.asarray(series_by_venue[n], dtype=np.float64)) for n in names}
    ref_times = series[ref]
    offsets = np.full((len(names), ref_times.size), np.nan)  # venue x reference frame
    offsets[names.index(ref)] = 0.0
    pairs, every_abs = [], []
    for row, name in enumerate(names):
        if name == ref:
            continue
        skew, pick = nearest_skews(series[name], ref_times)
        paired = np.abs(skew) < period_s / 2
        offsets[row, pick[paired]] = skew[paired]
        every_abs.append(np.abs(skew[paired]))
        pairs.append(
            {
                "venue": name,
                "reference": ref,
                "frames": int(paired.sum()),
                "unpaired": int((~paired).sum()),
                "mean_signed_ms": round(float(skew[paired].mean()) * 1e3, 3)
                if paired.any()
                else None,
                "skew_ms": _ms_stats(np.abs(skew[paired])),
            }
        )
    complete = ~np.isnan(offsets).any(axis=0)
    spread = (
        (np.max(offsets[:, complete], axis=0) - np.min(offsets[:, complete], axis=0))
        if complete.any()
        else np.empty(0)
    )
    all_abs = np.concatenate(every_abs) if every_abs else np.empty(0)
    return {
        "period_ms": round(period_s * 1e3, 6),
        "reference": ref,
        "venues": {n: venue_summary(series[n], period_s) for n in names},
        "pairs": pairs,
        "overall": {
            "frames": int(all_abs.size),
            "skew_ms": _ms_stats(all_abs),
            "frames_complete": int(complete.sum()),
            "spread_ms": _ms_stats(spread),
        },
    }
