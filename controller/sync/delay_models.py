"""L5 seeded synthetic networks and clocks that produce four-timestamp exchange streams.

Used by the timebase tests and the sync benchmark. True time τ runs from 0; the conductor's
shared clock reads `epoch_s + τ` exactly; the venue's local clock reads
`local_start_s + offset_s + ∫(1 + f(τ))dτ` with the frequency error f = drift plus a random
walk (wander) in 1 s steps; `conductor_steps` step the shared clock (the conductor's host
stepped its UTC clock). Each exchange leaves the venue every 1/rate_hz seconds and
crosses a path whose one-way delay is a floor plus jitter, spikes, stalls, loss and an
optional route change. Everything comes from one `numpy.random.Generator` seeded by the
caller; nothing reads a clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from controller.sync.exchange import Exchange

__all__ = ["ClockModel", "JitterKind", "PathModel", "Scenario", "Simulation", "simulate"]

JitterKind = Literal["none", "exponential", "pareto", "normal"]
_PPM = 1e-6


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockModel:
    """The venue's local monotonic clock against true time."""

    offset_s: float = 0.0  # added to the local clock (the venue's clock error at τ = 0)
    drift_ppm: float = 0.0  # local clock runs fast by this much
    wander_ppm: float = 0.0  # random walk of the frequency: ppm per √second
    epoch_s: float = 1_700_000_000.0  # shared (UTC) seconds at τ = 0
    local_start_s: float = 1000.0  # local monotonic seconds at τ = 0 (before offset_s)
    conductor_steps: tuple[tuple[float, float], ...] = ()  # (τ, seconds): shared clock steps


@dataclass(frozen=True, slots=True, kw_only=True)
class PathModel:
    """One venue ↔ conductor path; delays in seconds, per leg unless said otherwise."""

    forward_s: float = 0.05  # floor of the venue → conductor delay
    reverse_s: float = 0.05  # floor of the conductor → venue delay
    jitter: JitterKind = "exponential"
    jitter_s: float = 0.01  # exponential: mean; normal: sd; pareto: scale
    pareto_shape: float = 1.5
    max_jitter_s: float = 1.0  # jitter draws are capped here (a Pareto tail is unbounded)
    spike_probability: float = 0.0  # a leg gets an extra exponential delay ...
    spike_s: float = 0.1  # ... of this mean
    stall_rate_hz: float = 0.0  # per direction: stalls start as a Poisson process ...
    stall_s: float = 0.2  # ... and hold everything sent meanwhile this long (TCP RTO)
    loss: float = 0.0  # probability that an exchange never completes
    step_at_s: float | None = None  # true time of a route change ...
    step_forward_s: float = 0.0  # ... adding this to the forward floor
    step_reverse_s: float = 0.0  # ... and this to the reverse floor
    processing_s: float = 0.0002  # the conductor's hold time between t2 and t3
    fifo: bool = True  # messages in one direction never overtake (TCP)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """A clock, a path, an exchange rate and a duration; outages send nothing."""

    clock: ClockModel = field(default_factory=ClockModel)
    path: PathModel = field(default_factory=PathModel)
    rate_hz: float = 10.0
    duration_s: float = 120.0
    outages: tuple[tuple[float, float], ...] = ()  # [start, end) in true seconds


class _LocalClock:
    """Local time as a function of true time, with frequency steps each second."""

    def __init__(self, model: ClockModel, duration_s: float, rng: np.random.Generator) -> None:
        seconds = math.ceil(duration_s) + 2
        steps = rng.standard_normal(seconds) * model.wander_ppm
        self._freq = (model.drift_ppm + np.cumsum(steps) - steps[0]) * _PPM
        self._phase = np.concatenate(([0.0], np.cumsum(1.0 + self._freq)))
        self._start = model.local_start_s + model.offset_s
        self._epoch = model.epoch_s
        self._steps = model.conductor_steps

    def local(self, tau: NDArray[np.float64]) -> NDArray[np.float64]:
        k = np.clip(np.floor(tau).astype(np.int64), 0, self._freq.size - 1)
        local: NDArray[np.float64] = (
            self._start + self._phase[k] + (1.0 + self._freq[k]) * (tau - k)
        )
        return local

    def shared(self, tau: NDArray[np.float64]) -> NDArray[np.float64]:
        stepped = sum((np.where(tau >= at, size, 0.0) for at, size in self._steps), np.zeros(1))
        return self._epoch + tau + stepped


