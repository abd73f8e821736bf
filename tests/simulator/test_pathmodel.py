"""Path models: seeded draws follow the model; the spec parser's results and exact errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.pathmodel import DelaySampler, PathModel, PathSpecError, parse_path_spec


def test_same_seed_same_draws_other_seed_other_draws() -> None:
    model = PathModel(delay_s=0.05, jitter_s=0.01, spike_p=0.1, spike_s=0.05)
    one, two, other = (DelaySampler(model, seed=s) for s in ("7/up", "7/up", "7/down"))
    draws = [one.sample() for _ in range(200)]
    assert draws == [two.sample() for _ in range(200)]
    assert draws != [other.sample() for _ in range(200)]


def test_draws_are_a_shifted_exponential_with_spikes() -> None:
    model = PathModel(delay_s=0.05, jitter_s=0.01, spike_p=0.02, spike_s=0.2)
    sampler = DelaySampler(model, seed=1)
    d = np.array([sampler.sample()[0] for _ in range(50_000)])
    assert d.min() >= 0.05  # one-sided: never below the floor
    spikes = d > 0.05 + 0.15  # an exponential with mean 10 ms passes 150 ms with p = 3e-7
    assert spikes.mean() == pytest.approx(0.02, abs=0.003)
    body = d[~spikes] - 0.05
    assert body.mean() == pytest.approx(0.01, rel=0.03)
    assert float(np.median(body)) == pytest.approx(0.01 * math.log(2), rel=0.04)


def test_stalls_are_drawn_with_their_probability() -> None:
    sampler = DelaySampler(PathModel(stall_p=0.05, stall_s=0.2), seed=3)
    stalls = [sampler.sample()[1] for _ in range(20_000)]
    assert set(stalls) == {0.0, 0.2}
    assert stalls.count(0.2) / len(stalls) == pytest.approx(0.05, abs=0.006)


def test_a_clean_model_draws_zero() -> None:
    sampler = DelaySampler(PathModel(), seed=0)
    assert {sampler.sample() for _ in range(100)} == {(0.0, 0.0)}


def test_model_refuses_values_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"spike_p=1\.5 out of range 0\.\.1"):
        PathModel(spike_p=1.5)
    with pytest.raises(ValueError, match=r"delay_s=nan out of range"):
        PathModel(delay_s=math.nan)


def test_spec_splits_the_rtt_and_applies_the_rest_each_way() -> None:
    up, down = parse_path_spec("rtt=100ms,jitter=20ms,spikes=1%:50ms,stalls=0.5%:200ms")
    for model, delay in ((up, 0.05), (down, 0.05)):
        assert model == PathModel(
            delay_s=delay, jitter_s=0.02, spike_p=0.01, spike_s=0.05, stall_p=0.005, stall_s=0.2
        )


@pytest.mark.parametrize(
    ("spec", "up_s", "down_s"),
    [
        ("rtt=100ms,up=30ms", 0.03, 0.07),
        ("rtt=0.1s,down=30ms", 0.07, 0.03),
        ("rtt=100ms,up=40ms,down=60ms", 0.04, 0.06),
        ("up=2ms", 0.002, 0.0),
        ("down=1500us", 0.0, 0.0015),
        (" rtt=60ms , jitter=.5ms ", 0.03, 0.03),
    ],
)
def test_spec_one_way_delays(spec: str, up_s: float, down_s: float) -> None:
    up, down = parse_path_spec(spec)
    assert up.delay_s == pytest.approx(up_s, abs=1e-12)
    assert down.delay_s == pytest.approx(down_s, abs=1e-12)


@pytest.mark.parametrize("spec", ["", "none", "  "])
def test_spec_clean_path(spec: str) -> None:
    assert parse_path_spec(spec) == (PathModel(), PathModel())


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("rtt", "'rtt': expected KEY=VALUE (keys: down, jitter, rtt, spikes, stalls, up)"),
        ("loss=1%", "'loss=1%': unknown key 'loss' (keys: down, jitter, rtt, spikes, stalls, up)"),
        ("rtt=100", "'rtt=100': '100' is not a duration (a number with us, ms or s: 100ms, 0.1s)"),
        (
            "rtt=-5ms",
            "'rtt=-5ms': '-5ms' is not a duration (a number with us, ms or s: 100ms, 0.1s)",
        ),
        ("jitter=11s", "'jitter=11s': 11s out of range 0..10s"),
        ("rtt=21s", "'rtt=21s': 21s out of range 0..20s"),
        ("rtt=1ms,rtt=2ms", "'rtt=2ms': rtt given twice"),
        ("rtt=1ms,,up=1ms", "empty item in 'rtt=1ms,,up=1ms'"),
        ("spikes=1%", "'spikes=1%': expected PERCENT:DURATION, e.g. spikes=1%:50ms"),
        ("stalls=0.1:200ms", "'stalls=0.1:200ms': expected PERCENT:DURATION, e.g. stalls=1%:50ms"),
        ("spikes=101%:5ms", "'spikes=101%:5ms': 101% out of range 0..100%"),
        ("stalls=1%:61s", "'stalls=1%:61s': 61s out of range 0..60s"),
        (
            "spikes=1%:x",
            "'spikes=1%:x': 'x' is not a duration (a number with us, ms or s: 100ms, 0.1s)",
        ),
        ("rtt=100ms,up=30ms,down=80ms", "up=30ms + down=80ms does not add up to rtt=100ms"),
        ("rtt=100ms,up=120ms", "up=120ms is more than rtt=100ms"),
    ],
)
def test_spec_errors_are_exact(spec: str, message: str) -> None:
    with pytest.raises(PathSpecError) as caught:
        parse_path_spec(spec)
    assert str(caught.value) == message
