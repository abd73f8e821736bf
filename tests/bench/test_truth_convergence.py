"""`citypulse venue`'s benchmark figures: when the estimate counts as converged."""

from __future__ import annotations

import numpy as np

from controller.cli.venue_cmd import _converged

AT = np.arange(0.0, 60.0, 0.1)  # ten samples a second for a minute


def test_converged_is_the_start_of_the_first_stretch_within_a_millisecond_for_twenty_seconds() -> (
    None
):
    error = np.full(AT.size, 0.5)
    error[:30] = 5.0  # off until 3 s
    error[400] = 3.0  # one excursion at 40 s, after a 37 s good stretch: still converged at 3 s
    assert _converged(AT, error) == 3.0


def test_a_short_good_stretch_does_not_count() -> None:
    error = np.full(AT.size, 0.5)
    error[:30] = 5.0
    error[100] = 2.0  # good from 3 s to 10 s only: the stretch that counts starts at 10.1 s
    assert _converged(AT, error) == 10.1


def test_never_within_a_millisecond_is_none() -> None:
    assert _converged(AT, np.full(AT.size, 2.0)) is None


def test_a_run_shorter_than_twenty_seconds_counts_to_its_end() -> None:
    assert _converged(AT[:50], np.full(50, 0.1)) == 0.0
