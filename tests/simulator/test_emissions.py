"""VenueFrames: frame emission times from sync packets, or from data alone."""

from __future__ import annotations

import pytest

from controller.protocols import artnet, sacn
from simulator.emissions import VenueFrames

CID = bytes(range(16))
SYNC = artnet.encode(artnet.ArtSync())
SACN_SYNC = sacn.encode(sacn.SyncPacket(cid=CID, sync_address=7))


def dmx(port_address: int) -> bytes:
    return artnet.encode(artnet.ArtDmx(port_address=port_address, data=bytes(512)))


def sacn_data(universe: int, *, sync_address: int = 0, preview: bool = False) -> bytes:
    packet = sacn.DataPacket(
        cid=CID, source_name="t", universe=universe, sync_address=sync_address,
        preview=preview, data=bytes(512),
    )  # fmt: skip
    return sacn.encode(packet)


def test_artsync_times_the_frames() -> None:
    venue = VenueFrames()
    for k in range(5):
        t = k * 0.025
        venue.feed(t + 0.001, dmx(0))
        venue.feed(t + 0.002, dmx(1))
        venue.feed(t + 0.003, SYNC)
    assert venue.source == "artsync"
    assert venue.times() == pytest.approx([k * 0.025 + 0.003 for k in range(5)])
    assert venue.packets == {"artdmx": 10, "artsync": 5}


def test_sacn_sync_times_the_frames() -> None:
    venue = VenueFrames()
    for k in range(4):
        venue.feed(k + 0.1, sacn_data(1, sync_address=7))
        venue.feed(k + 0.2, SACN_SYNC)
    assert venue.source == "sacn-sync"
    assert venue.times() == pytest.approx([0.2, 1.2, 2.2, 3.2])


def test_without_sync_the_first_data_packet_of_each_frame_counts() -> None:
    venue = VenueFrames()
    for k in range(3):
        for u, dt in ((1, 0.0), (2, 0.001), (3, 0.002)):
            venue.feed(k * 0.025 + dt, sacn_data(u))
    assert venue.source == "data"
    assert venue.times() == pytest.approx([0.0, 0.025, 0.05])


def test_without_sync_a_frame_of_one_changed_universe_starts_after_half_a_period() -> None:
    venue = VenueFrames(period_s=0.025)
    # universe 1 then universe 2 (no repeat), a period apart: two frames by the time rule
    venue.feed(0.0, dmx(1))
    venue.feed(0.025, dmx(2))
    venue.feed(0.026, dmx(1))
    assert venue.times() == pytest.approx([0.0, 0.025])
    repeat_only = VenueFrames()
    repeat_only.feed(0.0, dmx(1))
    repeat_only.feed(0.025, dmx(2))
    assert repeat_only.times() == pytest.approx([0.0])


def test_other_and_malformed_packets_are_counted_not_timed() -> None:
    venue = VenueFrames()
    venue.feed(0.0, artnet.encode(artnet.ArtPoll()))
    venue.feed(0.1, sacn_data(1, preview=True))
    venue.feed(0.2, b"Art-Net\x00\x00\x52")  # truncated ArtSync
    venue.feed(0.3, b"hello")
    venue.feed(0.4, b"")
    assert venue.packets == {"other": 2, "malformed": 3}
    assert venue.source == "none"
    assert venue.times() == []


def lit_dmx(port_address: int, value: int) -> bytes:
    return artnet.encode(artnet.ArtDmx(port_address=port_address, data=bytes([value]) * 512))


def test_each_frame_carries_the_level_and_digest_its_sync_latched() -> None:
    """What receivers show at each sync: the latest data of every universe (a re-send before
    the sync replaces it, as a blackout heard at delivery does)."""
    venue = VenueFrames()
    venue.feed(0.001, lit_dmx(0, 2))
    venue.feed(0.002, lit_dmx(1, 1))
    venue.feed(0.003, SYNC)
    venue.feed(0.026, lit_dmx(0, 2))
    venue.feed(0.027, lit_dmx(0, 0))  # re-sent dark before the sync
    venue.feed(0.028, SYNC)
    venue.feed(0.053, SYNC)  # nothing new: the same latched data
    levels = venue.levels()
    assert [level for level, _ in levels] == [3 * 512, 1 * 512, 1 * 512]
    assert levels[1][1] == levels[2][1] != levels[0][1]
    assert len(levels) == len(venue.times())


def test_without_sync_each_data_frame_carries_its_level() -> None:
    venue = VenueFrames()
    for k, value in enumerate((5, 0)):
        venue.feed(k * 0.025, lit_dmx(0, value))
        venue.feed(k * 0.025 + 0.001, lit_dmx(1, value))
    assert venue.source == "data"
    assert [level for level, _ in venue.levels()] == [10 * 512, 0]
