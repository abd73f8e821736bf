"""Hostile input: every malformed packet is counted, dropped and logged once; nothing raises."""

from __future__ import annotations

import copy
import dataclasses
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.cli.common import VenueJob
from controller.outputs.routing import plan_routes
from controller.protocols import artnet, enttec, osc, sacn
from controller.show.rig import Protocol
from simulator.core import LOGGER_NAME, PROTOCOLS, SimulatorCore, WireProtocol
from tests.protocols.strategies import FAST
from tests.simulator.helpers import collect_warnings, level

CID = bytes(range(16))
PEER = ("127.0.0.1", 40000)

VALID: dict[WireProtocol, bytes] = {
    "artnet": artnet.encode(artnet.ArtDmx(sequence=1, port_address=1, data=level(1))),
    "sacn": sacn.encode(sacn.DataPacket(cid=CID, source_name="t", universe=1, data=level(1))),
    "osc": osc.encode(osc.universe_blob_message("/s", 1, level(1))),
    "enttec": enttec.encode_send_dmx(level(1)),
    "opendmx": enttec.open_dmx_frame(level(1)),
}


def _patched(data: bytes, offset: int, raw: bytes) -> bytes:
    return data[:offset] + raw + data[offset + len(raw) :]


def _oversized(data: bytes) -> bytes:
    return data + bytes(2000 - len(data))


HOSTILE = [
    pytest.param("artnet", b"", id="artnet-empty"),
    pytest.param("artnet", VALID["artnet"][:15], id="artnet-truncated-header"),
    pytest.param("artnet", VALID["artnet"][:100], id="artnet-truncated-data"),
    pytest.param("artnet", _oversized(VALID["artnet"]), id="artnet-oversized"),
    pytest.param("artnet", _patched(VALID["artnet"], 0, b"Art-Nyt"), id="artnet-wrong-magic"),
    pytest.param("artnet", _patched(VALID["artnet"], 16, b"\x02\x02"), id="artnet-length-514"),
    pytest.param("artnet", _patched(VALID["artnet"], 11, b"\x0d"), id="artnet-protver-13"),
    pytest.param("sacn", VALID["sacn"][:30], id="sacn-truncated-header"),
    pytest.param("sacn", VALID["sacn"][:300], id="sacn-truncated-data"),
    pytest.param("sacn", _oversized(VALID["sacn"]), id="sacn-oversized"),
    pytest.param("sacn", _patched(VALID["sacn"], 4, b"ASC-E1.18"), id="sacn-wrong-magic"),
    pytest.param("sacn", _patched(VALID["sacn"], 18, b"\0\0\0\x05"), id="sacn-bad-vector"),
    pytest.param("sacn", _patched(VALID["sacn"], 113, b"\0\0"), id="sacn-universe-0"),
    pytest.param("osc", b"", id="osc-empty"),
    pytest.param("osc", VALID["osc"][:-4], id="osc-truncated"),
    pytest.param("osc", _oversized(VALID["osc"]), id="osc-oversized"),
    pytest.param("osc", b"X" + VALID["osc"][1:], id="osc-wrong-magic"),
    pytest.param(
        "osc",
        osc.encode(osc.Message(address="/s/universe/1", args=(bytes(600),), type_tags="b")),
        id="osc-blob-600",
    ),
    pytest.param(
        "osc", osc.encode(osc.Message(address="/s/universe/1", args=("x",))), id="osc-not-a-blob"
    ),
    pytest.param(
        "enttec", bytes([0x7E, 6, 0xD0, 0x07]) + bytes(2000) + b"\xe7", id="enttec-length-2000"
    ),
    pytest.param("enttec", VALID["enttec"][:-1] + b"\x00", id="enttec-wrong-end-byte"),
    pytest.param("enttec", enttec.encode_message(6, bytes(10)), id="enttec-label6-too-short"),
    pytest.param("opendmx", b"", id="opendmx-empty"),
    pytest.param("opendmx", bytes(2000), id="opendmx-oversized"),
]


def all_routes_core(job: VenueJob) -> SimulatorCore:
    twin = job.plan.twin
    routes = [
        r
        for p in (Protocol.ARTNET, Protocol.SACN, Protocol.OSC)
        for r in plan_routes(twin, protocol=p)
    ]
    routes += plan_routes(twin, protocol=Protocol.ENTTEC, target="/dev/sim0")
    return SimulatorCore(twin=twin, patch=job.patch, routes=routes, fps=40.0)


def still_works(core: SimulatorCore, protocol: WireProtocol) -> None:
    follow_up = {
        "artnet": [
            artnet.encode(artnet.ArtDmx(port_address=1, data=level(200))),
            artnet.encode(artnet.ArtSync()),
        ],
        "sacn": [
            sacn.encode(
                sacn.DataPacket(
                    cid=bytes(16), source_name="f", priority=200, universe=1, data=level(200)
                )
            )
        ],
        "osc": [osc.encode(osc.universe_blob_message("/f", 1, level(200)))],
        "enttec": [enttec.encode_send_dmx(level(200))],
        "opendmx": [enttec.open_dmx_frame(level(200))],
    }[protocol]
    for data in follow_up:
        core.receive(9.0, protocol, data, ("/dev/fresh", 1))
    assert (core.dmx[0] == 200).all()


