"""The async shells over real loopback sockets and a real pty (marker: network)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import numpy as np
import pytest
import serial

from controller.errors import TransportError
from controller.outputs.serial_dmx import EnttecOutput
from controller.protocols import artnet, enttec, osc, sacn
from controller.protocols.datagram import Datagram
from controller.show.rig import Protocol
from controller.testing import ManualClock
from simulator.core import LOGGER_NAME
from simulator.listeners import Simulator, sacn_group
from tests.simulator.helpers import MakeCore, level

pytestmark = pytest.mark.network

LOOPBACK = "127.0.0.1"
UNIVERSES = (1, 2, 3)


def _send(datagrams: list[Datagram], *, multicast: bool = False) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        if multicast:
            tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(LOOPBACK))
            tx.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        for d in datagrams:
            tx.sendto(d.data, d.address)


async def test_artnet_unicast_with_artsync_reaches_the_core(make_core: MakeCore) -> None:
    core = make_core()
    async with Simulator(core=core, clock=ManualClock(), sacn_port=None, osc_port=None) as sim:
        node = (LOOPBACK, sim.artnet_port)
        sender = artnet.ArtNetSender(
            targets=dict.fromkeys(UNIVERSES, node), sync_address=node, mode="constant"
        )
        sent = 0
        for k in range(3):
            datagrams = sender.frame(k * 0.025, dict.fromkeys(UNIVERSES, level(k + 1)))
            _send(datagrams)
            sent += len(datagrams)
            async with asyncio.timeout(5):
                await sim.wait_received(sent)
            assert (core.dmx == k + 1).all()
    stats = core.statistics()
    assert (stats.packets.artnet, stats.malformed.total, stats.sequence_gaps) == (12, 0, 0)


async def test_listener_tasks_are_named_and_gone_after_exit(make_core: MakeCore) -> None:
    async with Simulator(core=make_core(), clock=ManualClock(), sacn_port=None) as sim:
        names = {task.get_name() for task in asyncio.all_tasks()}
        assert f"simulator[artnet@127.0.0.1:{sim.artnet_port}]" in names
        assert f"simulator[osc@127.0.0.1:{sim.osc_port}]" in names
    assert not any(t.get_name().startswith("simulator[") for t in asyncio.all_tasks())
    with pytest.raises(RuntimeError, match="no artnet listener"):
        _ = sim.artnet_port


async def test_garbage_over_udp_is_logged_once_and_the_listener_carries_on(
    make_core: MakeCore, caplog: pytest.LogCaptureFixture
) -> None:
    core = make_core()
    async with Simulator(core=core, clock=ManualClock(), sacn_port=None, osc_port=None) as sim:
        node = (LOOPBACK, sim.artnet_port)
        good = artnet.encode(artnet.ArtDmx(port_address=2, data=level(5)))
        with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
            _send([Datagram(b"not Art-Net at all", node), Datagram(good, node)])
            async with asyncio.timeout(5):
                await sim.wait_received(2)
    assert len([r for r in caplog.records if r.name == LOGGER_NAME]) == 1
    assert (core.dmx[1] == 5).all()


async def test_sacn_multicast_on_loopback_reaches_the_core(make_core: MakeCore) -> None:
    core = make_core(Protocol.SACN)
    async with contextlib.AsyncExitStack() as stack:
        try:
            sim = await stack.enter_async_context(
                Simulator(core=core, clock=ManualClock(), artnet_port=None, osc_port=None)
            )
        except TransportError as exc:
            pytest.skip(f"this machine cannot join sACN multicast groups on 127.0.0.1: {exc}")
        port = sim.sacn_port
        sender = sacn.SacnSender(
            cid=bytes(range(16)),
            source_name="test",
            universes=UNIVERSES,
            sync_address=1,
            unicast={u: (sacn_group(u), port) for u in UNIVERSES},
            discovery_interval_s=None,
            mode="constant",
        )
        datagrams = [
            d
            for k in range(20)  # sent back to back: the sync of each frame is on group 1
            for d in sender.frame(k * 0.025, dict.fromkeys(UNIVERSES, level(k + 1)))
        ]
        assert {d.address[0] for d in datagrams} == {"239.255.0.1", "239.255.0.2", "239.255.0.3"}
        try:
            _send(datagrams, multicast=True)
        except OSError as exc:
            pytest.skip(f"this machine cannot send multicast on 127.0.0.1: {exc}")
        async with asyncio.timeout(5):
            await sim.wait_received(len(datagrams))
    assert (core.dmx == 20).all()
    stats = core.statistics()
    # every sync latched its own frame whole: arrival order held across the group sockets
    assert (stats.frames_latched, stats.torn_frames, stats.out_of_order) == (20, 0, 0)


async def test_sacn_groups_past_the_per_socket_limit_still_arrive(make_core: MakeCore) -> None:
    """30 extra groups: past Linux's 20 memberships per socket; the sync goes to the last one."""
    core = make_core(Protocol.SACN)
    extra = range(100, 130)
    async with contextlib.AsyncExitStack() as stack:
        try:
            sim = await stack.enter_async_context(
                Simulator(
                    core=core,
                    clock=ManualClock(),
                    artnet_port=None,
                    osc_port=None,
                    sacn_universes=extra,
                )
            )
        except TransportError as exc:
            pytest.skip(f"this machine cannot join sACN multicast groups on 127.0.0.1: {exc}")
        assert sim.sacn_universes == (*UNIVERSES, *extra)
        port = sim.sacn_port
        sender = sacn.SacnSender(
            cid=bytes(range(16)),
            source_name="test",
            universes=UNIVERSES,
            sync_address=129,
            unicast={u: (sacn_group(u), port) for u in (*UNIVERSES, 129)},
            discovery_interval_s=None,
            mode="constant",
        )
        datagrams = sender.frame(0.0, dict.fromkeys(UNIVERSES, level(6)))
        assert datagrams[-1].address == ("239.255.0.129", port)
        try:
            _send(datagrams, multicast=True)
        except OSError as exc:
            pytest.skip(f"this machine cannot send multicast on 127.0.0.1: {exc}")
        async with asyncio.timeout(5):
            await sim.wait_received(len(datagrams))
    assert (core.dmx == 6).all()


