"""Art-Net / sACN / OSC outputs over a recording sink, decoded with independent decoders.

The simulator's `simulator.wire` readers (not `controller.protocols`) and the third-party
python-osc and sacn parsers read what the outputs send, so an encoder bug cannot be
cancelled out by the same bug in its own decoder.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from sacn.messages.data_packet import DataPacket

from controller.clock import MonotonicClock
from controller.outputs.factory import build_outputs
from controller.outputs.network import (
    ArtNetOutput,
    SacnOutput,
    directed_broadcast,
    route_rows,
)
from controller.outputs.osc_output import OscOutput
from controller.outputs.routing import Route
from controller.protocols import sacn
from controller.show.rig import Protocol
from simulator.wire import artnet as wire_artnet
from simulator.wire import sacn as wire_sacn
from tests.outputs.fakes import RecordingSink

UNIVERSES = (1, 2, 3)  # the venue's universes: rows of the DMX array
Sent = list[tuple[bytes, tuple[str, int]]]


def frames(n: int, seed: int = 7) -> list[NDArray[np.uint8]]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (len(UNIVERSES), 512), dtype=np.uint8) for _ in range(n)]


def artnet_route(universe: int, wire: int, host: str, *, sync: bool = True) -> Route:
    return Route(
        protocol=Protocol.ARTNET, universes=(universe,), wire=(wire,), host=host, sync=sync
    )


# -- Art-Net ------------------------------------------------------------------------------


def two_node_artnet() -> tuple[ArtNetOutput, RecordingSink]:
    sink = RecordingSink()
    routes = [artnet_route(1, 0, "10.0.0.5"), artnet_route(2, 1, "10.0.0.6")]
    return ArtNetOutput(name="artnet[1]", routes=routes, universes=UNIVERSES, sink=sink), sink


ArtPacket = (
    wire_artnet.ArtDmxFrame
    | wire_artnet.ArtSyncFrame
    | wire_artnet.ArtPollFrame
    | wire_artnet.ArtPollReplyFrame
)


def art(sent: Sent) -> list[tuple[ArtPacket, tuple[str, int]]]:
    return [(wire_artnet.parse(data), address) for data, address in sent]


def art_dmx(sent: Sent) -> list[tuple[wire_artnet.ArtDmxFrame, tuple[str, int]]]:
    out = []
    for packet, address in art(sent):
        assert isinstance(packet, wire_artnet.ArtDmxFrame), packet
        out.append((packet, address))
    return out


def test_artnet_sends_dmx_to_each_node_at_stage_and_one_artsync_at_commit() -> None:
    out, sink = two_node_artnet()
    for k, dmx in enumerate(frames(3)):
        out.stage(k * 0.025, dmx)
        by_port = {p.port_address: (p, a) for p, a in art_dmx(sink.take())}
        assert sorted(by_port) == [0, 1]
        dmx0, node0 = by_port[0]
        dmx1, node1 = by_port[1]
        assert (node0, node1) == (("10.0.0.5", 6454), ("10.0.0.6", 6454))
        assert dmx0.data == dmx[0].tobytes()
        assert dmx1.data == dmx[1].tobytes()
        assert dmx0.sequence == dmx1.sequence == k + 1
        out.commit(k * 0.025 + 0.025)
        committed = art(sink.take())
        assert committed == [(wire_artnet.ArtSyncFrame(), ("10.0.0.255", 6454))]
    stats = out.stats()
    assert (stats.frames, stats.packets, stats.errors) == (3, 9, 0)
    assert stats.bytes == sum(len(d) for d, _ in sink.sent)


def test_artnet_send_frame_is_stage_then_commit() -> None:
    out, sink = two_node_artnet()
    out.send_frame(0.0, frames(1)[0])
    kinds = [type(p).__name__ for p, _ in art(sink.take())]
    assert kinds == ["ArtDmxFrame", "ArtDmxFrame", "ArtSyncFrame"]


def test_artnet_without_sync_sends_the_data_at_commit() -> None:
    sink = RecordingSink()
    route = artnet_route(1, 0, "10.0.0.5", sync=False)
    out = ArtNetOutput(name="a", routes=[route], universes=UNIVERSES, sink=sink)
    (dmx,) = frames(1)
    out.stage(0.0, dmx)
    assert sink.take() == []
    out.commit(0.025)
    (packet, address), *rest = art(sink.take())
    assert rest == []
    assert isinstance(packet, wire_artnet.ArtDmxFrame)
    assert (packet.data, address) == (dmx[0].tobytes(), ("10.0.0.5", 6454))


def test_artnet_routes_sending_one_wire_universe_twice_are_refused() -> None:
    routes = [artnet_route(1, 4, "10.0.0.5"), artnet_route(2, 4, "10.0.0.6")]
    with pytest.raises(ValueError, match=r"two routes send the same wire universe: \[4, 4\]"):
        ArtNetOutput(name="a", routes=routes, universes=UNIVERSES, sink=RecordingSink())


def test_build_outputs_merges_artnet_routes_per_broadcast_domain() -> None:
    routes = [
        artnet_route(1, 0, "10.0.0.5"),
        artnet_route(2, 1, "10.0.0.6"),
        artnet_route(3, 2, "10.0.1.9"),
    ]
    sinks: dict[str, RecordingSink] = {}

    def make_sink(route: Route) -> RecordingSink:
        return sinks.setdefault(route.host or "", RecordingSink())

    outputs = build_outputs(
        routes, UNIVERSES, venue="mini", show_name="Mini", clock=MonotonicClock(), fps=40,
        sinks=make_sink,
    )  # fmt: skip
    assert [o.name for o in outputs] == ["artnet[1]", "artnet[2]"]
    (dmx,) = frames(1)
    for o in outputs:
        o.send_frame(0.0, dmx)
    syncs = [
        a for s in sinks.values() for p, a in art(s.sent) if isinstance(p, wire_artnet.ArtSyncFrame)
    ]
    assert sorted(syncs) == [("10.0.0.255", 6454), ("10.0.1.255", 6454)]


@pytest.mark.parametrize(
    ("host", "broadcast"),
    [("127.0.0.1", "127.0.0.1"), ("10.1.2.3", "10.1.2.255"), ("node.local", "node.local")],
)
def test_directed_broadcast(host: str, broadcast: str) -> None:
    assert directed_broadcast(host) == broadcast


# -- sACN ---------------------------------------------------------------------------------


def two_route_sacn(*, sync: bool = True) -> tuple[SacnOutput, RecordingSink]:
    sink = RecordingSink()
    routes = [
        Route(protocol=Protocol.SACN, universes=(1, 2), wire=(1, 2), multicast=True, sync=sync),
        Route(protocol=Protocol.SACN, universes=(3,), wire=(7,), multicast=True, sync=sync),
    ]
    out = SacnOutput(
        name="sacn[1]", routes=routes, universes=UNIVERSES, sink=sink, source_name="citypulse Mini"
    )
    return out, sink


E131Packet = wire_sacn.SacnDataFrame | wire_sacn.SacnSyncFrame | wire_sacn.SacnDiscoveryFrame


def e131(sent: Sent) -> list[tuple[E131Packet, tuple[str, int]]]:
    return [(wire_sacn.parse(data), address) for data, address in sent]


def test_sacn_sends_data_at_stage_and_exactly_one_sync_packet_at_commit() -> None:
    out, sink = two_route_sacn()
    rows = {1: 0, 2: 1, 7: 2}
    for k, dmx in enumerate(frames(3)):
        out.stage(k * 0.025, dmx)
        staged = [(raw, a) for raw, a in sink.take() if a[0] != "239.255.250.214"]  # discovery
        data = [(p, a) for p, a in e131(staged) if isinstance(p, wire_sacn.SacnDataFrame)]
        assert len(data) == 3
        # besides data, stage may carry universe discovery (its timing does not matter)
        assert all(
            isinstance(p, wire_sacn.SacnDataFrame | wire_sacn.SacnDiscoveryFrame)
            for p, _ in e131(staged)
        )
        staged = [
            (raw, a) for raw, a in staged if raw[40:44] == b"\x00\x00\x00\x04"
        ]  # data only: no sync before the deadline
        for packet, address in data:
            assert isinstance(packet, wire_sacn.SacnDataFrame)
            assert address == (sacn.multicast_group(packet.universe), 5568)
            assert packet.data == dmx[rows[packet.universe]].tobytes()
            assert (packet.sync_address, packet.priority, packet.start_code) == (1, 100, 0)
            assert (packet.sequence, packet.source_name) == (k, "citypulse Mini")
        for raw, _ in staged:  # the third-party sACN parser agrees
            oracle = DataPacket.make_data_packet(raw)
            assert bytes(oracle.dmxData) == dmx[rows[oracle.universe]].tobytes()
        out.commit(k * 0.025 + 0.025)
        committed = e131(sink.take())
        syncs = [(p, a) for p, a in committed if isinstance(p, wire_sacn.SacnSyncFrame)]
        assert len(syncs) == 1
        ((sync, address),) = syncs
        assert (sync.sync_address, sync.sequence, address) == (1, k, ("239.255.0.1", 5568))
        assert not any(isinstance(p, wire_sacn.SacnDataFrame) for p, _ in committed)
    assert out.stats().frames == 3


def test_sacn_unicast_to_a_custom_port_sends_data_and_sync_there() -> None:
    sink = RecordingSink()
    route = Route(protocol=Protocol.SACN, universes=(3,), wire=(3,), host="127.0.0.1", port=6000)
    out = SacnOutput(name="s", routes=[route], universes=UNIVERSES, sink=sink, source_name="x")
    out.send_frame(0.0, frames(1)[0])
    kinds = {(type(p).__name__, a) for p, a in e131(sink.sent)}
    assert ("SacnDataFrame", ("127.0.0.1", 6000)) in kinds
    assert ("SacnSyncFrame", ("127.0.0.1", 6000)) in kinds


def test_sacn_close_terminates_every_stream_three_times() -> None:
    out, sink = two_route_sacn()
    out.send_frame(0.0, frames(1)[0])
    sink.take()
    out.close(0.1)
    ended = [p for p, _ in e131(sink.take())]
    assert len(ended) == 9
    assert all(isinstance(p, wire_sacn.SacnDataFrame) and p.stream_terminated for p in ended)


def test_sacn_without_sync_sends_the_data_at_commit() -> None:
    """Regression: discovery (E1.31 root vector 8, like sync) once made data go at stage."""
    out, sink = two_route_sacn(sync=False)
    out.stage(0.0, frames(1)[0])
    assert sink.take() == []
    out.commit(0.025)
    kinds = [type(p).__name__ for p, _ in e131(sink.take())]
    assert kinds.count("SacnDataFrame") == 3


# -- OSC ----------------------------------------------------------------------------------


def test_osc_sends_one_blob_per_universe_at_commit_readable_by_python_osc() -> None:
    sink = RecordingSink()
    route = Route(protocol=Protocol.OSC, universes=(1, 3), wire=(1, 3), host="10.0.0.8", port=9001)
    out = OscOutput(
        name="osc[1]", route=route, rows=route_rows(route, UNIVERSES), sink=sink, venue="mini"
    )
    (dmx,) = frames(1)
    out.stage(0.0, dmx)
    assert sink.take() == []  # nothing before the deadline
    out.commit(0.025)
    sent = sink.take()
    assert {a for _, a in sent} == {("10.0.0.8", 9001)}
    messages: list[OscMessage] = []
    for data, _ in sent:  # a bundle per deadline, or bare messages: python-osc reads both
        if OscBundle.dgram_is_bundle(data):
            messages += [m for m in OscBundle(data) if isinstance(m, OscMessage)]
        else:
            messages.append(OscMessage(data))
    assert [m.address for m in messages] == ["/citypulse/mini/1", "/citypulse/mini/3"]
    assert [m.params for m in messages] == [[dmx[0].tobytes()], [dmx[2].tobytes()]]
    assert out.stats().frames == 1


def test_route_rows_follow_the_route_order() -> None:
    route = Route(protocol=Protocol.OSC, universes=(3, 1), wire=(9, 8))
    assert route_rows(route, UNIVERSES).tolist() == [2, 0]


def test_an_output_whose_route_was_renumbered_says_so_when_it_opens(
    caplog: pytest.LogCaptureFixture,
) -> None:
    route = Route(
        protocol=Protocol.SACN, universes=(1, 2, 3), wire=(1, 2, 4), renumbered=(3,), multicast=True
    )
    out = SacnOutput(name="sacn[1]", routes=[route], universes=UNIVERSES, sink=RecordingSink(),
                     source_name="x")  # fmt: skip
    with caplog.at_level("WARNING", logger="citypulse.outputs"):
        out.open(0.0)
    note = "universes renumbered on the wire: sacn: 1-2 -> 1-2, 3 -> 4 (renumbered)"
    assert out.stats().warnings == (note,)
    assert [r.getMessage() for r in caplog.records] == [f"sacn[1]: {note}"]


def test_a_source_name_is_cut_to_63_utf8_bytes_not_63_characters() -> None:
    route = Route(protocol=Protocol.SACN, universes=(1,), wire=(1,), multicast=True)
    sink = RecordingSink()
    out = SacnOutput(name="s", routes=[route], universes=UNIVERSES, sink=sink,
                     source_name="citypulse 数字之夜 " + "北京" * 30)  # fmt: skip
    out.send_frame(0.0, frames(1)[0])
    packet = wire_sacn.parse(sink.sent[0][0])
    assert isinstance(packet, wire_sacn.SacnDataFrame)
    assert len(packet.source_name.encode()) <= 63
    assert packet.source_name.startswith("citypulse 数字之夜 北京")
