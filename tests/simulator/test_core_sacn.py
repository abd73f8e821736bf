"""SimulatorCore with sACN from the controller's SacnSender: sync, priority, order, termination."""

from __future__ import annotations

from controller.protocols import sacn
from controller.protocols.datagram import Datagram
from controller.show.rig import Protocol
from simulator.core import SimulatorCore
from tests.simulator.helpers import MakeCore, level

UNIVERSES = (1, 2, 3)
CID_A, CID_B, CID_C = bytes(range(16)), bytes(range(1, 17)), bytes(range(2, 18))


def _sender(
    cid: bytes = CID_A, *, priority: int = 100, sync_address: int = 0, preview: bool = False
) -> sacn.SacnSender:
    return sacn.SacnSender(
        cid=cid,
        source_name="test",
        universes=UNIVERSES,
        priority=priority,
        sync_address=sync_address,
        preview=preview,
        discovery_interval_s=None,
        mode="constant",
    )


def _frame(sender: sacn.SacnSender, now: float, value: int) -> list[Datagram]:
    return sender.frame(now, dict.fromkeys(UNIVERSES, level(value)))


def _deliver(core: SimulatorCore, now: float, datagrams: list[Datagram]) -> None:
    for d in datagrams:
        core.receive(now, "sacn", d.data, ("127.0.0.1", 50000))


def _is_sync(d: Datagram) -> bool:
    return isinstance(sacn.decode(d.data), sacn.SyncPacket)


def test_unsynchronised_data_is_shown_at_once(make_core: MakeCore) -> None:
    core = make_core(Protocol.SACN)
    _deliver(core, 0.0, _frame(_sender(), 0.0, 7))
    assert (core.dmx == 7).all()


def test_data_with_a_sync_address_waits_for_that_sync_packet(make_core: MakeCore) -> None:
    core = make_core(Protocol.SACN)
    datagrams = _frame(_sender(sync_address=1), 0.0, 7)
    _deliver(core, 0.0, [d for d in datagrams if not _is_sync(d)])
    assert not core.dmx.any()
    other = sacn.encode(sacn.SyncPacket(cid=CID_A, sequence=0, sync_address=2))
    core.receive(0.001, "sacn", other, ("127.0.0.1", 50000))
    assert not core.dmx.any(), "a sync for another address latches nothing"
    _deliver(core, 0.002, [d for d in datagrams if _is_sync(d)])
    assert (core.dmx == 7).all()
    assert core.statistics().frames_latched >= 1


def test_the_highest_priority_source_wins(make_core: MakeCore) -> None:
    core = make_core(Protocol.SACN)
    main, backup = _sender(CID_A, priority=150), _sender(CID_B, priority=100)
    _deliver(core, 0.0, _frame(main, 0.0, 10))
    _deliver(core, 0.01, _frame(backup, 0.01, 99))
    assert (core.dmx == 10).all()
    assert core.statistics().lower_priority == 3


def test_a_higher_priority_source_takes_over_at_once(make_core: MakeCore) -> None:
    core = make_core(Protocol.SACN)
    _deliver(core, 0.0, _frame(_sender(CID_B, priority=100), 0.0, 99))
    _deliver(core, 0.01, _frame(_sender(CID_A, priority=150), 0.01, 10))
    assert (core.dmx == 10).all()


def test_a_lower_priority_backup_takes_over_after_the_2_5_s_data_loss_timeout(
    make_core: MakeCore,
) -> None:
    core = make_core(Protocol.SACN)
    main, backup = _sender(CID_A, priority=150), _sender(CID_B, priority=100)
    _deliver(core, 0.0, _frame(main, 0.0, 10))
    _deliver(core, 2.0, _frame(backup, 2.0, 20))
    assert (core.dmx == 10).all()
    _deliver(core, 2.6, _frame(backup, 2.6, 30))
    assert (core.dmx == 30).all()


def test_out_of_order_packets_are_discarded_by_the_e131_rule(make_core: MakeCore) -> None:
    core = make_core(Protocol.SACN)
    sender = _sender()
    first = _frame(sender, 0.0, 1)
    second = _frame(sender, 0.025, 2)
    _deliver(core, 0.0, first)
    _deliver(core, 0.025, second)
    _deliver(core, 0.03, first)  # int8(0 - 1) = -1: late, discarded
    stats = core.statistics()
    assert stats.out_of_order == 3
    assert (core.dmx == 2).all()