@dataclass(frozen=True, slots=True)
class Simulation:
    """Completed exchanges in arrival order, with the truth at each arrival."""

    exchanges: tuple[Exchange, ...]
    arrival_tau: NDArray[np.float64]  # true time each reply arrived
    true_offset: NDArray[np.float64]  # shared − local at each arrival
    _clock: _LocalClock

    def local_at(self, tau: float) -> float:
        """The venue's local clock at true time `tau`."""
        return float(self._clock.local(np.array([tau]))[0])

    def true_offset_at(self, tau: float) -> float:
        """Shared − local at true time `tau`."""
        t = np.array([tau])
        return float(self._clock.shared(t)[0] - self._clock.local(t)[0])


def _jitter(path: PathModel, size: int, rng: np.random.Generator) -> NDArray[np.float64]:
    match path.jitter:
        case "none":
            jitter = np.zeros(size)
        case "exponential":
            jitter = rng.exponential(path.jitter_s, size)
        case "pareto":  # Lomax: a Pareto tail starting at the floor
            jitter = path.jitter_s * (rng.random(size) ** (-1.0 / path.pareto_shape) - 1.0)
        case _:  # "normal", netem's "distribution normal": may go below the floor, not below 0
            jitter = rng.normal(0.0, path.jitter_s, size)
    jitter = np.minimum(jitter, path.max_jitter_s)
    spikes = rng.random(size) < path.spike_probability
    return jitter + np.where(spikes, rng.exponential(path.spike_s, size), 0.0)


def _leg(
    path: PathModel,
    sent: NDArray[np.float64],
    floor_s: float,
    step_s: float,
    rng: np.random.Generator,
    duration_s: float,
) -> NDArray[np.float64]:
    """Arrival times of messages sent at `sent` (sorted) over one direction of the path."""
    base = np.full(sent.size, floor_s)
    if path.step_at_s is not None:
        base += np.where(sent >= path.step_at_s, step_s, 0.0)
    arrival = sent + np.maximum(base + _jitter(path, sent.size, rng), 0.0)
    stalls = rng.uniform(0.0, duration_s, rng.poisson(path.stall_rate_hz * duration_s))
    for start in stalls:
        held = (sent >= start) & (sent < start + path.stall_s)
        arrival = np.where(held, np.maximum(arrival, start + path.stall_s + base), arrival)
    if path.fifo:
        arrival = np.maximum.accumulate(arrival)
    return arrival


def simulate(scenario: Scenario, *, seed: int) -> Simulation:
    """Run `scenario` with the random stream `seed`; deterministic for equal arguments."""
    rng = np.random.default_rng(seed)
    path = scenario.path
    clock = _LocalClock(scenario.clock, scenario.duration_s + 1.0, rng)
    sent = np.arange(0.0, scenario.duration_s, 1.0 / scenario.rate_hz)
    for start, end in scenario.outages:
        sent = sent[(sent < start) | (sent >= end)]
    received = _leg(path, sent, path.forward_s, path.step_forward_s, rng, scenario.duration_s)
    replied = received + path.processing_s
    arrived = _leg(path, replied, path.reverse_s, path.step_reverse_s, rng, scenario.duration_s)
    kept = (rng.random(sent.size) >= path.loss) & (arrived < scenario.duration_s)
    order = np.argsort(arrived[kept], kind="stable")
    sent, received, replied, arrived = (a[kept][order] for a in (sent, received, replied, arrived))
    t1, t4 = clock.local(sent), clock.local(arrived)
    t2, t3 = clock.shared(received), clock.shared(replied)
    exchanges = tuple(
        Exchange(t1=float(a), t2=float(b), t3=float(c), t4=float(d))
        for a, b, c, d in zip(t1, t2, t3, t4, strict=True)
    )
    return Simulation(exchanges, arrived, clock.shared(arrived) - t4, clock)
