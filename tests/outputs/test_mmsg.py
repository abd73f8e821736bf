"""Batched sends (sendmmsg) over real loopback sockets: the same datagrams as one by one.

The batched path of the sACN and Art-Net outputs must put on the wire exactly what the
datagram-by-datagram path gives a recording sink, in the same order; the receiver reads
them with recvmmsg (`ReceiveBatch`) and decodes with the simulator's own wire code.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator

import numpy as np
import pytest

from controller.outputs import mmsg
from controller.outputs.network import ArtNetOutput, SacnOutput
from controller.outputs.routing import Route
from controller.outputs.udp import UdpSink
from controller.show.rig import Protocol
from simulator.wire import sacn as wire_sacn
from tests.outputs.fakes import RecordingSink

pytestmark = [
    pytest.mark.network,
    pytest.mark.skipif(not mmsg.available(), reason="no sendmmsg in this C library"),
]

UNIVERSES = tuple(range(1, 41))


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.setsockopt(socket.SOL_SOCKET, mmsg.SO_TIMESTAMPNS, 1)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    yield sock
    sock.close()


def _take(sock: socket.socket, count: int) -> list[bytes]:
    batch = mmsg.ReceiveBatch(capacity=64)
    got: list[bytes] = []
    while len(got) < count:
        assert select.select([sock], [], [], 2.0)[0], "nothing arrived within 2 s"
        lengths, stamps = batch.receive(sock.fileno())
        assert len(lengths), "nothing arrived"
        assert np.all(stamps > 1e9), "kernel arrival times (SO_TIMESTAMPNS) are filled in"
        got += [batch.data[i, : lengths[i]].tobytes() for i in range(len(lengths))]
    return got


def _sacn(sink: object, port: int) -> SacnOutput:
    route = Route(
        protocol=Protocol.SACN, universes=UNIVERSES, wire=UNIVERSES, host="127.0.0.1", port=port
    )
    return SacnOutput(
        name="sacn[1]", routes=[route], universes=UNIVERSES, sink=sink, source_name="t"
    )  # type: ignore[arg-type]


def test_sacn_batched_sends_what_the_datagram_path_sends(receiver: socket.socket) -> None:
    port = receiver.getsockname()[1]
    rng = np.random.default_rng(3)
    udp, recording = UdpSink(), RecordingSink()
    batched, reference = _sacn(udp, port), _sacn(recording, port)
    try:
        for k in range(3):
            dmx = rng.integers(0, 256, (len(UNIVERSES), 512), dtype=np.uint8)
            for out in (batched, reference):
                out.stage(k * 0.025, dmx)
            want = [d for d, a in recording.take() if a[1] == port]  # discovery is multicast
            got = _take(receiver, len(want))
            assert got == want  # byte for byte, in order
            data = [wire_sacn.parse(raw) for raw in got[: len(UNIVERSES)]]
            assert [p.universe for p in data] == list(UNIVERSES)  # type: ignore[union-attr]
            for out in (batched, reference):
                out.commit(k * 0.025 + 0.025)
            want = [d for d, _ in recording.take()]
            assert _take(receiver, 1) == want  # exactly the sync packet
            assert isinstance(wire_sacn.parse(want[0]), wire_sacn.SacnSyncFrame)
        assert batched.stats().packets == reference.stats().packets
        assert batched._batch is not None
        assert batched._batch.segmented  # one destination: the kernel cut the runs (UDP GSO)
        assert udp.sent >= 3 * len(UNIVERSES)
    finally:
        udp.close()


def test_artnet_batched_sends_what_the_datagram_path_sends(receiver: socket.socket) -> None:
    port = receiver.getsockname()[1]
    routes = [
        Route(protocol=Protocol.ARTNET, universes=(u,), wire=(u - 1,), host="127.0.0.1",
              port=port, sync=False)
        for u in UNIVERSES
    ]  # fmt: skip
    udp, recording = UdpSink(), RecordingSink()
    outs = [
        ArtNetOutput(name="a", routes=routes, universes=UNIVERSES, sink=sink)
        for sink in (udp, recording)
    ]
    dmx = np.arange(len(UNIVERSES) * 512, dtype=np.uint32).astype(np.uint8).reshape(-1, 512)
    try:
        for out in outs:
            out.stage(0.0, dmx)
            out.commit(0.0)  # without sync, the data leaves at the deadline
        want = [d for d, _ in recording.take()]
        assert len(want) == len(UNIVERSES)
        assert _take(receiver, len(want)) == want
    finally:
        udp.close()


@pytest.mark.parametrize("gso", [True, False])
def test_a_subset_of_rows_goes_in_row_order(receiver: socket.socket, gso: bool) -> None:
    port = receiver.getsockname()[1]
    packets = np.arange(5 * 8, dtype=np.uint8).reshape(5, 8)
    batch = mmsg.SendBatch(packets, [("127.0.0.1", port)] * 5, gso=gso)
    assert batch.segmented == gso
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        sent, failed, _ = batch.send(tx.fileno(), np.array([1, 3, 4], np.intp))
        assert (sent, failed) == (3, 0)
        assert _take(receiver, 3) == [packets[i].tobytes() for i in (1, 3, 4)]
        assert batch.send(tx.fileno()) == (5, 0, 0)
        assert _take(receiver, 5) == [packets[i].tobytes() for i in range(5)]


def test_a_refused_send_is_counted_not_raised() -> None:
    packets = np.zeros((3, 8), np.uint8)
    batch = mmsg.SendBatch(packets, [("127.0.0.1", 9)] * 3)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as wrong:  # not a datagram socket
        sent, failed, code = batch.send(wrong.fileno())
    assert (sent, failed) == (0, 3)
    assert code != 0
