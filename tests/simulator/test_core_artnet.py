"""SimulatorCore with Art-Net from ArtNetSender: sync latching, sequence, routing."""

from __future__ import annotations

import numpy as np

from controller.protocols import artnet
from controller.protocols.datagram import Datagram
from simulator.core import SimulatorCore
from tests.simulator.helpers import SOURCE, MakeCore, level

NODE = ("127.0.0.1", 6454)


def _sender(*, sync: bool = True) -> artnet.ArtNetSender:
    return artnet.ArtNetSender(
        targets=dict.fromkeys((1, 2, 3), NODE),
        sync_address=NODE if sync else None,
        mode="constant",
    )


def _frame(sender: artnet.ArtNetSender, now: float, value: int) -> list[Datagram]:
    return sender.frame(now, dict.fromkeys((1, 2, 3), level(value)))


def _deliver(core: SimulatorCore, now: float, datagrams: list[Datagram]) -> None:
    for d in datagrams:
        core.receive(now, "artnet", d.data, SOURCE)


def _is_sync(d: Datagram) -> bool:
    return isinstance(artnet.decode(d.data), artnet.ArtSync)


def test_artdmx_is_shown_at_once_before_any_artsync(make_core: MakeCore) -> None:
    core = make_core()
    _deliver(core, 0.0, _frame(_sender(sync=False), 0.0, 10))
    assert (core.dmx == 10).all()
    assert core.statistics().packets.artnet == 3


def test_after_an_artsync_data_waits_for_the_next_artsync(make_core: MakeCore) -> None:
    core = make_core()
    sender = _sender()
    _deliver(core, 0.0, _frame(sender, 0.0, 10))  # the first ArtSync enters sync mode
    datagrams = _frame(sender, 0.025, 20)
    data, sync = [d for d in datagrams if not _is_sync(d)], [d for d in datagrams if _is_sync(d)]
    _deliver(core, 0.025, data)
    assert (core.dmx == 10).all(), "ArtDmx must be buffered until ArtSync"
    _deliver(core, 0.026, sync)
    assert (core.dmx == 20).all()


def test_sync_mode_times_out_after_4_s_without_artsync(make_core: MakeCore) -> None:
    core = make_core()
    sender = _sender()
    _deliver(core, 0.0, _frame(sender, 0.0, 10))
    unsynced = _sender(sync=False)
    _deliver(core, 3.9, _frame(unsynced, 3.9, 30))
    assert (core.dmx == 10).all(), "still in sync mode 3.9 s after the last ArtSync"
    _deliver(core, 4.0, _frame(unsynced, 4.0, 40))
    assert (core.dmx == 40).all(), "4 s without ArtSync: back to immediate mode"


def test_poll_applies_the_sync_timeout_and_releases_buffered_data(make_core: MakeCore) -> None:
    core = make_core()
    sender = _sender()
    _deliver(core, 0.0, _frame(sender, 0.0, 10))
    _deliver(core, 1.0, [d for d in _frame(sender, 1.0, 50) if not _is_sync(d)])
    core.poll(3.0)
    assert (core.dmx == 10).all()
    core.poll(4.5)
    assert (core.dmx == 50).all()


def test_sequence_gap_is_counted_when_a_packet_is_skipped(make_core: MakeCore) -> None:
    core = make_core()
    sender = _sender(sync=False)
    _deliver(core, 0.0, _frame(sender, 0.0, 1))
    lost = _frame(sender, 0.025, 2)
    _deliver(core, 0.025, lost[1:])  # universe 1's packet never arrives
    _deliver(core, 0.05, _frame(sender, 0.05, 3))
    stats = core.statistics()
    assert stats.sequence_gaps == 1
    assert dict(stats.gaps_by_universe) == {1: 1, 2: 0, 3: 0}


def test_sequence_wraps_from_255_to_1_without_a_gap(make_core: MakeCore) -> None:
    core = make_core()
    for n, sequence in enumerate([254, 255, 1, 2]):
        packet = artnet.ArtDmx(sequence=sequence, port_address=1, data=level(n))
        core.receive(n * 0.025, "artnet", artnet.encode(packet), SOURCE)
    assert core.statistics().sequence_gaps == 0
    assert (core.dmx[0] == 3).all()


