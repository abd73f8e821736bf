"""One direction of an impaired network path: a delay model, its seeded sampler, a spec parser.

A `PathModel` describes what a chunk of a TCP stream suffers on its way through
`simulator.impair.ImpairedLink`: a floor (the base one-way delay), one-sided jitter (an
exponential extra delay with mean `jitter_s`, so the delay never drops below the floor, as
queueing delay behaves), occasional spikes (`spike_p` per chunk, `spike_s` extra) and stalls
(`stall_p` per chunk: the whole direction freezes for `stall_s`, the way a TCP
retransmission timeout holds every byte behind a lost segment).

`parse_path_spec("rtt=100ms,jitter=20ms,spikes=1%:50ms")` gives the (up, down) pair a CLI
option describes; see its docstring for the grammar.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

from controller.errors import ControllerError

__all__ = ["DelaySampler", "PathModel", "PathSpecError", "parse_path_spec"]

MAX_DELAY_S = 10.0  # base delay, jitter mean and spike size
MAX_STALL_S = 60.0
KEYS = ("down", "jitter", "rtt", "spikes", "stalls", "up")
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(us|ms|s)")
_PERCENT = re.compile(r"(\d+(?:\.\d*)?|\.\d+)%")
_UNIT_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


class PathSpecError(ControllerError):
    """A path spec string that does not parse; the message says which item and why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PathModel:
    """One direction's impairment; seconds and probabilities (0..1) per chunk."""

    delay_s: float = 0.0  # base one-way delay (the floor)
    jitter_s: float = 0.0  # mean of the exponential extra delay (one-sided)
    spike_p: float = 0.0  # probability that a chunk is delayed by a further spike_s
    spike_s: float = 0.0
    stall_p: float = 0.0  # probability that a chunk's arrival freezes the direction for stall_s
    stall_s: float = 0.0

    def __post_init__(self) -> None:
        for name, value, high in (
            ("delay_s", self.delay_s, MAX_DELAY_S),
            ("jitter_s", self.jitter_s, MAX_DELAY_S),
            ("spike_s", self.spike_s, MAX_DELAY_S),
            ("stall_s", self.stall_s, MAX_STALL_S),
            ("spike_p", self.spike_p, 1.0),
            ("stall_p", self.stall_p, 1.0),
        ):
            if not (math.isfinite(value) and 0.0 <= value <= high):
                raise ValueError(f"{name}={value!r} out of range 0..{high:g}")


class DelaySampler:
    """Seeded draws from a `PathModel`: the same seed gives the same sequence."""

    __slots__ = ("_rng", "model")

    def __init__(self, model: PathModel, *, seed: int | str) -> None:
        self.model = model
        self._rng = random.Random(seed)

    def sample(self) -> tuple[float, float]:
        """(delay_s, stall_s) for the next chunk; stall_s is 0.0 unless this chunk stalls."""
        m, rng = self.model, self._rng
        delay = m.delay_s
        if m.jitter_s > 0.0:
            delay += rng.expovariate(1.0 / m.jitter_s)
        if m.spike_p > 0.0 and rng.random() < m.spike_p:
            delay += m.spike_s
        stall = m.stall_s if m.stall_p > 0.0 and rng.random() < m.stall_p else 0.0
        return delay, stall


def _duration(item: str, text: str, high: float) -> float:
    match = _DURATION.fullmatch(text)
    if match is None:
        raise PathSpecError(
            f"{item!r}: {text!r} is not a duration (a number with us, ms or s: 100ms, 0.1s)"
        )
    value = float(match[1]) * _UNIT_S[match[2]]
    if value > high:
        raise PathSpecError(f"{item!r}: {text} out of range 0..{high:g}s")
    return value


