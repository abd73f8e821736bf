"""Drive a `Timebase` with a simulated exchange stream and compare it with the truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from controller.sync import Timebase, TimebaseConfig, TimebaseState
from controller.sync.delay_models import ClockModel, PathModel, Scenario, Simulation, simulate

# The issue-8 benchmark path: RTT 100 ms, one-sided (queueing) jitter with a 20 ms mean
# round-trip excess (exponential, 10 ms mean per leg).
BENCH_PATH = PathModel(forward_s=0.05, reverse_s=0.05, jitter="exponential", jitter_s=0.01)
# A venue clock 400 ms off, running 50 ppm fast, with a little frequency wander.
BENCH_CLOCK = ClockModel(offset_s=0.4, drift_ppm=50.0, wander_ppm=0.01)


@dataclass(frozen=True, slots=True)
class Run:
    """Per accepted arrival: true time, estimate − truth, error bound and state."""

    simulation: Simulation
    timebase: Timebase
    tau: NDArray[np.float64]
    error: NDArray[np.float64]  # NaN before the first fit
    bound: NDArray[np.float64]
    states: tuple[TimebaseState | None, ...]

    def errors_after(self, start_tau: float) -> NDArray[np.float64]:
        """|estimate − truth| at every arrival from true time `start_tau` on."""
        return np.abs(self.error[self.tau >= start_tau])

    def p99_after(self, start_tau: float) -> float:
        return float(np.quantile(self.errors_after(start_tau), 0.99))

    def converged_at(self, tolerance_s: float) -> float:
        """The true time from which |error| stays within `tolerance_s` to the end."""
        outside = np.flatnonzero(~(np.abs(self.error) <= tolerance_s))
        return 0.0 if outside.size == 0 else float(self.tau[outside[-1]])


def run(
    scenario: Scenario, *, seed: int, config: TimebaseConfig | None = None, steer: bool = True
) -> Run:
    """Feed every exchange in arrival order; estimate (and steer the map) at each arrival."""
    sim = simulate(scenario, seed=seed)
    timebase = Timebase(config=config)
    errors, bounds, states = [], [], []
    for exchange, truth in zip(sim.exchanges, sim.true_offset, strict=True):
        timebase.add_exchange(exchange)
        estimate = timebase.estimate(exchange.t4)
        if steer:
            timebase.clock_map(exchange.t4)
        errors.append(np.nan if estimate is None else estimate.offset_s - truth)
        bounds.append(np.nan if estimate is None else estimate.error_bound_s)
        states.append(None if estimate is None else estimate.state)
    return Run(sim, timebase, sim.arrival_tau, np.array(errors), np.array(bounds), tuple(states))


def bench_scenario(
    path: PathModel = BENCH_PATH,
    *,
    clock: ClockModel = BENCH_CLOCK,
    rate_hz: float = 10.0,
    duration_s: float = 150.0,
    outages: tuple[tuple[float, float], ...] = (),
) -> Scenario:
    """The benchmark clock at 10 exchanges per second for 150 s over `path`, by default."""
    return Scenario(clock=clock, path=path, rate_hz=rate_hz, duration_s=duration_s, outages=outages)


@dataclass(frozen=True, slots=True)
class Playback:
    """Frame deadlines a player computed from the disciplined map, with the truth."""

    deadlines: NDArray[np.float64]  # local seconds at which each frame went out
    frames: NDArray[np.int64]  # which frame went out
    shared_error: NDArray[np.float64]  # true shared time at the deadline − the frame's instant
    timebase: Timebase


def play(scenario: Scenario, *, seed: int, fps: float = 44.0, start_tau: float = 5.0) -> Playback:
    """A player loop: wake at frame k's deadline, steer, aim at shared `epoch + k/fps`.

    Exchanges that arrived by the deadline are fed first. The epoch is the first whole
    shared second after `start_tau`; frames run until the exchanges end. When several
    frames are due at once (the map stepped forward) only the latest goes out.
    """
    sim = simulate(scenario, seed=seed)
    arrivals_local = np.array([exchange.t4 for exchange in sim.exchanges])
    timebase = Timebase()
    fed = 0
    now = sim.local_at(start_tau)
    deadlines, errors, frames = [], [], []
    epoch: float | None = None
    k = 0
    while True:
        while fed < len(sim.exchanges) and arrivals_local[fed] <= now:
            timebase.add_exchange(sim.exchanges[fed])
            fed += 1
        if fed == len(sim.exchanges):
            break
        clock = timebase.clock_map(now)
        if clock is None:
            now += 1.0 / fps
            continue
        if epoch is None:
            epoch = float(np.ceil(clock.shared(now)))
        deadline = clock.local(epoch + k / fps)
        if deadline > now:  # sleep until the deadline, then steer again there
            now = deadline
            continue
        while clock.local(epoch + (k + 1) / fps) <= now:  # latest frame wins
            k += 1
        tau = float(np.interp(now, arrivals_local, sim.arrival_tau))
        true_shared = now + sim.true_offset_at(tau)
        deadlines.append(now)
        frames.append(k)
        errors.append(true_shared - (epoch + k / fps))
        k += 1
    return Playback(np.array(deadlines), np.array(frames), np.array(errors), timebase)
