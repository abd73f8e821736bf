"""L5 the disciplined clock map: local monotonic → shared time, slewed towards the estimate.

Rules:
- The map the player uses is one linear segment at a time: `shared(t) = shared_at +
  max(0, t − local_at)·(1 + rate)`. It never decreases in `t`, and a segment starts where
  the previous one stood at that instant, so successive maps never jump backwards.
- Steering (`steer(now, estimate)`) measures the error e = estimate − map at `now`:
  - |e| ≤ step threshold: slew. The rate becomes the estimated rate plus e/τ, the extra
    clamped to ±`max_slew`, for as long as it takes to correct e, then the estimated
    rate alone (a map left unsteered in holdover does not run away at the slew's rate);
    at 2000 ppm a 44 fps frame period moves by 45 µs, so frames never bunch or skip.
  - e > step threshold: step forward to the estimate (frames are skipped), reported.
  - e < −step threshold: the map holds still for |e| (the current frame is held) and then
    continues on the estimate; reported as a step too. Shared time never runs backwards.
- Steering at a `now` before the current segment's start (a hold in progress, or a caller
  whose clock went backwards) changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ClockMap", "Discipline", "StepEvent"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockMap:
    """One segment of the disciplined map; valid from `local_at` on, until the next steer.

    The segment runs at `1 + rate + slew` for `slew_s` local seconds (the correction being
    slewed in), then at `1 + rate`, the estimate's own rate. A slew is a finite correction:
    a map nobody steers any more (a holdover) finishes it and carries on at the estimated
    rate, instead of drifting away at the slew's rate.
    """

    local_at: float  # local monotonic seconds where the segment starts
    shared_at: float  # shared seconds at `local_at`
    rate: float  # shared seconds per local second, minus 1 (dimensionless)
    slew: float = 0.0  # extra rate while the correction lasts
    slew_s: float = 0.0  # how long it lasts, local seconds from `local_at`

    def shared(self, local_t: float) -> float:
        """The shared instant at local time `local_t` (held at `shared_at` before the start)."""
        dt = max(0.0, local_t - self.local_at)
        return self.shared_at + dt * (1.0 + self.rate) + self.slew * min(dt, self.slew_s)

    def local(self, shared_t: float) -> float:
        """The local instant at which the map reaches `shared_t` (a frame's deadline).

        Instants before `shared_at` are extrapolated back along the segment's first line:
        they were due before the segment started (during a hold, before the hold).
        """
        slewing = 1.0 + self.rate + self.slew
        slewed_to = self.shared_at + self.slew_s * slewing
        if shared_t <= slewed_to:
            return self.local_at + (shared_t - self.shared_at) / slewing
        return self.local_at + self.slew_s + (shared_t - slewed_to) / (1.0 + self.rate)


@dataclass(frozen=True, slots=True, kw_only=True)
class StepEvent:
    """The map jumped forward (`size_s` > 0) or held still (`size_s` < 0) at `local_at`."""

    local_at: float
    size_s: float


@dataclass(frozen=True, slots=True)
class Estimate:
    """What steering needs of the raw estimate at local time `at`."""

    at: float
    shared: float
    rate: float


class Discipline:
    """Keeps the `ClockMap` near the raw estimate without jumping backwards or bunching frames."""

    def __init__(self, *, max_slew: float, step_threshold_s: float, slew_time_s: float) -> None:
        self._max_slew = max_slew
        self._step_threshold_s = step_threshold_s
        self._slew_time_s = slew_time_s
        self.map: ClockMap | None = None
        self.steps: list[StepEvent] = []

    def steer(self, estimate: Estimate) -> StepEvent | None:
        """Re-aim the map at `estimate`; return the step event if it had to step."""
        now = estimate.at
        if self.map is None:
            self.map = ClockMap(local_at=now, shared_at=estimate.shared, rate=estimate.rate)
            return None
        if now < self.map.local_at:
            return None
        here = self.map.shared(now)
        error = estimate.shared - here
        if abs(error) <= self._step_threshold_s:
            slew = min(max(error / self._slew_time_s, -self._max_slew), self._max_slew)
            self.map = ClockMap(
                local_at=now, shared_at=here, rate=estimate.rate, slew=slew,
                slew_s=error / slew if slew else 0.0,
            )  # fmt: skip
            return None
        if error > 0:
            self.map = ClockMap(local_at=now, shared_at=estimate.shared, rate=estimate.rate)
        else:
            # Hold at `here` until the estimate catches up, then run on the estimate.
            hold = -error / (1.0 + estimate.rate)
            self.map = ClockMap(local_at=now + hold, shared_at=here, rate=estimate.rate)
        event = StepEvent(local_at=now, size_s=error)
        self.steps.append(event)
        return event
