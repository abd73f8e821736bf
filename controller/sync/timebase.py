"""L5 the venue timebase: estimates the map local monotonic seconds → shared time.

Shared time is UTC seconds as the conductor's host reports it. The venue feeds NTP-style
four-timestamp exchanges (`Exchange`, RFC 5905 §8) to `Timebase.add_exchange`; every other
method takes the local time `now` as an argument. Nothing here reads a clock.

Strategy:
- Samples of the last `window_s` seconds are fitted with a line offset = a + b·t (see
  `controller.sync.fit`): low-delay filtering when the jitter is one-sided (queueing), a
  Huber all-sample regression when the low-delay band is no steadier than the rest
  (symmetric jitter). The fit is refreshed at most every `fit_interval_s` of sample time,
  and at every sample while it is not yet good enough to lock.
- A persistent move of the delay floor is a route change, a persistent move of the offset
  away from the fit is a clock jump (the conductor's clock was stepped): either way the
  older samples are dropped (see `controller.sync.changes`).
- States: FREE (no fit yet, or its error bound is over `lock_error_s`); LOCKED (a good fit
  whose newest sample is at most `holdover_after_s` old); HOLDOVER (a fit, but no sample
  for longer: the last offset and rate carry on, and the bound grows).
- The error bound at `now`: the fit's systematic term, plus `sigmas` times the standard
  error of the line at `now` (which grows with the distance from the fit's centre), plus
  `min_rate_error` times the time since the newest sample (rate wander in holdover).
- `estimate(now)` is the raw estimate; `clock_map(now)` steers and returns the disciplined
  map the player uses (see `controller.sync.discipline`): slewed, never backwards.

The static asymmetry limit: a two-way exchange measures θ = θ_true + (d_fwd − d_rev)/2 and
cannot observe (d_fwd − d_rev)/2. A path whose two directions differ by a constant biases
every sample alike; no filter, fit or sample count reveals it. The error bound therefore
excludes it, and the snapshot names the worst case, half the floor round trip, as
`asymmetry_bound_s`: the part of the error only an independent reference (a GNSS- or
chrony-disciplined clock at each site) can remove.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from controller.sync.changes import offset_jump_cut, route_change_cut
from controller.sync.discipline import ClockMap, Discipline, Estimate, StepEvent
from controller.sync.exchange import Exchange
from controller.sync.fit import FitMode, FitOptions, LineFit, fit_window
from controller.sync.samples import SampleArrays, SampleWindow

__all__ = [
    "ClockMap",
    "RawEstimate",
    "StepEvent",
    "Timebase",
    "TimebaseConfig",
    "TimebaseSnapshot",
    "TimebaseState",
]

_PPM = 1e-6
_RATE_HISTORY = 64  # fitted rates remembered, to find one from before a change


class TimebaseState(enum.Enum):
    """How far the venue can trust its shared time."""

    FREE = "free"
    LOCKED = "locked"
    HOLDOVER = "holdover"


@dataclass(frozen=True, slots=True, kw_only=True)
class TimebaseConfig:
    """Estimator and discipline settings; the defaults suit 10-20 exchanges per second."""

    window_s: float = 120.0  # samples older than this (local seconds) leave the fit
    max_samples: int = 4096  # at most this many samples in the window
    max_delay_s: float = 5.0  # round trips longer than this are rejected as garbage
    fit_interval_s: float = 0.5  # refit at most this often (sample time)
    floor_fraction: float = 0.1  # the low-delay band: this fraction of the window ...
    min_floor_samples: int = 16  # ... but at least this many samples
    timestamp_noise_s: float = 50e-6  # timestamping noise of one exchange
    rate_prior_sd_ppm: float = 100.0  # prior spread of the rate around 0 (fresh window)
    max_rate_ppm: float = 1000.0  # fitted rates are clamped to ±this
    change_recent_s: float = 8.0  # a route change or clock jump must last this long ...
    change_min_s: float = 0.004  # ... and move the delay floor or the offset this much
    holdover_after_s: float = 3.0  # no sample for this long: HOLDOVER
    lock_error_s: float = 0.010  # a fit with a larger bound does not lock ...
    lock_span_s: float = 0.5  # ... nor one whose samples span less (a burst's first
    # samples queue behind each other on one path: too correlated for their spread to be
    # believed; measured: 17-22 samples in 0.3 s claimed 3-5 ms and were 6-9 ms off)
    sigmas: float = 3.0  # the bound's statistical terms, in standard errors
    min_rate_error_ppm: float = 1.0  # rate uncertainty assumed at least, for holdover
    max_slew_ppm: float = 2000.0  # the disciplined map runs at most this far off the rate
    slew_time_s: float = 1.0  # time constant of the slew (at most max_slew_ppm)
    step_threshold_s: float = 0.050  # errors beyond this are stepped, not slewed

    def __post_init__(self) -> None:
        positive = {
            "window_s": self.window_s,
            "max_delay_s": self.max_delay_s,
            "timestamp_noise_s": self.timestamp_noise_s,
            "rate_prior_sd_ppm": self.rate_prior_sd_ppm,
            "max_rate_ppm": self.max_rate_ppm,
            "change_recent_s": self.change_recent_s,
            "change_min_s": self.change_min_s,
            "holdover_after_s": self.holdover_after_s,
            "lock_error_s": self.lock_error_s,
            "sigmas": self.sigmas,
            "max_slew_ppm": self.max_slew_ppm,
            "slew_time_s": self.slew_time_s,
            "step_threshold_s": self.step_threshold_s,
        }
        for name, value in positive.items():
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name}={value!r} must be a positive finite number")
        for name, value in {
            "lock_span_s": self.lock_span_s,
            "fit_interval_s": self.fit_interval_s,
            "min_rate_error_ppm": self.min_rate_error_ppm,
        }.items():
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}={value!r} must be a finite number, at least 0")
        if not 0 < self.floor_fraction <= 1:
            raise ValueError(f"floor_fraction={self.floor_fraction!r} out of range (0, 1]")
        if self.min_floor_samples < 3 or self.max_samples < self.min_floor_samples:
            msg = (
                f"min_floor_samples={self.min_floor_samples!r} must be at least 3 and at most "
                f"max_samples={self.max_samples!r}"
            )
            raise ValueError(msg)
        if self.max_rate_ppm + self.max_slew_ppm >= 1e6:
            raise ValueError("max_rate_ppm + max_slew_ppm must stay under 1e6 (time runs forward)")


@dataclass(frozen=True, slots=True, kw_only=True)
class RawEstimate:
    """The estimator's own answer at local time `at` (not slewed)."""

    at: float  # local monotonic seconds
    offset_s: float  # shared − local at `at`
    rate_ppm: float  # d(offset)/d(local), in ppm
    error_bound_s: float  # excluding static path asymmetry (see the module docstring)
    state: TimebaseState

    def shared(self, local_t: float) -> float:
        """The estimated shared time at `local_t`, on this estimate's line."""
        return local_t + self.offset_s + self.rate_ppm * _PPM * (local_t - self.at)


