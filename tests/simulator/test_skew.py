"""skew_report on synthetic series: pairing, skew figures, missing and bunched frames."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.skew import nearest_skews, skew_report

P = 0.025  # 40 fps


def grid(n: int, offset_s: float = 0.0, *, noise_s: float = 0.0, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(100.0 + np.arange(n) * P + offset_s + rng.uniform(-noise_s, noise_s, n))


def test_constant_offsets_are_reported_per_pair_and_overall() -> None:
    series = {"beijing": grid(400), "lhasa": grid(400, 0.001), "singapore": grid(400, -0.002)}
    report = skew_report(series, P)
    assert report["reference"] == "beijing"
    lhasa, singapore = report["pairs"]
    assert (lhasa["venue"], lhasa["frames"], lhasa["unpaired"]) == ("lhasa", 400, 0)
    assert lhasa["mean_signed_ms"] == pytest.approx(1.0, abs=1e-6)
    assert singapore["mean_signed_ms"] == pytest.approx(-2.0, abs=1e-6)
    assert lhasa["skew_ms"] == pytest.approx({"p50": 1.0, "p99": 1.0, "max": 1.0}, abs=1e-6)
    assert singapore["skew_ms"]["p99"] == pytest.approx(2.0, abs=1e-6)
    overall = report["overall"]
    assert overall["frames"] == 800
    assert overall["skew_ms"]["p50"] == pytest.approx(1.5, abs=1e-6)  # half 1 ms, half 2 ms
    assert overall["frames_complete"] == 400
    assert overall["spread_ms"] == pytest.approx({"p50": 3.0, "p99": 3.0, "max": 3.0}, abs=1e-6)
    for venue in report["venues"].values():
        assert (venue["frames"], venue["missing"], venue["bunched"]) == (400, 0, 0)


def test_noise_shows_in_the_percentiles() -> None:
    series = {"a": grid(2000), "b": grid(2000, noise_s=0.0005, seed=3)}
    pair = skew_report(series, P)["pairs"][0]
    assert pair["skew_ms"]["p50"] == pytest.approx(0.25, abs=0.03)  # |uniform(-0.5, 0.5)| ms
    assert pair["skew_ms"]["p99"] == pytest.approx(0.495, abs=0.01)
    assert pair["skew_ms"]["max"] <= 0.5


def test_a_gap_counts_the_frames_it_skipped_and_a_short_interval_is_bunched() -> None:
    intervals = [1.0] * 20 + [4.0]  # three frames never emitted
    intervals += [1.0] * 10 + [1.4, 0.6]  # one frame late: neither missing nor bunched
    intervals += [1.0] * 5 + [0.3, 0.7]  # one frame early: one bunched interval
    intervals += [1.0] * 5 + [1.6]  # 1.6 periods: one frame missing
    times = list(100.0 + np.concatenate([[0.0], np.cumsum(intervals)]) * P)
    summary = skew_report({"v": times}, P)["venues"]["v"]
    assert (summary["frames"], summary["missing"], summary["bunched"]) == (len(times), 4, 1)
    assert summary["interval_ms"]["max"] == pytest.approx(4 * P * 1e3, abs=1e-6)


def test_frames_far_from_every_reference_frame_are_unpaired() -> None:
    reference = grid(100)
    del reference[20:30]  # the reference lost ten frames
    pair = skew_report({"ref": reference, "v": grid(100, 0.0005)}, P)["pairs"][0]
    assert pair["unpaired"] == 10
    assert pair["frames"] == 90
    assert pair["skew_ms"]["max"] == pytest.approx(0.5, abs=1e-6)


def test_a_skew_over_half_a_period_pairs_with_the_nearer_frame() -> None:
    pair = skew_report({"ref": grid(50), "v": grid(50, 0.6 * P)}, P)["pairs"][0]
    assert pair["mean_signed_ms"] == pytest.approx(-0.4 * P * 1e3, abs=1e-6)  # ambiguous beyond P/2


def test_reference_can_be_chosen_and_input_need_not_be_sorted() -> None:
    late = grid(10, 0.001)[::-1]
    report = skew_report({"a": grid(10), "b": late}, P, reference="b")
    assert report["reference"] == "b"
    assert report["pairs"][0]["venue"] == "a"
    assert report["pairs"][0]["mean_signed_ms"] == pytest.approx(-1.0, abs=1e-6)


def test_a_silent_venue_reports_no_figures() -> None:
    report = skew_report({"a": grid(10), "b": []}, P)
    pair = report["pairs"][0]
    assert (pair["frames"], pair["mean_signed_ms"]) == (0, None)
    assert pair["skew_ms"] == {"p50": None, "p99": None, "max": None}
    assert report["overall"]["frames_complete"] == 0
    assert report["venues"]["b"]["frames"] == 0


def test_nearest_skews_with_one_reference_frame() -> None:
    skew, pick = nearest_skews(np.array([0.9, 1.0, 1.2]), np.array([1.0]))
    assert list(np.round(skew, 9)) == [-0.1, 0.0, 0.2]
    assert list(pick) == [0, 0, 0]


@pytest.mark.parametrize(
    ("series", "period", "reference", "message"),
    [
        ({"a": [1.0]}, 0.0, None, "period_s=0.0 must be a positive number"),
        ({"a": [1.0]}, float("nan"), None, "period_s=nan must be a positive number"),
        ({}, P, None, "series_by_venue is empty"),
        ({"a": [1.0]}, P, "z", "reference='z' is not one of ['a']"),
    ],
)
def test_bad_arguments(
    series: dict[str, list[float]], period: float, reference: str | None, message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        skew_report(series, period, reference=reference)
    assert str(caught.value) == message
