"""OSC input over real loopback UDP: immediate messages, timetagged bundles, hostile input."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from controller.protocols import osc
from controller.testing import ManualClock
from controller.transports.osc_in import MAX_DATAGRAM, OscInput

pytestmark = pytest.mark.network

WALL_OFFSET = 1_700_000_000.0  # unix time = clock time + this


def _message(address: str, *args: object) -> bytes:
    b = OscMessageBuilder(address=address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


def _bundle(at_clock: float, *messages: bytes) -> bytes:
    b = OscBundleBuilder(WALL_OFFSET + at_clock)  # python-osc takes a unix timestamp
    for m in messages:
        from pythonosc.osc_message import OscMessage

        b.add_content(OscMessage(m))
    return b.build().dgram


async def _wait(predicate: object, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0)  # noqa: TID251 - yields only; no time passes on the clock


@pytest.fixture
def sender() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    yield s  # type: ignore[misc]
    s.close()


async def test_message_is_handled_at_once(sender: socket.socket) -> None:
    got: list[osc.Message] = []
    async with OscInput(handler=got.append, clock=ManualClock(10.0), wall_offset=WALL_OFFSET) as rx:
        sender.sendto(_message("/citypulse/goto", "finale"), ("127.0.0.1", rx.port))
        await _wait(lambda: got)
    assert got[0].address == "/citypulse/goto"
    assert got[0].args == ("finale",)
    assert rx.stats.messages == 1


async def test_future_bundle_waits_for_its_timetag_without_blocking_others(
    sender: socket.socket,
) -> None:
    clock = ManualClock(100.0)
    got: list[tuple[str, float]] = []
    async with OscInput(
        handler=lambda m: got.append((m.address, clock.now())), clock=clock, wall_offset=WALL_OFFSET
    ) as rx:
        sender.sendto(_bundle(105.0, _message("/later")), ("127.0.0.1", rx.port))
        sender.sendto(_message("/now"), ("127.0.0.1", rx.port))
        await _wait(lambda: rx.stats.scheduled == 1 and got)
        assert got == [("/now", 100.0)]  # the waiting bundle did not hold up the message
        clock.advance(4.9)
        await asyncio.sleep(0)  # noqa: TID251 - let woken tasks run
        assert [a for a, _ in got] == ["/now"]
        clock.advance(0.1)
        await _wait(lambda: len(got) == 2)
    assert got[1][0] == "/later"
    assert got[1][1] == pytest.approx(105.0)


async def test_past_bundle_runs_immediately(sender: socket.socket) -> None:
    got: list[osc.Message] = []
    async with OscInput(handler=got.append, clock=ManualClock(50.0), wall_offset=WALL_OFFSET) as rx:
        sender.sendto(_bundle(10.0, _message("/old", 1)), ("127.0.0.1", rx.port))
        await _wait(lambda: got)
    assert rx.stats.scheduled == 0


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        pytest.param(b"/go\x00", "malformed", id="no-type-tags"),
        pytest.param(b"#bundle\x00\x00\x00", "malformed", id="truncated-bundle"),
        pytest.param(b"\xff" * 7, "malformed", id="garbage"),
        pytest.param(b"/x\x00\x00,i\x00\x00\x00\x01", "malformed", id="truncated-int"),
        pytest.param(b"/x\x00\x00,b\x00\x00" + bytes(MAX_DATAGRAM), "oversize", id="oversize"),
    ],
)
async def test_hostile_packets_are_counted_logged_and_dropped(
    sender: socket.socket, caplog: pytest.LogCaptureFixture, data: bytes, kind: str
) -> None:
    got: list[osc.Message] = []
    caplog.set_level(logging.WARNING, logger="citypulse.osc_in")
    async with OscInput(handler=got.append, clock=ManualClock(), wall_offset=WALL_OFFSET) as rx:
        sender.sendto(data, ("127.0.0.1", rx.port))
        sender.sendto(_message("/after"), ("127.0.0.1", rx.port))
        await _wait(lambda: got)
    assert getattr(rx.stats, kind) == 1
    assert [m.address for m in got] == ["/after"]  # still working afterwards
    assert sum(kind in r.getMessage() for r in caplog.records) == 1


async def test_a_failing_handler_is_counted_not_fatal(sender: socket.socket) -> None:
    calls: list[str] = []

    def handler(m: osc.Message) -> None:
        calls.append(m.address)
        if m.address == "/boom":
            raise RuntimeError("handler bug")

    async with OscInput(handler=handler, clock=ManualClock(), wall_offset=WALL_OFFSET) as rx:
        sender.sendto(_message("/boom"), ("127.0.0.1", rx.port))
        sender.sendto(_message("/fine"), ("127.0.0.1", rx.port))
        await _wait(lambda: len(calls) == 2)
    assert rx.stats.handler_errors == 1


async def test_pending_bundles_are_bounded(sender: socket.socket) -> None:
    async with OscInput(
        handler=lambda m: None, clock=ManualClock(), wall_offset=WALL_OFFSET, max_pending=3
    ) as rx:
        for _ in range(5):
            sender.sendto(_bundle(1000.0, _message("/x")), ("127.0.0.1", rx.port))
        await _wait(lambda: rx.stats.datagrams == 5)
    assert rx.stats.scheduled == 3
    assert rx.stats.dropped == 2
