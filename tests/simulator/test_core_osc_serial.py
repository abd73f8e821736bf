"""SimulatorCore with OSC blobs and attributes, ENTTEC widget frames and Open DMX packets."""

from __future__ import annotations

import numpy as np
import pytest

from controller.protocols import enttec, osc
from controller.show.rig import Protocol
from tests.simulator.helpers import MakeCore, collect_warnings, level

PEER = ("127.0.0.1", 9000)
WIDGET = ("/dev/sim0", 0)


def _blob(address: str, data: bytes) -> osc.Message:
    return osc.Message(address=address, args=(data,), type_tags="b")


def test_route_address_pattern_carries_one_universe(make_core: MakeCore) -> None:
    core = make_core(Protocol.OSC)
    core.receive(0.0, "osc", osc.encode(_blob("/citypulse/mini/2", level(33))), PEER)
    assert (core.dmx[1] == 33).all()
    assert not core.dmx[[0, 2]].any()


def test_universe_blob_message_carries_one_universe(make_core: MakeCore) -> None:
    core = make_core(Protocol.OSC)
    message = osc.universe_blob_message("/show", 3, level(44))
    core.receive(0.0, "osc", osc.encode(message), PEER)
    assert (core.dmx[2] == 44).all()


def test_a_bundle_applies_all_of_its_universes(make_core: MakeCore) -> None:
    core = make_core(Protocol.OSC)
    bundle = osc.Bundle(
        timetag=osc.IMMEDIATELY,
        elements=(
            osc.universe_blob_message("/s", 1, level(1)),
            _blob("/citypulse/mini/2", level(2)),
        ),
    )
    core.receive(0.0, "osc", osc.encode(bundle), PEER)
    assert core.dmx[:2, 0].tolist() == [1, 2]


def test_a_bundle_with_one_bad_universe_is_dropped_whole(make_core: MakeCore) -> None:
    core = make_core(Protocol.OSC)
    bad = osc.Message(address="/s/universe/2", args=(5,), type_tags="i")
    bundle = osc.Bundle(
        timetag=osc.IMMEDIATELY, elements=(osc.universe_blob_message("/s", 1, level(1)), bad)
    )
    with collect_warnings() as warnings:
        core.receive(0.0, "osc", osc.encode(bundle), PEER)
    assert not core.dmx.any()
    assert (core.statistics().malformed.osc, warnings.count) == (1, 1)


def test_attribute_messages_are_counted(make_core: MakeCore) -> None:
    core = make_core(Protocol.OSC)
    for value in (0.25, 0.5):
        message = osc.fixture_attribute_message("/citypulse/mini", "flood", "intensity", value)
        core.receive(0.0, "osc", osc.encode(message), PEER)
    core.receive(0.0, "osc", osc.encode(osc.Message(address="/other", args=("x",))), PEER)
    stats = core.statistics()
    assert (stats.osc_attribute_messages, stats.ignored.osc) == (2, 1)
    assert not core.dmx.any()


def test_osc_universe_without_a_route_is_unrouted(make_core: MakeCore) -> None:
    core = make_core(Protocol.OSC)
    core.receive(0.0, "osc", osc.encode(osc.universe_blob_message("/s", 77, level(1))), PEER)
    assert core.statistics().unrouted == 1


def test_enttec_frame_split_across_writes_is_reassembled(make_core: MakeCore) -> None:
    core = make_core(Protocol.ENTTEC)
    frame = enttec.encode_send_dmx(bytes(range(256)) * 2)
    for start in range(0, len(frame), 7):
        core.receive(0.0, "enttec", frame[start : start + 7], WIDGET)
    assert np.array_equal(core.dmx[0], np.frombuffer(bytes(range(256)) * 2, np.uint8))
    assert core.statistics().packets.enttec == 1


def test_enttec_other_labels_and_start_codes_are_ignored(make_core: MakeCore) -> None:
    core = make_core(Protocol.ENTTEC)
    core.receive(0.0, "enttec", enttec.encode_get_widget_parameters(), WIDGET)
    core.receive(0.0, "enttec", enttec.encode_send_dmx(level(9), start_code=0xCC), WIDGET)
    assert not core.dmx.any()
    assert core.statistics().ignored.enttec == 2


def test_enttec_widget_is_found_by_device_or_as_the_only_widget(make_core: MakeCore) -> None:
    core = make_core(Protocol.ENTTEC)
    core.receive(0.0, "enttec", enttec.encode_send_dmx(level(1)), ("/dev/sim0", 0))
    assert (core.dmx[0] == 1).all()
    core.receive(0.0, "enttec", enttec.encode_send_dmx(level(2)), ("/dev/pts/9", 0))
    assert (core.dmx[0] == 2).all()


def test_enttec_bytes_without_a_widget_route_are_unrouted(make_core: MakeCore) -> None:
    core = make_core(Protocol.ARTNET)
    core.receive(0.0, "enttec", enttec.encode_send_dmx(level(1)), WIDGET)
    assert core.statistics().unrouted == 1


def test_open_dmx_packet_is_start_code_then_slots(make_core: MakeCore) -> None:
    core = make_core(Protocol.OPENDMX)
    core.receive(0.0, "opendmx", enttec.open_dmx_frame(level(12)), WIDGET)
    assert (core.dmx[0] == 12).all()


def test_receive_rejects_an_unknown_protocol_name(make_core: MakeCore) -> None:
    with pytest.raises(ValueError, match="protocol='midi'"):
        make_core().receive(0.0, "midi", b"", PEER)  # type: ignore[arg-type]
