"""citypulse as an Art-Net node (issue #7 item 7): ArtPoll answered, everything from 6454.

Replies are read with the simulator's independent decoder (`simulator.wire.artnet`) and
checked at the offsets of the Art-Net 4 ArtPollReply field table.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import numpy as np
import pytest

from controller.clock import MonotonicClock
from controller.outputs.artnet_node import ArtNetNode
from controller.outputs.factory import build_outputs, udp_sinks
from controller.outputs.network import ArtNetOutput
from controller.outputs.routing import Route
from controller.outputs.udp import UdpSink
from controller.protocols import artnet
from controller.protocols.artnet_reply import NodeIdentity, poll_replies
from controller.show.rig import Protocol
from simulator.wire import artnet as wire_artnet
from tests.artnet_port import port_6454_can_be_shared

LOOPBACK = "127.0.0.1"
IDENTITY = NodeIdentity(short_name="citypulse", long_name="citypulse Digital Night beijing")
POLL = artnet.encode(artnet.ArtPoll(flags=0x02))


def reply_frames(datagrams: list[bytes]) -> list[wire_artnet.ArtPollReplyFrame]:
    out = []
    for data in datagrams:
        frame = wire_artnet.parse(data)
        assert isinstance(frame, wire_artnet.ArtPollReplyFrame), frame
        out.append(frame)
    return out


# -- the replies (L5) ---------------------------------------------------------------------


def test_replies_list_sent_port_addresses_as_controller_input_ports_four_per_reply() -> None:
    replies = poll_replies(
        ip="10.0.0.9", identity=IDENTITY, port_addresses=[300, 0, 2, 1, 3, 4, 17]
    )
    raw = [artnet.encode(r) for r in replies]
    frames = reply_frames(raw)
    assert [(f.net_switch, f.sub_switch, f.num_ports) for f in frames] == [
        (0, 0, 4),  # 0-3
        (0, 0, 1),  # 4: a fifth port needs a second reply
        (0, 1, 1),  # 17: Sub-Net 1
        (1, 2, 1),  # 300 = Net 1, Sub-Net 2, Universe 12
    ]
    assert [f.sw_in[: f.num_ports] for f in frames] == [
        bytes([0, 1, 2, 3]),
        b"\x04",
        b"\x01",
        b"\x0c",
    ]
    for index, (f, data) in enumerate(zip(frames, raw, strict=True), start=1):
        n = f.num_ports
        assert len(data) == 239  # Art-Net 4: the full ArtPollReply
        assert (f.ip, f.port, f.bind_ip, f.bind_index) == ("10.0.0.9", 6454, "10.0.0.9", index)
        assert f.style == data[200] == 1  # @200 Style: StController
        assert f.port_types == data[174:178] == bytes([0x40] * n).ljust(4, b"\x00")  # inputs
        assert f.good_input == data[178:182] == bytes([0x80] * n).ljust(4, b"\x00")
        assert f.sw_out == bytes(4)  # no output ports: we take nothing off the network
        assert f.status2 & 0x08  # @212: 15-bit Port-Addresses
        assert (f.short_name, f.long_name) == ("citypulse", "citypulse Digital Night beijing")
        assert f.node_report == f"#0001 [{index:04d}] citypulse sending {n} port(s)"
    decoded = [artnet.decode(d) for d in raw]  # our own decoder agrees
    assert [p.input_port_addresses for p in decoded] == [  # type: ignore[union-attr]
        (0, 1, 2, 3), (4,), (17,), (300,),
    ]  # fmt: skip


def test_a_targeted_poll_gets_only_the_replies_for_its_range() -> None:
    poll = artnet.ArtPoll(flags=0x20, target_port_address_bottom=16, target_port_address_top=40)
    replies = poll_replies(ip="10.0.0.9", identity=IDENTITY, port_addresses=[1, 17, 300], poll=poll)
    assert [r.input_port_addresses for r in replies] == [(17,)]


def test_names_are_cut_to_their_fields_and_kept_latin_1() -> None:
    identity = NodeIdentity(short_name="citypulse-" + "x" * 40, long_name="数字之夜 " + "y" * 80)
    (reply,) = poll_replies(ip="10.0.0.9", identity=identity, port_addresses=[1])
    assert (len(reply.short_name), len(reply.long_name)) == (17, 63)
    assert reply.long_name.startswith("???? y")


# -- the node (L6) over a fake socket -------------------------------------------------------


class PortFake:
    """A sink that can receive: `arrive` queues datagrams, `sendto` records."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []
        self.inbox: list[tuple[bytes, tuple[str, int]]] = []

    def sendto(self, data: bytes, address: tuple[str, int]) -> None:
        self.sent.append((data, address))

    def receive(self) -> list[tuple[bytes, tuple[str, int]]]:
        inbox, self.inbox = self.inbox, []
        return inbox


