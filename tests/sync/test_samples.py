"""The sample window: sorted, bounded, duplicates out."""

from __future__ import annotations

import numpy as np
import pytest

from controller.sync import Exchange
from controller.sync.samples import SampleWindow

SHARED = 1_700_000_000.0


def _exchange(t1: float, delay: float = 0.1) -> Exchange:
    return Exchange(t1=t1, t2=SHARED + t1, t3=SHARED + t1, t4=t1 + delay)


def test_out_of_order_arrivals_are_kept_sorted_by_midpoint() -> None:
    window = SampleWindow(window_s=100.0, max_samples=50, max_delay_s=5.0)
    for t1 in (0.0, 3.0, 1.0, 2.0, 5.0, 4.0):
        assert window.add(_exchange(t1)) is None
    assert np.all(np.diff(window.arrays().t) > 0)
    assert window.arrays().t == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])


def test_window_keeps_at_most_max_samples_and_only_the_window() -> None:
    window = SampleWindow(window_s=10.0, max_samples=20, max_delay_s=5.0)
    for t1 in range(100):
        window.add(_exchange(float(t1) / 4))
    assert len(window) == 20
    assert window.arrays().t[0] == (100 - 20) / 4
    window.prune()
    arrays = window.arrays()
    assert arrays.t[-1] - arrays.t[0] <= 10.0
    assert window.drop_before(arrays.t[-1]) == len(arrays.t) - 1
    assert len(window) == 1


def test_dropped_requests_may_come_again() -> None:
    window = SampleWindow(window_s=10.0, max_samples=2, max_delay_s=5.0)
    for t1 in (0.0, 1.0, 2.0):
        window.add(_exchange(t1))
    assert window.add(_exchange(2.0)) == "duplicate reply (same t1)"
    assert window.add(_exchange(0.0)) is None  # left the window, not a duplicate any more
