"""Serial DMX outputs: ENTTEC Pro over a real pty, reopen back-off, Open DMX line timing."""

from __future__ import annotations

import os
import select
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from controller.outputs.serial_dmx import (
    BACKOFF_MAX_S,
    BACKOFF_MIN_S,
    EnttecOutput,
    OpenDmxOutput,
    SerialPort,
)
from controller.testing import ManualClock
from simulator.wire import enttec as wire_enttec
from tests.outputs.fakes import LinePort

LABEL6_HEAD = bytes((0x7E, 0x06, 0x01, 0x02, 0x00))  # SOM, label 6, length 513 LE, start code
EOM = b"\xe7"
FRAME_SIZE = len(LABEL6_HEAD) + 512 + 1


def dmx_frames(n: int, seed: int = 3) -> list[NDArray[np.uint8]]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (2, 512), dtype=np.uint8) for _ in range(n)]


# -- a real pty -----------------------------------------------------------------------------


@pytest.fixture
def pty() -> Iterator[tuple[int, str]]:
    """(master fd, slave path); the slave stays open so the master never reads EIO."""
    master, slave = os.openpty()
    os.set_blocking(master, False)
    try:
        yield master, os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


def read_exactly(fd: int, size: int, *, polls: int = 50) -> bytes:
    """Up to `polls` x 0.1 s to read `size` bytes from `fd`."""
    data = b""
    for _ in range(polls):
        if len(data) >= size:
            break
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            data += os.read(fd, size - len(data))
    return data


def nothing_more(fd: int) -> bool:
    ready, _, _ = select.select([fd], [], [], 0.05)
    return not ready


def test_enttec_writes_exactly_one_label6_frame_per_commit_to_a_real_pty(
    pty: tuple[int, str],
) -> None:
    master, path = pty
    out = EnttecOutput(name="enttec[1]", device=path, row=1)  # the default pyserial opener
    out.open(0.0)
    assert out.stats().up
    try:
        for k, dmx in enumerate(dmx_frames(3)):
            out.stage(k * 0.025, dmx)
            assert nothing_more(master)  # staging writes nothing
            out.commit(k * 0.025)
            wire = read_exactly(master, FRAME_SIZE)
            assert wire == LABEL6_HEAD + dmx[1].tobytes() + EOM
            (frame,) = wire_enttec.WidgetStream().feed(wire)
            assert frame.label == wire_enttec.LABEL_SEND_DMX
            assert wire_enttec.parse_send_dmx(frame.data).slots == dmx[1].tobytes()
        assert nothing_more(master)
    finally:
        out.close(1.0)
    stats = out.stats()
    assert (stats.frames, stats.packets, stats.bytes) == (3, 3, 3 * FRAME_SIZE)
    assert (stats.errors, stats.reopens) == (0, 0)


def test_enttec_commit_without_a_staged_frame_writes_nothing(pty: tuple[int, str]) -> None:
    master, path = pty
    out = EnttecOutput(name="e", device=path, row=0)
    out.open(0.0)
    try:
        out.commit(0.0)
        assert nothing_more(master)
        assert out.stats().frames == 0
    finally:
        out.close(0.0)


def test_a_device_that_appears_later_is_opened_at_the_retry_time(
    pty: tuple[int, str], tmp_path: Path
) -> None:
    master, slave_path = pty
    device = tmp_path / "ttyUSB-citypulse"
    out = EnttecOutput(name="e", device=str(device), row=0)
    out.open(0.0)
    stats = out.stats()
    assert (stats.up, stats.errors) == (False, 1)
    assert stats.last_error is not None
    assert stats.last_error.startswith(str(device))
    device.symlink_to(slave_path)  # the widget is plugged in
    (dmx,) = dmx_frames(1)
    out.send_frame(0.4, dmx)  # before retry_at (0.5): no attempt, nothing written
    assert nothing_more(master)
    assert out.stats().errors == 1
    try:
        out.send_frame(0.5, dmx)
        assert read_exactly(master, FRAME_SIZE) == LABEL6_HEAD + dmx[0].tobytes() + EOM
    finally:
        out.close(1.0)
    stats = out.stats()
    assert (stats.up, stats.reopens, stats.errors, stats.frames) == (True, 1, 1, 1)