def test_late_and_duplicate_packets_are_discarded(make_core: MakeCore) -> None:
    core = make_core()
    packets = [
        artnet.encode(artnet.ArtDmx(sequence=s, port_address=1, data=level(s))) for s in (5, 6)
    ]
    core.receive(0.0, "artnet", packets[1], SOURCE)
    core.receive(0.1, "artnet", packets[0], SOURCE)  # one behind: late
    core.receive(0.2, "artnet", packets[1], SOURCE)  # duplicate
    stats = core.statistics()
    assert (stats.out_of_order, stats.sequence_gaps) == (2, 0)
    assert (core.dmx[0] == 6).all()


def test_sequence_zero_disables_the_check(make_core: MakeCore) -> None:
    core = make_core()
    packet = artnet.encode(artnet.ArtDmx(sequence=0, port_address=1, data=level(9)))
    for n in range(3):
        core.receive(n * 0.025, "artnet", packet, SOURCE)
    stats = core.statistics()
    assert (stats.out_of_order, stats.sequence_gaps) == (0, 0)


def test_unknown_port_address_is_counted_unrouted(make_core: MakeCore) -> None:
    core = make_core()
    packet = artnet.encode(artnet.ArtDmx(port_address=0x0123, data=level(1)))
    core.receive(0.0, "artnet", packet, SOURCE)
    assert core.statistics().unrouted == 1
    assert not core.dmx.any()


def test_artsync_from_another_ip_is_ignored(make_core: MakeCore) -> None:
    core = make_core()
    sender = _sender()
    _deliver(core, 0.0, _frame(sender, 0.0, 10))
    datagrams = _frame(sender, 0.025, 20)
    _deliver(core, 0.025, [d for d in datagrams if not _is_sync(d)])
    core.receive(0.026, "artnet", artnet.encode(artnet.ArtSync()), ("10.9.9.9", 6454))
    assert (core.dmx == 10).all()
    assert core.statistics().ignored.artnet == 1


def test_poll_and_other_opcodes_are_ignored_not_malformed(make_core: MakeCore) -> None:
    core = make_core()
    core.receive(0.0, "artnet", artnet.encode(artnet.ArtPoll()), SOURCE)
    timecode = b"Art-Net\x00" + (0x9700).to_bytes(2, "little") + bytes([0, 14]) + bytes(7)
    core.receive(0.0, "artnet", timecode, SOURCE)
    stats = core.statistics()
    assert (stats.ignored.artnet, stats.malformed.artnet) == (2, 0)


def test_short_artdmx_fills_its_slots_and_zeroes_the_rest(make_core: MakeCore) -> None:
    core = make_core()
    core.receive(
        0.0, "artnet", artnet.encode(artnet.ArtDmx(port_address=2, data=b"\xff" * 4)), SOURCE
    )
    assert core.dmx[1, :4].tolist() == [255] * 4
    assert not core.dmx[1, 4:].any()


def test_every_latched_universe_reaches_on_latch_at_the_sync(make_core: MakeCore) -> None:
    seen: list[tuple[float, int, bytes]] = []
    core = make_core(on_latch=lambda t, u, data: seen.append((t, u, data)))
    sender = _sender()
    _deliver(core, 0.0, _frame(sender, 0.0, 10))
    seen.clear()
    datagrams = _frame(sender, 0.025, 20)
    _deliver(core, 0.025, datagrams[:-1])
    assert seen == []
    _deliver(core, 0.03, datagrams[-1:])
    assert seen == [(0.03, u, level(20)) for u in (1, 2, 3)]


def test_a_sync_frame_missing_a_universe_is_torn(make_core: MakeCore) -> None:
    core = make_core()
    sender = _sender()
    for k in range(3):
        _deliver(core, k * 0.025, _frame(sender, k * 0.025, k))
    datagrams = _frame(sender, 0.075, 9)
    _deliver(core, 0.075, [datagrams[0], datagrams[2], datagrams[3]])  # universe 2 lost
    stats = core.statistics()
    assert stats.torn_frames == 1
    assert np.array_equal(core.dmx[1], np.full(512, 2, np.uint8))


def test_dmx_view_is_read_only(make_core: MakeCore) -> None:
    view = make_core().dmx
    assert not view.flags.writeable
