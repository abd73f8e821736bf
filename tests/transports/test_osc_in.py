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


class Got(list[tuple[osc.Message, float | None]]):
    """A handler recording (message, due)."""

    def __call__(self, message: osc.Message, due: float | None) -> None:
        self.append((message, due))

    @property
    def addresses(self) -> list[str]:
        return [m.address for m, _ in self]


async def test_message_is_handled_at_once_without_a_due_time(sender: socket.socket) -> None:
    got = Got()
    async with OscInput(handler=got, clock=ManualClock(10.0), wall_offset=WALL_OFFSET) as rx:
        sender.sendto(_message("/citypulse/goto", "finale"), ("127.0.0.1", rx.port))
        await _wait(lambda: got)
    message, due = got[0]
    assert message.address == "/citypulse/goto"
    assert message.args == ("finale",)
    assert due is None
    assert rx.statistics().messages == 1


async def test_future_bundle_waits_for_its_timetag_without_blocking_others(
    sender: socket.socket,
) -> None:
    clock = ManualClock(100.0)
    got: list[tuple[str, float | None, float]] = []
    async with OscInput(
        handler=lambda m, due: got.append((m.address, due, clock.now())),
        clock=clock,
        wall_offset=WALL_OFFSET,
    ) as rx:
        sender.sendto(_bundle(105.0, _message("/later")), ("127.0.0.1", rx.port))
        sender.sendto(_message("/now"), ("127.0.0.1", rx.port))
        await _wait(lambda: rx.statistics().scheduled == 1 and got)
        assert got == [("/now", None, 100.0)]  # the waiting bundle did not hold up the message
        clock.advance(4.9)
        await asyncio.sleep(0)  # noqa: TID251 - let woken tasks run
        assert [a for a, _, _ in got] == ["/now"]
        clock.advance(0.1)
        await _wait(lambda: len(got) == 2)
    address, due, handled_at = got[1]
    assert address == "/later"
    assert due == pytest.approx(105.0, abs=1e-6)  # the timetag, mapped onto the clock
    assert handled_at == 105.0  # dispatched at its due time


async def test_past_bundle_runs_immediately_with_its_past_due_time(
    sender: socket.socket,
) -> None:
    got = Got()
    async with OscInput(handler=got, clock=ManualClock(50.0), wall_offset=WALL_OFFSET) as rx:
        sender.sendto(_bundle(10.0, _message("/old", 1)), ("127.0.0.1", rx.port))
        await _wait(lambda: got)
    assert rx.statistics().scheduled == 0
    assert got[0][1] == pytest.approx(10.0, abs=1e-6)


async def test_nested_bundles_use_the_innermost_timetag(sender: socket.socket) -> None:
    got = Got()
    inner = osc.Bundle(
        timetag=osc.to_timetag(WALL_OFFSET + 20.0),
        elements=(osc.Message(address="/inner"),),
    )
    outer = osc.Bundle(
        timetag=osc.to_timetag(WALL_OFFSET + 10.0),
        elements=(osc.Message(address="/outer"), inner),
    )
    async with OscInput(handler=got, clock=ManualClock(50.0), wall_offset=WALL_OFFSET) as rx:
        sender.sendto(osc.encode(outer), ("127.0.0.1", rx.port))
        await _wait(lambda: len(got) == 2)
    assert [(m.address, round(due or 0.0, 3)) for m, due in got] == [
        ("/outer", 10.0),
        ("/inner", 20.0),
    ]


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
    got = Got()
    caplog.set_level(logging.WARNING, logger="citypulse.osc_in")
    async with OscInput(handler=got, clock=ManualClock(), wall_offset=WALL_OFFSET) as rx:
        sender.sendto(data, ("127.0.0.1", rx.port))
        sender.sendto(_message("/after"), ("127.0.0.1", rx.port))
        await _wait(lambda: got)
    assert getattr(rx.statistics(), kind) == 1
    assert got.addresses == ["/after"]  # still working afterwards
    assert sum(kind in r.getMessage() for r in caplog.records) == 1


async def test_a_failing_handler_is_counted_not_fatal(sender: socket.socket) -> None:
    calls: list[str] = []

    def handler(m: osc.Message, due: float | None) -> None:
        calls.append(m.address)
        if m.address == "/boom":
            raise RuntimeError("handler bug")

    async with OscInput(handler=handler, clock=ManualClock(), wall_offset=WALL_OFFSET) as rx:
        sender.sendto(_message("/boom"), ("127.0.0.1", rx.port))
        sender.sendto(_message("/fine"), ("127.0.0.1", rx.port))
        await _wait(lambda: len(calls) == 2)
    assert rx.statistics().handler_errors == 1


async def test_pending_bundles_are_bounded(sender: socket.socket) -> None:
    async with OscInput(
        handler=Got(), clock=ManualClock(), wall_offset=WALL_OFFSET, max_pending=3
    ) as rx:
        for _ in range(5):
            sender.sendto(_bundle(1000.0, _message("/x")), ("127.0.0.1", rx.port))
        await _wait(lambda: rx.statistics().datagrams == 5)
    stats = rx.statistics()
    assert (stats.scheduled, stats.dropped, stats.cancelled) == (3, 2, 3)


async def test_closing_one_receiver_leaves_another_receivers_bundles(
    sender: socket.socket,
) -> None:
    """Two receivers on one loop: closing A cancels A's waiting bundles, never B's."""
    clock = ManualClock(100.0)
    got_a, got_b = Got(), Got()
    async with OscInput(handler=got_b, clock=clock, wall_offset=WALL_OFFSET) as b:
        async with OscInput(handler=got_a, clock=clock, wall_offset=WALL_OFFSET) as a:
            sender.sendto(_bundle(105.0, _message("/a")), ("127.0.0.1", a.port))
            sender.sendto(_bundle(105.0, _message("/b")), ("127.0.0.1", b.port))
            await _wait(lambda: a.statistics().scheduled == b.statistics().scheduled == 1)
        clock.advance(5.0)
        await _wait(lambda: got_b, timeout=2.0)
    assert got_b.addresses == ["/b"]
    assert got_a == []
    assert (a.statistics().cancelled, b.statistics().cancelled) == (1, 0)


async def test_statistics_is_a_snapshot(sender: socket.socket) -> None:
    got = Got()
    async with OscInput(handler=got, clock=ManualClock(), wall_offset=WALL_OFFSET) as rx:
        before = rx.statistics()
        sender.sendto(_message("/x"), ("127.0.0.1", rx.port))
        await _wait(lambda: got)
        after = rx.statistics()
    assert (before.datagrams, before.messages) == (0, 0)
    assert (after.datagrams, after.messages) == (1, 1)
    with pytest.raises(AttributeError):
        after.datagrams = 5  # type: ignore[misc]