# -- back-off with a fake opener ------------------------------------------------------------


class FakePort:
    """A `SerialPort` that records writes and can be unplugged."""

    def __init__(self) -> None:
        self.break_condition = False
        self.writes: list[bytes] = []
        self.unplugged = False
        self.closed = False

    def write(self, data: bytes) -> int:
        if self.unplugged:
            msg = "write failed: [Errno 5] Input/output error"
            raise OSError(msg)
        self.writes.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return

    def close(self) -> None:
        self.closed = True


class Opener:
    """Fails the first `failures` opens; records the `now` of every attempt."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.now = 0.0  # set by the test before each call into the output
        self.attempts: list[float] = []
        self.port = FakePort()

    def __call__(self, device: str) -> SerialPort:
        self.attempts.append(self.now)
        if len(self.attempts) <= self.failures:
            msg = f"could not open port {device}: [Errno 2] No such file or directory"
            raise OSError(msg)
        self.port = FakePort()
        return self.port


def drive(out: EnttecOutput, opener: Opener, times: list[float]) -> None:
    (dmx,) = dmx_frames(1)
    for now in times:
        opener.now = now
        out.send_frame(now, dmx)


def grid(end: float, step: float = 0.125) -> list[float]:
    return [k * step for k in range(1, round(end / step) + 1)]


def test_a_missing_device_is_retried_with_doubling_back_off_up_to_8_s() -> None:
    opener = Opener(failures=100)
    out = EnttecOutput(name="e", device="/dev/ttyUSB-missing", row=0, opener=opener)
    out.open(0.0)
    drive(out, opener, grid(40.0))
    # attempts at 0, then after 0.5, 1, 2, 4, 8, 8, 8, 8 s
    assert opener.attempts == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 23.5, 31.5, 39.5]
    gaps = np.diff(opener.attempts).tolist()
    assert gaps == [BACKOFF_MIN_S, 1.0, 2.0, 4.0, BACKOFF_MAX_S, 8.0, 8.0, 8.0]
    stats = out.stats()
    assert (stats.up, stats.errors, stats.frames, stats.reopens) == (False, 9, 0, 0)
    assert stats.last_error == (
        "/dev/ttyUSB-missing: could not open port /dev/ttyUSB-missing: "
        "[Errno 2] No such file or directory"
    )


def test_a_device_that_starts_opening_is_counted_as_reopened_and_back_off_resets() -> None:
    opener = Opener(failures=3)  # fails at 0, 0.5, 1.5; opens at 3.5
    out = EnttecOutput(name="e", device="/dev/ttyUSB0", row=0, opener=opener)
    out.open(0.0)
    drive(out, opener, grid(5.0))
    assert opener.attempts == [0.0, 0.5, 1.5, 3.5]
    stats = out.stats()
    assert (stats.up, stats.reopens, stats.errors) == (True, 1, 3)
    assert len(opener.port.writes) == stats.frames == len(grid(5.0)[grid(5.0).index(3.5) :])
    # unplugged mid-show: closed, and retried after the minimum back-off again
    opener.port.unplugged = True
    drive(out, opener, [5.125])
    assert opener.port.closed
    assert out.stats().up is False
    opener.failures = 0
    drive(out, opener, [5.5, 5.625])
    assert opener.attempts[-1] == 5.625  # 5.125 + 0.5
    assert out.stats().reopens == 2


def test_a_device_that_fails_before_any_frame_is_not_counted_as_reopened() -> None:
    opener = Opener(failures=0)
    out = EnttecOutput(name="e", device="/dev/ttyUSB0", row=0, opener=opener)
    out.open(0.0)
    assert (out.stats().up, out.stats().reopens) == (True, 0)


# -- Open DMX: BREAK, MAB, slots on absolute deadlines ----------------------------------------


def check_packet(packet: list[tuple[float, str, object]], start: float, slots: bytes) -> None:
    (t0, op0, v0), (t1, op1, v1), (t2, op2, v2), (t3, op3, _) = packet
    assert (op0, v0, op1, v1, op2, op3) == ("break", True, "break", False, "write", "flush")
    assert t0 == start
    assert t1 - t0 >= 100e-6  # BREAK
    assert t2 - t1 >= 12e-6  # MARK AFTER BREAK
    assert isinstance(v2, bytes)
    assert (len(v2), v2[0], v2[1:]) == (513, 0x00, slots)
    assert t3 >= t2


def open_dmx(
    clock: ManualClock, port: LinePort, *, paced: bool, fps: float = 40.0
) -> OpenDmxOutput:
    opener: Callable[[str], SerialPort] = lambda _: port  # noqa: E731
    return OpenDmxOutput(
        name="opendmx[1]", device="/dev/ttyUSB0", row=1, clock=clock, fps=fps, opener=opener,
        paced=paced,
    )  # fmt: skip


def test_open_dmx_unpaced_writes_one_timed_packet_per_commit() -> None:
    clock = ManualClock(autojump=True)
    port = LinePort(clock)
    out = open_dmx(clock, port, paced=False)
    out.open(0.0)
    frames = dmx_frames(4)
    for k, dmx in enumerate(frames):
        clock.jump_to(k / 40)
        out.send_frame(clock.now(), dmx)
    packets = port.packet_list()
    assert len(packets) == 4
    for k, (packet, dmx) in enumerate(zip(packets, frames, strict=True)):
        check_packet(packet, k / 40, dmx[1].tobytes())
    stats = out.stats()
    assert (stats.frames, stats.bytes, stats.errors) == (4, 4 * 513, 0)
    out.close(1.0)


def test_open_dmx_paced_thread_starts_packets_on_absolute_deadlines() -> None:
    clock = ManualClock(autojump=True)
    port = LinePort(clock, packets_wanted=12)
    out = open_dmx(clock, port, paced=True, fps=40.0)
    (dmx,) = dmx_frames(1)
    out.stage(0.0, dmx)  # latest frame: every packet carries it
    out.open(0.0)
    try:
        assert port.enough.wait(10), "the Open DMX thread wrote no packets"
    finally:
        out.close(clock.now())
    assert port.events[-1][1] == "close"
    packets = port.packet_list()[:12]
    period = 1.0 / 40.0
    for k, packet in enumerate(packets):
        check_packet(packet, 0.0 + k * period, dmx[1].tobytes())
    assert port.threads == {"opendmx[opendmx[1]]"}


def test_open_dmx_sends_the_latest_staged_frame() -> None:
    clock = ManualClock(autojump=True)
    port = LinePort(clock)
    out = open_dmx(clock, port, paced=False)
    first, second = dmx_frames(2)
    out.stage(0.0, first)
    out.stage(0.0, second)  # replaces the first before the packet goes
    out.commit(0.0)
    ((_, _, _), (_, _, _), (_, _, written), _) = port.packet_list()[0]
    assert written == b"\x00" + second[1].tobytes()


def test_open_dmx_that_cannot_open_counts_the_error_and_sends_nothing() -> None:
    clock = ManualClock(autojump=True)

    def refuse(device: str) -> SerialPort:
        msg = f"could not open port {device}"
        raise OSError(msg)

    out = OpenDmxOutput(
        name="o", device="/dev/ttyUSB9", row=0, clock=clock, opener=refuse, paced=False
    )
    out.send_frame(0.0, dmx_frames(1)[0])
    stats = out.stats()
    assert (stats.up, stats.errors, stats.frames) == (False, 1, 0)


@pytest.mark.parametrize("fps", [0.5, 45.0])
def test_open_dmx_refuses_a_rate_a_full_universe_cannot_make(fps: float) -> None:
    with pytest.raises(ValueError, match=rf"fps={fps!r} out of range 1..44"):
        OpenDmxOutput(name="o", device="d", row=0, clock=ManualClock(), fps=fps)
