"""FrameBook: latch domains, frames marked by the lowest universe, torn latches, bounded memory."""

from __future__ import annotations

from simulator.frames import MAX_DOMAINS, FrameBook

PERIOD = 0.025


def test_two_sync_domains_latching_one_frame_count_it_once() -> None:
    book = FrameBook(fps=40.0, marker=0)
    for k in range(10):
        book.latched(k * PERIOD, "artnet", [0, 1])
        book.latched(k * PERIOD + 0.0002, ("sacn", 3), [2])
    assert (book.latches, book.frames, book.torn) == (20, 10, 0)
    timing = book.timing()
    assert timing.bunched == 0
    assert timing.jitter_max_ms is not None
    assert timing.jitter_max_ms < 1e-6


def test_a_latch_missing_a_universe_of_its_domain_is_torn() -> None:
    book = FrameBook(fps=40.0, marker=0)
    book.latched(0.0, "artnet", [0, 1])
    book.latched(0.025, ("sacn", 3), [2])
    book.latched(0.05, "artnet", [0])
    assert book.torn == 1
    book.latched(0.075, "artnet", [0, 1])
    assert book.torn == 1, "growing back is not torn"


def test_latching_nothing_is_no_event() -> None:
    book = FrameBook(fps=40.0, marker=0)
    book.latched(0.0, "artnet", [])
    assert (book.latches, book.frames) == (0, 0)


def test_immediate_frames_close_at_each_arrival_of_the_marker() -> None:
    book = FrameBook(fps=40.0, marker=0)
    for k in range(3):
        for row in (0, 1, 2):
            book.arrived(k * PERIOD + row * 0.001, row)
    assert (book.frames, book.torn) == (3, 0)
    book.arrived(0.075, 0)  # universes 1 and 2 of the previous frame never came
    book.arrived(0.1, 0)
    assert (book.frames, book.torn) == (5, 1)


def test_only_the_most_recent_domains_are_remembered() -> None:
    book = FrameBook(fps=40.0, marker=0)
    book.latched(0.0, ("sacn", 0), [1, 2])
    for address in range(1, MAX_DOMAINS + 1):
        book.latched(0.0, ("sacn", address), [1])
    book.latched(0.0, ("sacn", 0), [1])  # its previous latch was forgotten: not torn
    assert book.torn == 0
