"""UdpSink over real loopback sockets: unicast, sACN multicast on lo, errors counted not raised."""

from __future__ import annotations

import gc
import socket
from collections.abc import Iterator

import numpy as np
import pytest

from controller.outputs.network import SacnOutput
from controller.outputs.routing import Route
from controller.outputs.udp import UdpSink, is_loopback
from controller.show.rig import Protocol
from simulator.wire import sacn as wire_sacn

pytestmark = pytest.mark.network

LOOPBACK = "127.0.0.1"
TIMEOUT_S = 5.0


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind((LOOPBACK, 0))
        rx.settimeout(TIMEOUT_S)
        yield rx


@pytest.fixture
def sink() -> Iterator[UdpSink]:
    s = UdpSink()
    yield s
    s.close()


def test_a_datagram_reaches_a_bound_loopback_socket(receiver: socket.socket, sink: UdpSink) -> None:
    port = receiver.getsockname()[1]
    sink.sendto(b"citypulse", (LOOPBACK, port))
    data, source = receiver.recvfrom(2048)
    assert (data, source[0]) == (b"citypulse", LOOPBACK)
    assert (sink.sent, sink.errors, sink.last_error) == (1, 0, None)


def test_the_socket_opens_on_first_send_and_reopens_after_close(
    receiver: socket.socket, sink: UdpSink
) -> None:
    port = receiver.getsockname()[1]
    sink.sendto(b"one", (LOOPBACK, port))
    sink.close()
    sink.close()  # idempotent
    sink.sendto(b"two", (LOOPBACK, port))
    assert [receiver.recvfrom(64)[0] for _ in range(2)] == [b"one", b"two"]


def _multicast_receiver(group: str) -> socket.socket:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        rx.bind(("0.0.0.0", 0))  # Linux: multicast reaches wildcard- or group-bound sockets
        membership = socket.inet_aton(group) + socket.inet_aton(LOOPBACK)
        rx.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    except OSError as exc:
        rx.close()
        pytest.skip(f"this machine refuses multicast on loopback: {exc}")
    rx.settimeout(TIMEOUT_S)
    return rx


def test_sacn_multicast_on_a_custom_port_arrives_on_loopback() -> None:
    group = "239.255.0.3"
    with _multicast_receiver(group) as rx:
        port = rx.getsockname()[1]
        route = Route(protocol=Protocol.SACN, universes=(3,), wire=(3,), multicast=True, port=port)
        sink = UdpSink(multicast_interface=LOOPBACK)
        out = SacnOutput(
            name="sacn[1]", routes=[route], universes=(1, 2, 3), sink=sink, source_name="t"
        )
        dmx = np.zeros((3, 512), np.uint8)
        dmx[2, :4] = (1, 2, 3, 4)
        out.open(0.0)
        try:
            out.send_frame(0.0, dmx)
            try:
                first = rx.recvfrom(2048)[0]
                second = rx.recvfrom(2048)[0]
            except TimeoutError:
                pytest.skip("multicast on loopback sent but never delivered on this machine")
        finally:
            out.close(0.0)
        data = wire_sacn.parse(first)
        assert isinstance(data, wire_sacn.SacnDataFrame)
        assert (data.universe, data.data[:5]) == (3, bytes((1, 2, 3, 4, 0)))
        sync = wire_sacn.parse(second)
        assert isinstance(sync, wire_sacn.SacnSyncFrame)
        assert sync.sync_address == 3
        assert sink.errors == 0


@pytest.mark.parametrize(
    ("address", "payload", "why"),
    [
        pytest.param((LOOPBACK, 0), b"x", "Invalid argument", id="port-0"),
        pytest.param(("255.255.255.255", 9), b"x", "Permission denied", id="broadcast-not-allowed"),
        pytest.param((LOOPBACK, 9), bytes(70_000), "Message too long", id="oversized"),
    ],
)
def test_a_send_the_os_refuses_is_counted_not_raised(
    sink: UdpSink, address: tuple[str, int], payload: bytes, why: str
) -> None:
    sink.sendto(payload, address)
    sink.sendto(payload, address)
    assert (sink.sent, sink.errors) == (0, 2)
    assert sink.last_error == f"{address[0]}:{address[1]}: {why}"


def test_a_socket_that_cannot_be_set_up_is_counted_not_raised() -> None:
    """Regression: the socket was opened outside the error handling (and leaked)."""
    sink = UdpSink(multicast_interface="192.0.2.77")  # TEST-NET-1: never a local address
    raised = None
    try:
        sink.sendto(b"x", (LOOPBACK, 9))
        sink.sendto(b"x", (LOOPBACK, 9))
    except OSError as exc:
        raised = repr(exc)
    finally:
        sink.close()
    assert raised is None, f"sendto raised {raised}"
    assert (sink.sent, sink.errors) == (0, 2)
    assert sink.last_error == "socket setup: Cannot assign requested address"
    with pytest.raises(OSError, match="Cannot assign requested address"):
        sink.open()  # open() itself raises, and leaves no socket behind
    gc.collect()  # a leaked socket would raise ResourceWarning here (filterwarnings=error)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.4.5.6", True), ("::1", True), ("localhost", True),
     ("10.0.0.1", False), ("node.local", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