@dataclass(frozen=True, slots=True, kw_only=True)
class TimebaseSnapshot:
    """The timebase at a glance, for status messages; all times in seconds."""

    state: TimebaseState
    offset_s: float | None  # raw estimate of shared − local at `at`
    rate_ppm: float | None
    error_bound_s: float | None  # of the raw estimate, excluding static asymmetry
    map_error_bound_s: float | None  # of the disciplined map: bound + |map − estimate|
    slew_remaining_s: float | None  # disciplined map minus raw estimate
    rtt_s: float | None  # lowest round trip in the window (the path's floor)
    asymmetry_bound_s: float | None  # unobservable: static asymmetry may add up to rtt/2
    samples: int
    last_sample_age_s: float | None
    filter: FitMode | None  # "envelope" (per-direction floors), "floor" (low-delay), "all"
    steps: int
    route_changes: int  # the delay floor moved for good: older samples dropped
    clock_jumps: int  # the offset moved for good (a clock was stepped): older samples dropped
    rejected: int
    at: float


@dataclass(frozen=True, slots=True)
class _Fit:
    """A line fit in absolute units, with the facts its error bound needs."""

    line: LineFit
    origin_t: float
    origin_offset: float
    newest: float  # newest sample arrival (local seconds) when fitted
    floor_rtt_s: float
    span_s: float  # from the oldest to the newest sample fitted, local seconds

    def offset_at(self, t: float) -> float:
        rel = t - self.origin_t
        return self.origin_offset + self.line.intercept + self.line.rate * (rel - self.line.t_ref)

    def bound_at(self, t: float, config: TimebaseConfig) -> float:
        line = self.line
        spread = math.hypot(line.se_intercept, line.se_rate * (t - self.origin_t - line.t_ref))
        age = max(0.0, t - self.newest)
        rate_wander = config.min_rate_error_ppm * _PPM * age
        return line.systematic_s + config.sigmas * spread + rate_wander