async def test_sacn_unicast_to_the_bound_port_also_arrives(make_core: MakeCore) -> None:
    core = make_core(Protocol.SACN)
    async with contextlib.AsyncExitStack() as stack:
        try:
            sim = await stack.enter_async_context(
                Simulator(core=core, clock=ManualClock(), artnet_port=None, osc_port=None)
            )
        except TransportError as exc:
            pytest.skip(f"this machine cannot join sACN multicast groups on 127.0.0.1: {exc}")
        packet = sacn.DataPacket(cid=bytes(16), source_name="u", universe=2, data=level(4))
        _send([Datagram(sacn.encode(packet), (LOOPBACK, sim.sacn_port))])
        async with asyncio.timeout(5):
            await sim.wait_received(1)
    assert (core.dmx[1] == 4).all()


async def test_osc_blobs_reach_the_core(make_core: MakeCore) -> None:
    core = make_core(Protocol.OSC)
    async with Simulator(core=core, clock=ManualClock(), artnet_port=None, sacn_port=None) as sim:
        peer = (LOOPBACK, sim.osc_port)
        messages = [
            osc.Message(address=f"/citypulse/mini/{u}", args=(level(u * 10),), type_tags="b")
            for u in UNIVERSES
        ]
        _send([Datagram(osc.encode(m), peer) for m in messages])
        async with asyncio.timeout(5):
            await sim.wait_condition(lambda c: c.statistics().packets.osc == 3)
    assert core.dmx[:, 0].tolist() == [10, 20, 30]


async def test_pty_widget_reads_frames_written_with_pyserial(make_core: MakeCore) -> None:
    core = make_core(Protocol.ENTTEC)
    async with Simulator(
        core=core, clock=ManualClock(), artnet_port=None, sacn_port=None, osc_port=None, enttec=True
    ) as sim:
        port = serial.Serial(sim.enttec_path, baudrate=57600, timeout=0)
        try:
            port.write(enttec.encode_get_widget_parameters())
            for value in (1, 2, 3):
                port.write(enttec.encode_send_dmx(level(value)))
            async with asyncio.timeout(5):
                await sim.wait_condition(lambda c: c.statistics().packets.enttec == 4)
        finally:
            port.close()
    assert (core.dmx[0] == 3).all()
    assert core.statistics().ignored.enttec == 1


async def test_controller_enttec_output_drives_the_pty_widget(make_core: MakeCore) -> None:
    core = make_core(Protocol.ENTTEC)
    async with Simulator(
        core=core, clock=ManualClock(), artnet_port=None, sacn_port=None, osc_port=None, enttec=True
    ) as sim:
        output = EnttecOutput(name="widget", device=sim.enttec_path, row=0)
        frame = np.zeros((3, 512), np.uint8)
        frame[0] = np.arange(512) % 251
        try:
            output.send_frame(0.0, frame)
            async with asyncio.timeout(5):
                await sim.wait_condition(lambda c: c.statistics().packets.enttec == 1)
        finally:
            output.close(0.0)
    assert np.array_equal(core.dmx[0], frame[0])
    assert output.stats().errors == 0


async def test_ports_are_unknown_before_entering(make_core: MakeCore) -> None:
    sim = Simulator(core=make_core(), clock=ManualClock())
    with pytest.raises(RuntimeError, match="no sacn listener"):
        _ = sim.sacn_port
    with pytest.raises(RuntimeError, match="no ENTTEC widget"):
        _ = sim.enttec_path


async def test_a_port_in_use_is_a_transport_error(make_core: MakeCore) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind((LOOPBACK, 0))
        busy = taken.getsockname()[1]
        simulator = Simulator(core=make_core(), clock=ManualClock(), artnet_port=busy)
        with pytest.raises(TransportError, match=f"cannot bind UDP 127.0.0.1:{busy}"):
            await simulator.__aenter__()