def test_the_node_answers_artpoll_at_6454_and_at_the_poll_source_port() -> None:
    sink = PortFake()
    node = ArtNetNode(sink=sink, identity=IDENTITY, local_ip=lambda poller: "10.0.0.2")
    node.add([0, 1])
    dmx = artnet.encode(artnet.ArtDmx(port_address=0, data=bytes(512)))
    sink.inbox = [
        (dmx, ("10.0.0.2", 6454)),
        (b"garbage", ("10.0.0.7", 1)),
        (POLL, ("10.0.0.7", 50000)),
    ]
    sink.inbox.append((POLL, ("10.0.0.7", 50000)))  # the same poller twice: answered once
    node.poll()
    assert sorted(a for _, a in sink.sent) == [("10.0.0.7", 6454), ("10.0.0.7", 50000)]
    (frame,) = reply_frames([sink.sent[0][0]])
    assert (frame.ip, frame.sw_in[:2]) == ("10.0.0.2", b"\x00\x01")
    assert (node.polls, node.replies, node.ignored) == (1, 1, 2)


def test_a_poll_from_port_6454_is_answered_once() -> None:
    sink = PortFake()
    node = ArtNetNode(sink=sink, identity=IDENTITY)
    sink.inbox = [(POLL, ("10.0.0.7", 6454))]
    node.poll()
    assert [a for _, a in sink.sent] == [("10.0.0.7", 6454)]


def test_a_sink_that_cannot_receive_keeps_the_node_silent() -> None:
    class SendOnly:
        def sendto(self, data: bytes, address: tuple[str, int]) -> None:
            raise AssertionError("nothing to send")

    node = ArtNetNode(sink=SendOnly(), identity=IDENTITY)
    node.poll()
    assert node.polls == 0


# -- real sockets ---------------------------------------------------------------------------


@pytest.fixture
def poller() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.settimeout(5.0)
        yield sock


def artnet_output(sink: UdpSink, node_port: int) -> ArtNetOutput:
    route = Route(
        protocol=Protocol.ARTNET, universes=(1, 2), wire=(7, 8), host=LOOPBACK, port=node_port
    )
    (out,) = build_outputs(
        [route], (1, 2), venue="mini", show_name="Mini", clock=MonotonicClock(), fps=40,
        sinks=lambda r: sink,
    )  # fmt: skip
    assert isinstance(out, ArtNetOutput)
    return out


@pytest.mark.network
def test_a_playing_artnet_output_answers_an_artpoll_over_loopback(poller: socket.socket) -> None:
    sink = UdpSink(broadcast=True, bind_port=0)  # an ephemeral port stands in for 6454
    out = artnet_output(sink, poller.getsockname()[1])
    out.open(0.0)
    try:
        out.send_frame(0.0, np.zeros((2, 512), np.uint8))
        node_port = sink.port
        assert node_port is not None
        poller.sendto(POLL, (LOOPBACK, node_port))
        for _ in range(100):  # the engine polls once per frame
            out.poll(0.025)
            if out.node is not None and out.node.polls:
                break
        datagrams = [poller.recvfrom(2048) for _ in range(4)]  # ArtDmx x2, ArtSync, reply
    finally:
        out.close(0.1)
    kinds = [type(wire_artnet.parse(d)).__name__ for d, _ in datagrams]
    assert kinds == ["ArtDmxFrame", "ArtDmxFrame", "ArtSyncFrame", "ArtPollReplyFrame"]
    assert {source for _, source in datagrams} == {(LOOPBACK, node_port)}  # all from one port
    (reply,) = reply_frames([datagrams[3][0]])
    assert (reply.ip, reply.style, reply.sw_in[:2]) == (LOOPBACK, 1, b"\x07\x08")
    assert out.stats().extra["artpoll_answered"] == 1


@pytest.mark.network
def test_the_udp_sink_factory_sends_artnet_from_port_6454(poller: socket.socket) -> None:
    if not port_6454_can_be_shared():
        pytest.skip("another program holds UDP 6454 without SO_REUSEADDR on this host")
    sink = udp_sinks()(Route(protocol=Protocol.ARTNET, universes=(1,), wire=(1,), host=LOOPBACK))
    assert isinstance(sink, UdpSink)
    out = artnet_output(sink, poller.getsockname()[1])
    out.open(0.0)
    try:
        out.send_frame(0.0, np.zeros((2, 512), np.uint8))
        sources = {poller.recvfrom(2048)[1] for _ in range(3)}
    finally:
        out.close(0.1)
    assert sources == {(LOOPBACK, 6454)}
    assert out.stats().warnings == ()


@pytest.mark.network
def test_a_port_held_by_another_program_falls_back_with_a_warning(
    poller: socket.socket, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:  # no SO_REUSEADDR
        holder.bind(("0.0.0.0", 0))
        held = holder.getsockname()[1]
        sink = UdpSink(broadcast=True, bind_port=held)
        out = artnet_output(sink, poller.getsockname()[1])
        with caplog.at_level(logging.WARNING, logger="citypulse.outputs"):
            out.open(0.0)
        try:
            out.send_frame(0.0, np.zeros((2, 512), np.uint8))
            source = poller.recvfrom(2048)[1]
        finally:
            out.close(0.1)
    assert source[1] not in (held, 0)
    (warning,) = out.stats().warnings
    assert warning.startswith(
        f"UDP port {held} is held by another program (Address already in use)"
    )
    assert f"sending from port {source[1]} instead" in warning
    assert [r.getMessage() for r in caplog.records] == [f"artnet[1]: {warning}"]
