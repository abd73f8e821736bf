"""OSC input keeps a burst: a large receive buffer, and what the kernel still drops is counted.

Each test sends a whole burst before the receiver's loop runs again, so every datagram of it
waits in the socket's receive buffer: what the buffer cannot hold the kernel drops. Then the
receiver drains the buffer and the counts are compared.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from controller.protocols import osc
from controller.testing import ManualClock
from controller.transports.osc_in import RECEIVE_BUFFER, OscInput

pytestmark = pytest.mark.network

BURST = 3000
DATAGRAM = osc.encode(osc.Message(address="/citypulse/master", args=(0.5,)))
RMEM_MAX = Path("/proc/sys/net/core/rmem_max")


def _rmem_max() -> int:
    if not RMEM_MAX.exists():
        pytest.skip("needs Linux /proc/sys/net/core/rmem_max")
    return int(RMEM_MAX.read_text())


async def _drain(rx: OscInput, count: int) -> None:
    """Until `count` datagrams arrived or were dropped, or 200 loop turns bring nothing new."""
    async with asyncio.timeout(10.0):
        while True:
            stats = rx.statistics()
            if stats.datagrams + (stats.kernel_drops or 0) >= count:
                return
            for _ in range(200):
                await asyncio.sleep(0)  # noqa: TID251 - yields only; lets the receiver read
            if rx.statistics().datagrams == stats.datagrams:
                return


def _burst(port: int, count: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _ in range(count):
            s.sendto(DATAGRAM, ("127.0.0.1", port))


async def test_receive_buffer_is_4_mib_or_the_kernel_limit() -> None:
    granted_limit = min(RECEIVE_BUFFER, _rmem_max())
    async with OscInput(handler=lambda m, d: None, clock=ManualClock(), wall_offset=0.0) as rx:
        granted = rx.statistics().receive_buffer
    assert RECEIVE_BUFFER == 4 << 20
    assert granted >= granted_limit  # Linux reports twice the request (its bookkeeping)


async def test_a_burst_of_3000_datagrams_arrives_whole() -> None:
    if _rmem_max() < RECEIVE_BUFFER:
        pytest.skip(f"net.core.rmem_max={_rmem_max()} caps the receive buffer below 4 MiB")
    got: list[osc.Message] = []
    async with OscInput(
        handler=lambda m, d: got.append(m), clock=ManualClock(), wall_offset=0.0
    ) as rx:
        _burst(rx.port, BURST)
        await _drain(rx, BURST)
        stats = rx.statistics()
    assert (stats.datagrams, stats.kernel_drops, len(got)) == (BURST, 0, BURST)


async def test_datagrams_the_kernel_drops_are_counted() -> None:
    """A receiver with a tiny buffer loses most of a burst, and says how many it lost."""
    _rmem_max()
    async with OscInput(
        handler=lambda m, d: None, clock=ManualClock(), wall_offset=0.0, receive_buffer=4096
    ) as rx:
        _burst(rx.port, 500)
        await _drain(rx, 500)
        live = rx.statistics()
    final = rx.statistics()  # after close: the count taken as the socket closed
    assert live.kernel_drops is not None
    assert live.kernel_drops > 0
    assert live.datagrams + live.kernel_drops == 500
    assert final.kernel_drops == live.kernel_drops