def _chance(item: str, text: str, high: float) -> tuple[float, float]:
    key = item.split("=", 1)[0]
    head, sep, tail = text.partition(":")
    percent = _PERCENT.fullmatch(head)
    if not sep or percent is None:
        raise PathSpecError(f"{item!r}: expected PERCENT:DURATION, e.g. {key}=1%:50ms")
    p = float(percent[1])
    if p > 100.0:
        raise PathSpecError(f"{item!r}: {head} out of range 0..100%")
    return p / 100.0, _duration(item, tail, high)


def _items(spec: str) -> dict[str, tuple[str, str]]:
    """key -> (item, value) for each `key=value` item; duplicates and unknown keys refused."""
    found: dict[str, tuple[str, str]] = {}
    for item in spec.split(","):
        if not item.strip():
            raise PathSpecError(f"empty item in {spec!r}")
        item = item.strip()
        key, sep, value = item.partition("=")
        if not sep:
            raise PathSpecError(f"{item!r}: expected KEY=VALUE (keys: {', '.join(KEYS)})")
        if key not in KEYS:
            raise PathSpecError(f"{item!r}: unknown key {key!r} (keys: {', '.join(KEYS)})")
        if key in found:
            raise PathSpecError(f"{item!r}: {key} given twice")
        found[key] = (item, value)
    return found


def _one_way(found: dict[str, tuple[str, str]]) -> tuple[float, float]:
    """(up, down) base delays from rtt/up/down: half the RTT each way unless up= or down= says."""
    got = {
        k: _duration(*found[k], MAX_DELAY_S if k != "rtt" else 2 * MAX_DELAY_S)
        for k in ("rtt", "up", "down")
        if k in found
    }
    rtt, up, down = got.get("rtt"), got.get("up"), got.get("down")
    if rtt is None:
        return up or 0.0, down or 0.0
    if up is not None and down is not None:
        if not math.isclose(up + down, rtt, abs_tol=1e-9):
            raise PathSpecError(
                f"up={found['up'][1]} + down={found['down'][1]} does not add up to rtt={found['rtt'][1]}"
            )
        return up, down
    for name, given in (("up", up), ("down", down)):
        if given is not None and given > rtt:
            raise PathSpecError(f"{name}={found[name][1]} is more than rtt={found['rtt'][1]}")
    if up is not None:
        return up, rtt - up
    if down is not None:
        return rtt - down, down
    return rtt / 2, rtt / 2


def parse_path_spec(spec: str) -> tuple[PathModel, PathModel]:
    """(up, down) from a spec such as "rtt=100ms,jitter=20ms,spikes=1%:50ms".

    Items, comma separated, each at most once:
      rtt=DURATION       round trip of the base delays, split half each way
      up=DURATION        base delay client -> upstream (with rtt: down gets the rest)
      down=DURATION      base delay upstream -> client (with rtt: up gets the rest)
      jitter=DURATION    mean of the one-sided exponential extra delay, each direction
      spikes=P%:DURATION each chunk, each direction: probability and size of a spike
      stalls=P%:DURATION each chunk, each direction: probability that the direction freezes
    DURATION is a number with us, ms or s. "" or "none" is a clean path. Raises
    `PathSpecError` naming the item and what is wrong with it.
    """
    if spec.strip() in ("", "none"):
        return PathModel(), PathModel()
    found = _items(spec)
    up_s, down_s = _one_way(found)
    jitter = _duration(*found["jitter"], MAX_DELAY_S) if "jitter" in found else 0.0
    spike_p, spike_s = _chance(*found["spikes"], MAX_DELAY_S) if "spikes" in found else (0.0, 0.0)
    stall_p, stall_s = _chance(*found["stalls"], MAX_STALL_S) if "stalls" in found else (0.0, 0.0)

    def model(delay_s: float) -> PathModel:
        return PathModel(
            delay_s=delay_s, jitter_s=jitter, spike_p=spike_p, spike_s=spike_s,
            stall_p=stall_p, stall_s=stall_s,
        )  # fmt: skip

    return model(up_s), model(down_s)