def test_a_jump_far_back_is_a_restart_not_a_late_packet(make_core: MakeCore) -> None:
    core = make_core(Protocol.SACN)
    for now, sequence in ((0.0, 100), (0.1, 60)):  # int8(60 - 100) = -40: accepted
        packet = sacn.DataPacket(
            cid=CID_A, source_name="t", sequence=sequence, universe=1, data=level(sequence)
        )
        core.receive(now, "sacn", sacn.encode(packet), ("127.0.0.1", 1))
    assert (core.dmx[0] == 60).all()
    assert core.statistics().out_of_order == 0


def test_skipped_sequence_numbers_are_counted_as_gaps(make_core: MakeCore) -> None:
    core = make_core(Protocol.SACN)
    sender = _sender()
    _deliver(core, 0.0, _frame(sender, 0.0, 1))
    _frame(sender, 0.025, 2)  # lost on the way
    _frame(sender, 0.05, 3)  # lost on the way
    _deliver(core, 0.075, _frame(sender, 0.075, 4))
    stats = core.statistics()
    assert stats.sequence_gaps == 6
    assert dict(stats.gaps_by_universe) == {1: 2, 2: 2, 3: 2}


def test_stream_terminated_releases_the_universe_and_ignores_its_data(
    make_core: MakeCore,
) -> None:
    core = make_core(Protocol.SACN)
    sender = _sender()
    _deliver(core, 0.0, _frame(sender, 0.0, 5))
    terminated = sender.terminate(0.1)
    assert len(terminated) == 9  # three per universe
    _deliver(core, 0.1, terminated)
    stats = core.statistics()
    assert stats.stream_terminations == 3
    assert stats.released_universes == (1, 2, 3)
    assert (core.dmx == 5).all(), "terminated packets carry no levels to show"
    _deliver(core, 0.2, _frame(sender, 0.2, 6))
    assert core.statistics().released_universes == ()


def test_a_terminated_main_source_hands_over_to_the_backup(make_core: MakeCore) -> None:
    core = make_core(Protocol.SACN)
    main, backup = _sender(CID_A, priority=150), _sender(CID_B, priority=100)
    _deliver(core, 0.0, _frame(main, 0.0, 10))
    _deliver(core, 0.0, _frame(backup, 0.0, 20))
    _deliver(core, 0.1, main.terminate(0.1))
    assert core.statistics().released_universes == (), "the backup still sends"
    _deliver(core, 0.2, _frame(backup, 0.2, 30))
    assert (core.dmx == 30).all()


def test_preview_data_never_reaches_the_output(make_core: MakeCore) -> None:
    core = make_core(Protocol.SACN)
    _deliver(core, 0.0, _frame(_sender(preview=True), 0.0, 7))
    assert not core.dmx.any()
    assert core.statistics().ignored.sacn == 3


def test_non_zero_start_codes_and_discovery_are_ignored(make_core: MakeCore) -> None:
    core = make_core(Protocol.SACN)
    priorities = sacn.DataPacket(
        cid=CID_C, source_name="t", universe=1, start_code=0xDD, data=level(200)
    )
    discovery = sacn.DiscoveryPacket(
        cid=CID_C, source_name="t", page=0, last_page=0, universes=(1,)
    )
    core.receive(0.0, "sacn", sacn.encode(priorities), ("127.0.0.1", 1))
    core.receive(0.0, "sacn", sacn.encode(discovery), ("127.0.0.1", 1))
    assert not core.dmx.any()
    assert core.statistics().ignored.sacn == 2


def test_unknown_sacn_universe_is_unrouted(make_core: MakeCore) -> None:
    core = make_core(Protocol.SACN)
    packet = sacn.DataPacket(cid=CID_A, source_name="t", universe=4000, data=level(1))
    core.receive(0.0, "sacn", sacn.encode(packet), ("127.0.0.1", 1))
    assert core.statistics().unrouted == 1
