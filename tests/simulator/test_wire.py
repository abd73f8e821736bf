"""The simulator's independent decoders against the controller's encoders, and vice versa."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.errors import ProtocolError, Truncated
from controller.protocols import artnet, enttec, osc, sacn
from simulator.wire import artnet as sim_artnet
from simulator.wire import enttec as sim_enttec
from simulator.wire import osc as sim_osc
from simulator.wire import sacn as sim_sacn
from tests.protocols import strategies
from tests.protocols.strategies import FAST
from tests.protocols.vectors import load

# ---- Art-Net --------------------------------------------------------------------------------


def _same_artnet(ours: artnet.ArtNetPacket, theirs: object) -> None:
    match ours:
        case artnet.ArtDmx():
            assert isinstance(theirs, sim_artnet.ArtDmxFrame)
            assert (theirs.sequence, theirs.physical, theirs.port_address) == (
                ours.sequence,
                ours.physical,
                ours.port_address,
            )
            assert theirs.data == ours.data + b"\x00" * (len(ours.data) % 2)
        case artnet.ArtSync():
            assert isinstance(theirs, sim_artnet.ArtSyncFrame)
        case artnet.ArtPoll() | artnet.ArtPollReply():
            assert dataclasses.is_dataclass(theirs)
            assert not isinstance(theirs, type)
            assert dataclasses.asdict(theirs) == dataclasses.asdict(ours)


@pytest.mark.parametrize(
    "name", ["artdmx_odd_length", "artdmx_full", "artsync", "artpoll", "artpollreply"]
)
def test_simulator_reads_artnet_golden_vectors_like_the_controller(name: str) -> None:
    raw = load("artnet", name)
    _same_artnet(artnet.decode(raw), sim_artnet.parse(raw))


@FAST
@given(strategies.artnet_packets)
def test_simulator_reads_every_artnet_packet_the_controller_writes(
    packet: artnet.ArtNetPacket,
) -> None:
    _same_artnet(packet, sim_artnet.parse(artnet.encode(packet)))


def test_controller_reads_the_pollreply_a_simulated_node_writes() -> None:
    raw = sim_artnet.build_poll_reply(
        ip="10.1.2.3",
        short_name="sim-node",
        long_name="simulated node",
        net_switch=1,
        sub_switch=2,
        sw_out=[3, 4],
        mac=bytes.fromhex("020000000001"),
        esta_man=0x7FF0,
    )
    reply = artnet.decode(raw)
    assert isinstance(reply, artnet.ArtPollReply)
    assert (reply.ip, reply.port, reply.short_name, reply.long_name) == (
        "10.1.2.3",
        6454,
        "sim-node",
        "simulated node",
    )
    assert (reply.esta_man, reply.num_ports, reply.refresh_rate) == (0x7FF0, 2, 44)
    assert reply.output_port_addresses == (0x0123, 0x0124)


def test_simulator_reads_artnet_sender_output() -> None:
    node, broadcast = ("10.0.0.5", 6454), ("10.255.255.255", 6454)
    sender = artnet.ArtNetSender(targets={0x0123: node}, sync_address=broadcast)
    frames = [sim_artnet.parse(d.data) for d in sender.frame(0.0, {0x0123: b"\x07" * 512})]
    assert frames == [
        sim_artnet.ArtDmxFrame(1, 0, 0x23, 0x01, b"\x07" * 512),
        sim_artnet.ArtSyncFrame(),
    ]


# ---- sACN -----------------------------------------------------------------------------------


def _same_sacn(ours: sacn.SacnPacket, theirs: object) -> None:
    if isinstance(ours, sacn.DataPacket):
        assert isinstance(theirs, sim_sacn.SacnDataFrame)
        assert (theirs.cid, theirs.source_name, theirs.priority, theirs.sync_address) == (
            ours.cid,
            ours.source_name,
            ours.priority,
            ours.sync_address,
        )
        assert (theirs.sequence, theirs.universe, theirs.start_code, theirs.data) == (
            ours.sequence,
            ours.universe,
            ours.start_code,
            ours.data,
        )
        assert (theirs.preview, theirs.stream_terminated, theirs.force_sync) == (
            ours.preview,
            ours.stream_terminated,
            ours.force_sync,
        )
    else:
        assert dataclasses.is_dataclass(theirs)
        assert not isinstance(theirs, type)
        assert dataclasses.asdict(theirs) == dataclasses.asdict(ours)


@pytest.mark.parametrize("name", ["data_short", "data_full", "sync", "discovery"])
def test_simulator_reads_sacn_golden_vectors_like_the_controller(name: str) -> None:
    raw = load("sacn", name)
    _same_sacn(sacn.decode(raw), sim_sacn.parse(raw))


@FAST
@given(strategies.sacn_packets)
def test_simulator_reads_every_sacn_packet_the_controller_writes(packet: sacn.SacnPacket) -> None:
    _same_sacn(packet, sim_sacn.parse(sacn.encode(packet)))


def test_simulator_reads_sacn_sender_output_including_termination() -> None:
    cid = bytes(range(16))
    sender = sacn.SacnSender(cid=cid, source_name="cp", universes=[5], sync_address=9)
    kinds = [type(sim_sacn.parse(d.data)) for d in sender.frame(0.0, {5: bytes(512)})]
    assert kinds == [sim_sacn.SacnDataFrame, sim_sacn.SacnDiscoveryFrame, sim_sacn.SacnSyncFrame]
    terminated = [sim_sacn.parse(d.data) for d in sender.terminate(0.1)]
    assert [
        (f.sequence, f.stream_terminated)
        for f in terminated
        if isinstance(f, sim_sacn.SacnDataFrame)
    ] == [
        (1, True),
        (2, True),
        (3, True),
    ]


@pytest.mark.parametrize(
    ("last", "new", "newer"),
    [
        (5, 6, True),
        (5, 5, False),
        (5, 250, False),
        (250, 5, True),
        (255, 0, True),
        (20, 0, True),
        (20, 1, False),
    ],
)
def test_sequence_check_uses_signed_8_bit_difference(last: int, new: int, newer: bool) -> None:
    assert sim_sacn.sequence_is_newer(last, new) is newer


# ---- OSC ------------------------------------------------------------------------------------


def _same_osc(ours: osc.OscPacket, theirs: object) -> None:
    if isinstance(ours, osc.Message):
        assert theirs == sim_osc.OscMessageFrame(ours.address, ours.type_tags, ours.args)
        return
    assert isinstance(theirs, sim_osc.OscBundleFrame)
    assert theirs.timetag == ours.timetag
    assert len(theirs.elements) == len(ours.elements)
    for mine, other in zip(ours.elements, theirs.elements, strict=True):
        _same_osc(mine, other)


@pytest.mark.parametrize(
    "name",
    [
        "message_if",
        "message_all_types",
        "message_exact_multiple",
        "bundle_nested",
        "bundle_immediate",
        "universe_blob",
        "fixture_attribute",
    ],
)
def test_simulator_reads_osc_golden_vectors_like_the_controller(name: str) -> None:
    raw = load("osc", name)
    _same_osc(osc.decode(raw), sim_osc.parse(raw))


@FAST
@given(strategies.osc_packets)
def test_simulator_reads_every_osc_packet_the_controller_writes(packet: osc.OscPacket) -> None:
    _same_osc(packet, sim_osc.parse(osc.encode(packet)))


# ---- ENTTEC ---------------------------------------------------------------------------------


@FAST
@given(st.binary(max_size=512), st.integers(0, 255), st.lists(st.integers(1, 200), max_size=6))
def test_simulated_widget_reads_send_dmx_however_it_is_split(
    slots: bytes, start_code: int, cuts: list[int]
) -> None:
    raw = b"\x00garbage" + enttec.encode_send_dmx(slots, start_code)
    stream, frames, position = sim_enttec.WidgetStream(), [], 0
    for cut in [*cuts, len(raw)]:
        frames += stream.dmx(raw[position : position + cut])
        position += cut
    assert frames == [sim_enttec.SendDmx(start_code, slots.ljust(512, b"\x00"))]


def test_controller_reads_widget_replies_written_by_the_simulator() -> None:
    parser = enttec.WidgetMessageParser()
    raw = sim_enttec.encode_reply(10, bytes.fromhex("21436587")) + sim_enttec.encode_reply(
        3, b"\x44\x01\x09\x01\x00"
    )
    serial, parameters = parser.feed(raw)
    assert enttec.decode_serial_number(serial.data) == 87654321
    assert enttec.decode_widget_parameters(parameters.data).firmware_version == 0x0144
    assert sim_enttec.encode_reply(10, bytes.fromhex("78563412")) == load(
        "enttec", "serial_number_reply"
    )


def test_simulated_widget_replies_match_the_golden_vectors() -> None:
    assert sim_enttec.serial_number_reply(12345678) == load("enttec", "serial_number_reply")
    reply = sim_enttec.parameters_reply(firmware=0x0144, break_time=10, mab_time=2, output_rate=40)
    assert reply == load("enttec", "widget_parameters_reply")
    (message,) = enttec.WidgetMessageParser().feed(reply)
    assert enttec.decode_widget_parameters(message.data).break_time == 10


def test_simulated_widget_skips_corrupt_frames() -> None:
    stream = sim_enttec.WidgetStream()
    good = load("enttec", "send_dmx")
    corrupt = good[:-1] + b"\x00"
    assert stream.dmx(corrupt + good) == [sim_enttec.SendDmx(0, b"\x01\x02" + bytes(510))]
    assert stream.rejected == 1


# ---- robustness: truncation and garbage never escape as builtins ---------------------------

PARSERS: dict[str, Callable[[bytes], object]] = {
    "artnet": sim_artnet.parse,
    "sacn": sim_sacn.parse,
    "osc": sim_osc.parse,
}
VECTORS = [
    ("artnet", "artdmx_odd_length", None),
    ("artnet", "artsync", None),
    ("artnet", "artpoll", 14),
    ("artnet", "artpollreply", 198),
    ("sacn", "data_short", None),
    ("sacn", "sync", None),
    ("sacn", "discovery", None),
    ("osc", "message_all_types", None),
    ("osc", "universe_blob", None),
]


@pytest.mark.parametrize(("protocol", "name", "minimum"), VECTORS)
def test_simulator_raises_truncated_on_every_short_prefix(
    protocol: str, name: str, minimum: int | None
) -> None:
    raw = load(protocol, name)
    for size in range(minimum or len(raw)):
        with pytest.raises(Truncated):
            PARSERS[protocol](raw[:size])


@FAST
@given(st.sampled_from(VECTORS), st.data())
def test_simulator_decoders_raise_only_protocol_errors_on_mutated_packets(
    vector: tuple[str, str, int | None], data: st.DataObject
) -> None:
    protocol, name, _ = vector
    raw = strategies.corrupt(data, load(protocol, name))
    with contextlib.suppress(ProtocolError):
        PARSERS[protocol](bytes(raw))


@FAST
@given(st.sampled_from(sorted(PARSERS)), st.binary(max_size=300))
def test_simulator_decoders_raise_only_protocol_errors_on_garbage(
    protocol: str, raw: bytes
) -> None:
    with contextlib.suppress(ProtocolError):
        PARSERS[protocol](raw)


def test_simulator_rejects_deep_osc_bundles_without_recursion_error() -> None:
    raw = b"#bundle\x00" + (1).to_bytes(8, "big")
    for _ in range(2000):
        raw = b"#bundle\x00" + (1).to_bytes(8, "big") + len(raw).to_bytes(4, "big") + raw
    with pytest.raises(ProtocolError, match="nested too deeply"):
        sim_osc.parse(raw)


def test_simulator_reads_the_numpy_fast_path_of_both_senders() -> None:
    frames = np.random.default_rng(7).integers(0, 256, (3, 512), dtype=np.uint8)
    art = artnet.ArtNetSender(targets=dict.fromkeys((1, 2, 3), ("10.0.0.5", 6454)), mode="constant")
    got = [sim_artnet.parse(d.data) for d in art.frame_array(0.0, frames)]
    assert [f.data for f in got if isinstance(f, sim_artnet.ArtDmxFrame)] == [
        row.tobytes() for row in frames
    ]
    e131 = sacn.SacnSender(
        cid=bytes(16), source_name="cp", universes=[1, 2, 3], discovery_interval_s=None
    )
    got_sacn = [sim_sacn.parse(d.data) for d in e131.frame_array(0.0, frames)]
    assert [f.data for f in got_sacn if isinstance(f, sim_sacn.SacnDataFrame)] == [
        row.tobytes() for row in frames
    ]