class Timebase:
    """Raw estimate and disciplined map of shared time, fed four-timestamp exchanges.

    Args:
        config: estimator and discipline settings.
    """

    def __init__(self, *, config: TimebaseConfig | None = None) -> None:
        self.config = config if config is not None else TimebaseConfig()
        c = self.config
        self._window = SampleWindow(
            window_s=c.window_s, max_samples=c.max_samples, max_delay_s=c.max_delay_s
        )
        self._discipline = Discipline(
            max_slew=c.max_slew_ppm * _PPM,
            step_threshold_s=c.step_threshold_s,
            slew_time_s=c.slew_time_s,
        )
        self._fit: _Fit | None = None
        self._fitted_at: float | None = None
        self._rates: list[tuple[float, float, float]] = []  # recent fits: (newest t, rate, sd)
        self._rate_prior: tuple[float, float] | None = None  # (rate, sd) while restarting
        self.rejected = 0
        self.route_changes = 0
        self.clock_jumps = 0
        self.last_rejection: str | None = None

    @property
    def map(self) -> ClockMap | None:
        """The disciplined map as last steered (reading it does not steer)."""
        return self._discipline.map

    @property
    def steps(self) -> tuple[StepEvent, ...]:
        """Every step of the disciplined map so far, oldest first."""
        return tuple(self._discipline.steps)

    def add_exchange(self, exchange: Exchange) -> str | None:
        """Take one completed exchange; return why it was rejected, or None.

        Garbage (non-finite stamps, t4 < t1, t3 < t2, negative or huge delay), duplicates
        and samples older than the window are counted in `rejected` and otherwise ignored.
        """
        reason = self._window.add(exchange)
        if reason is not None:
            self.rejected += 1
            self.last_rejection = reason
            return reason
        newest = self._window.newest_arrival
        # Until the fit is good enough to lock, refit at every sample: a joining venue locks
        # as soon as its samples allow, not at the next `fit_interval_s` tick.
        interval = self.config.fit_interval_s if self._lockable(newest) else 0.0
        if (
            self._fit is None
            or self._fitted_at is None
            or not 0 <= newest - self._fitted_at < max(interval, 1e-12)
        ):
            self._refit(newest)
        return None

    def _lockable(self, now: float) -> bool:
        fit, c = self._fit, self.config
        return (
            fit is not None
            and fit.span_s >= c.lock_span_s
            and fit.bound_at(now, c) <= c.lock_error_s
        )

    def state(self, now: float) -> TimebaseState:
        """FREE, LOCKED or HOLDOVER at local time `now` (see the module docstring)."""
        fit = self._fit
        if fit is None:
            return TimebaseState.FREE
        if now - fit.newest > self.config.holdover_after_s:
            return TimebaseState.HOLDOVER
        if self._lockable(now):
            return TimebaseState.LOCKED
        return TimebaseState.FREE

    def estimate(self, now: float) -> RawEstimate | None:
        """The raw estimate at local time `now`, or None before the first fit."""
        fit = self._fit
        if fit is None:
            return None
        return RawEstimate(
            at=now,
            offset_s=fit.offset_at(now),
            rate_ppm=fit.line.rate / _PPM,
            error_bound_s=fit.bound_at(now, self.config),
            state=self.state(now),
        )

    def clock_map(self, now: float) -> ClockMap | None:
        """Steer the disciplined map at local time `now` and return it.

        None until the timebase first locks. Call it with non-decreasing `now` (the player
        calls it every frame); a `now` before the map's start leaves it unchanged. Steps
        are recorded in `steps`.
        """
        estimate = self.estimate(now)
        if estimate is None or (
            self._discipline.map is None and estimate.state is not TimebaseState.LOCKED
        ):
            return self._discipline.map
        shared = now + estimate.offset_s
        self._discipline.steer(Estimate(now, shared, estimate.rate_ppm * _PPM))
        return self._discipline.map

    def snapshot(self, now: float) -> TimebaseSnapshot:
        """The status at local time `now`, without steering the map."""
        estimate = self.estimate(now)
        clock = self._discipline.map
        slew = None
        if estimate is not None and clock is not None:
            slew = clock.shared(now) - (now + estimate.offset_s)
        newest = self._window.newest_arrival
        fit = self._fit
        return TimebaseSnapshot(
            state=self.state(now),
            offset_s=None if estimate is None else estimate.offset_s,
            rate_ppm=None if estimate is None else estimate.rate_ppm,
            error_bound_s=None if estimate is None else estimate.error_bound_s,
            map_error_bound_s=(
                None if estimate is None or slew is None else estimate.error_bound_s + abs(slew)
            ),
            slew_remaining_s=slew,
            rtt_s=None if fit is None else fit.floor_rtt_s,
            asymmetry_bound_s=None if fit is None else fit.floor_rtt_s / 2.0,
            samples=len(self._window),
            last_sample_age_s=None if math.isinf(newest) else now - newest,
            filter=None if fit is None else fit.line.mode,
            steps=len(self._discipline.steps),
            route_changes=self.route_changes,
            clock_jumps=self.clock_jumps,
            rejected=self.rejected,
            at=now,
        )

    def _refit(self, newest: float) -> None:
        c = self.config
        last = self._fit
        if last is not None and newest - last.newest > c.holdover_after_s:  # after an outage
            sd = math.hypot(last.line.se_rate, c.min_rate_error_ppm * _PPM)
            self._rate_prior = (last.line.rate, sd)
        self._fitted_at = newest
        self._window.prune()
        samples = self._cut_changes(self._window.arrays())
        # After a change or an outage the window restarts: until it is long again, the rate
        # of the last fit from before is the prior (the venue's clock rate did not change).
        if samples.t.size and samples.t[-1] - samples.t[0] >= c.window_s / 2:
            self._rate_prior = None
        prior = self._rate_prior or (0.0, c.rate_prior_sd_ppm * _PPM)
        options = FitOptions(
            floor_fraction=c.floor_fraction,
            min_floor_samples=c.min_floor_samples,
            timestamp_noise_s=c.timestamp_noise_s,
            rate_prior=prior[0],
            rate_prior_sd=prior[1],
            max_rate=c.max_rate_ppm * _PPM,
        )
        line = fit_window(samples, options)
        if line is None:
            return
        sd = math.hypot(line.se_rate, c.min_rate_error_ppm * _PPM)
        self._rates = [*self._rates[-_RATE_HISTORY + 1 :], (float(samples.t[-1]), line.rate, sd)]
        self._adopt(
            _Fit(
                line=line,
                origin_t=self._window.origin_t,
                origin_offset=self._window.origin_offset,
                newest=newest,
                floor_rtt_s=float(samples.delay.min()),
                span_s=float(samples.t[-1] - samples.t[0]),
            )
        )

    def _cut_changes(self, samples: SampleArrays) -> SampleArrays:
        """Drop the samples from before a route change or a clock jump, if there was one."""
        c = self.config
        cut = route_change_cut(samples, recent_s=c.change_recent_s, min_step_s=c.change_min_s)
        if cut is not None:
            self.route_changes += 1
        elif self._fit is not None:
            line = self._fit.line.floor or self._fit.line
            cut = offset_jump_cut(
                samples, line, recent_s=c.change_recent_s, min_step_s=c.change_min_s
            )
            self.clock_jumps += cut is not None
        if cut is None:
            return samples
        self._window.drop_before(cut)
        # Fits that saw the change are contaminated; keep those from well before the cut.
        clean_before = cut - c.change_recent_s / 2
        self._rates = [entry for entry in self._rates if entry[0] < clean_before]
        # None when no fit predates the change: back to the zero-mean prior.
        self._rate_prior = self._rates[-1][1:] if self._rates else None
        return self._window.arrays()

    def _adopt(self, candidate: _Fit) -> None:
        """Use `candidate` when it is good, or better than the current fit carried forward.

        After an outage, a few new samples may fit worse than the old fit extrapolated.
        """
        c = self.config
        current = self._fit
        at = candidate.newest
        if current is None or candidate.bound_at(at, c) <= max(
            current.bound_at(at, c), c.lock_error_s
        ):
            self._fit = candidate