@pytest.mark.parametrize(("protocol", "data"), HOSTILE)
def test_hostile_packet_is_counted_dropped_and_logged_once(
    mini: VenueJob, protocol: WireProtocol, data: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    core = all_routes_core(mini)
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        core.receive(0.0, protocol, data, PEER)
    stats = core.statistics()
    assert getattr(stats.malformed, protocol) == 1
    assert stats.malformed.total == 1
    assert [r.levelno for r in caplog.records if r.name == LOGGER_NAME] == [logging.WARNING]
    assert protocol in caplog.records[0].getMessage()
    assert not core.dmx.any()
    still_works(core, protocol)


def test_truncated_enttec_frame_is_dropped_when_the_next_frame_starts(mini: VenueJob) -> None:
    core = all_routes_core(mini)
    with collect_warnings() as warnings:
        core.receive(0.0, "enttec", VALID["enttec"][:100], PEER)
        assert core.statistics().malformed.enttec == 0, "a partial frame may still complete"
        core.receive(0.0, "enttec", enttec.encode_send_dmx(level(5)), PEER)
    assert (core.statistics().malformed.enttec, warnings.count) == (1, 1)
    assert (core.dmx[0] == 5).all()


@FAST
@given(protocol=st.sampled_from(PROTOCOLS), data=st.binary(max_size=2100))
def test_random_bytes_never_raise_and_each_drop_logs_once(
    mini: VenueJob, protocol: WireProtocol, data: bytes
) -> None:
    core = all_routes_core(mini)
    with collect_warnings() as warnings:
        core.receive(0.0, protocol, data, PEER)
    assert warnings.count == core.statistics().malformed.total
    still_works(core, protocol)


@FAST
@given(
    protocol=st.sampled_from(PROTOCOLS),
    cut=st.integers(0, 700),
    flips=st.lists(st.tuples(st.integers(0, 700), st.integers(0, 255)), max_size=4),
)
def test_mutated_valid_packets_never_raise(
    mini: VenueJob, protocol: WireProtocol, cut: int, flips: list[tuple[int, int]]
) -> None:
    buf = bytearray(VALID[protocol])
    for index, value in flips:
        if index < len(buf):
            buf[index] = value
    core = all_routes_core(mini)
    with collect_warnings() as warnings:
        core.receive(0.0, protocol, bytes(buf[: max(cut, 1)] if cut < len(buf) else buf), PEER)
    assert warnings.count == core.statistics().malformed.total
    still_works(core, protocol)


def _immutable(value: object) -> bool:
    """Scalars, tuples of immutables and frozen dataclasses of immutables, all the way down."""
    if value is None or isinstance(value, int | float | str):
        return True
    if isinstance(value, tuple):
        return all(_immutable(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        frozen = type(value).__dataclass_params__.frozen  # type: ignore[attr-defined]
        return bool(frozen) and all(
            _immutable(getattr(value, f.name)) for f in dataclasses.fields(value)
        )
    return False


def _traffic(core: SimulatorCore, start: int, count: int) -> None:
    """`count` frames of ArtDmx + ArtSync from sequence `start` (skipping one), and garbage."""
    for k in range(start, start + count):
        t = k / 40
        for universe in (1, 2, 3):
            data = level(k % 256)
            packet = artnet.ArtDmx(sequence=k % 255 + 1, port_address=universe, data=data)
            core.receive(t, "artnet", artnet.encode(packet), PEER)
        core.receive(t, "artnet", artnet.encode(artnet.ArtSync()), PEER)
        core.receive(t, "osc", b"garbage", PEER)


def test_statistics_are_an_immutable_snapshot(mini: VenueJob) -> None:
    """A snapshot is a deep copy: later traffic moves every counter but never the snapshot."""
    core = all_routes_core(mini)
    with collect_warnings():
        _traffic(core, 1, 5)
        before = core.statistics()
        copied = copy.deepcopy(before)
        _traffic(core, 8, 5)  # a sequence gap of 2 on every universe, more frames and drops
    after = core.statistics()
    assert _immutable(before)
    assert before == copied
    assert (before.packets.artnet, after.packets.artnet) == (20, 40)
    assert (before.malformed.osc, after.malformed.osc) == (5, 10)
    assert (before.gaps_by_universe, after.gaps_by_universe) == (
        ((1, 0), (2, 0), (3, 0)),
        ((1, 2), (2, 2), (3, 2)),
    )
    assert (before.timing.intervals, after.timing.intervals) == (4, 9)
    with pytest.raises(dataclasses.FrozenInstanceError):
        before.unrouted = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        before.packets.artnet = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        core.dmx[0, 0] = 1
