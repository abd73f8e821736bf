"""The benchmarks' counting receiver judges frames right (complete, skipped, out of order)."""

from __future__ import annotations

import numpy as np

from controller.bench.receiver import FrameCounter
from controller.protocols import sacn

CID_A, CID_B = bytes(range(16)), bytes(range(16, 32))


def _sender(cid: bytes, universes: range) -> sacn.SacnSender:
    return sacn.SacnSender(
        cid=cid, source_name="t", universes=universes, sync_address=universes[0],
        unicast=dict.fromkeys([*universes], ("127.0.0.1", 1)), discovery_interval_s=None,
        mode="constant",
    )  # fmt: skip


def _feed(counter: FrameCounter, datagrams: list[bytes], t: float) -> None:
    data = np.zeros((len(datagrams), 700), np.uint8)
    for i, d in enumerate(datagrams):
        data[i, : len(d)] = np.frombuffer(d, np.uint8)
    lengths = np.array([len(d) for d in datagrams], np.int64)
    counter.feed(data, lengths, np.full(len(datagrams), t))


def _frame(sender: sacn.SacnSender, n: int, k: int) -> list[bytes]:
    dmx = np.full((n, 512), k % 256, np.uint8)
    return [d.data for d in sender.frame_array(k * 0.025, dmx)]


def test_complete_frames_from_two_sources() -> None:
    a, b, counter = _sender(CID_A, range(1, 4)), _sender(CID_B, range(4, 6)), FrameCounter()
    for k in range(60):
        _feed(counter, _frame(a, 3, k) + _frame(b, 2, k), k * 0.025)
    report = counter.report(40.0)
    assert [(s["universes"], s["frames"], s["complete"]) for s in report["sources"]] == [
        (3, 60, 60), (2, 60, 60)
    ]  # fmt: skip
    first = report["sources"][0]
    assert (first["incomplete"], first["frames_skipped"], first["out_of_order"]) == (0, 0, 0)
    assert first["fps"] == 40.0
    assert first["interval_dev_ms"]["max"] < 1e-6
    assert first["universes_at_fps"] == 3


def test_too_few_intervals_give_no_jitter_figure() -> None:
    a, counter = _sender(CID_A, range(1, 2)), FrameCounter()
    for k in range(5):
        _feed(counter, _frame(a, 1, k), k * 0.025)
    (s,) = counter.report(40.0)["sources"]
    assert s["interval_dev_ms"] is None


def test_a_missing_universe_a_lost_frame_and_a_reordering_are_counted() -> None:
    a, counter = _sender(CID_A, range(1, 4)), FrameCounter()
    _feed(counter, _frame(a, 3, 0), 0.0)
    frame = _frame(a, 3, 1)
    _feed(counter, [frame[0], frame[2], frame[3]], 0.025)  # universe 2 lost: incomplete
    _frame(a, 3, 2)  # a whole frame never arrives: the sync sequence skips one
    frame = _frame(a, 3, 3)
    _feed(counter, [frame[1], frame[0], frame[2], frame[3]], 0.075)
    (s,) = counter.report(40.0)["sources"]
    assert (s["frames"], s["complete"], s["incomplete"], s["frames_skipped"]) == (3, 2, 1, 1)
    assert s["out_of_order"] == 3  # every universe jumped the frame that never came


def test_stream_termination_is_not_a_frame() -> None:
    a, counter = _sender(CID_A, range(1, 3)), FrameCounter()
    _feed(counter, _frame(a, 2, 0), 0.0)
    _feed(counter, [d.data for d in a.terminate(0.1)], 0.1)
    (s,) = counter.report(40.0)["sources"]
    assert (s["frames"], s["complete"], s["data_packets"]) == (1, 1, 2)


def test_a_lost_frame_is_a_gap_with_its_arrival_times() -> None:
    a, counter = _sender(CID_A, range(1, 3)), FrameCounter()
    for k in range(7):  # frames 3 and 4 never arrive: the sync arrivals skip 75 ms
        frame = _frame(a, 2, k)
        if k not in (3, 4):
            _feed(counter, frame, 100.0 + k * 0.025)
    (s,) = counter.report(40.0)["sources"]
    assert s["frames_skipped"] == 2
    assert [(round(t0 - 100.0, 3), round(t1 - 100.0, 3), n) for t0, t1, n in s["gaps"]] == [
        (0.05, 0.125, 2)
    ]
