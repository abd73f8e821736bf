"""L8 the peers `bench compare` measures citypulse against, each driven as its docs show.

Both run in their own process (spawned by `compare_bench`), send sACN by unicast to the
counting receiver, and play the same effect as citypulse's compare show: every channel of
every universe (170 RGB pixels, 510 channels) fading up and down, 2 s each way.
- `sacn` (Hundemeier/sacn): `sACNsender(fps=44)` with one output per universe; a loop on
  absolute deadlines computes the fade level and sets each output's `dmx_data`; the
  library's own thread sends what changed. The library always sends to port 5568, so the
  benchmark gives it a socket subclass that sends to the receiver's port instead (the
  library's `socket=` parameter exists for that); the per-packet path is the library's.
- PyArtNet: a `SacnNode` at `max_fps=44` with sACN sync on, one 510-wide channel per
  universe, `set_fade` up then down, awaited, for as long as the run lasts: its own fade
  engine computes every step and sends.
Each child reports nothing: the receiver counts what arrives; CPU and memory are sampled
from outside.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from controller.clock import MonotonicClock

__all__ = ["FADE_S", "WIDTH", "pyartnet_peer", "sacn_peer"]

FADE_S = 2.0
WIDTH = 510  # 170 RGB pixels


def _level(t: float) -> int:
    """Triangle 0 -> 255 -> 0 over 2 x FADE_S (the fade both peers play)."""
    phase = (t / FADE_S) % 2.0
    return round(255 * (phase if phase <= 1.0 else 2.0 - phase))


def sacn_peer(port: int, universes: int, seconds: float, fps: int) -> None:  # pragma: no cover
    import sacn
    from sacn.sending.sender_socket_udp import SenderSocketUDP

    class ToPort(SenderSocketUDP):  # type: ignore[misc]
        def send_packet(self, data: Any, destination: str) -> None:
            self._socket.sendto(bytearray(data), (destination, port))

    sender = sacn.sACNsender(bind_address="127.0.0.1", bind_port=0, fps=fps,
                             universeDiscovery=False, source_name="sacn peer")  # fmt: skip
    handler = sender._sender_handler
    handler.socket._socket.close()  # the library's own, bound but never used
    handler.socket = ToPort(handler, "127.0.0.1", 0, fps)
    for u in range(1, universes + 1):
        sender.activate_output(u)
        sender[u].multicast = False
        sender[u].destination = "127.0.0.1"
    clock = MonotonicClock()
    sender.start()
    try:
        start = clock.now()
        k = 0
        while clock.now() - start < seconds:
            data = (_level(k / fps),) * WIDTH
            for u in range(1, universes + 1):
                sender[u].dmx_data = data
            k += 1
            clock.wait_until(start + k / fps)
    finally:
        sender.stop()


def pyartnet_peer(port: int, universes: int, seconds: float, fps: int) -> None:  # pragma: no cover
    asyncio.run(_pyartnet(port, universes, seconds, fps))


async def _pyartnet(
    port: int, universes: int, seconds: float, fps: int
) -> None:  # pragma: no cover
    from pyartnet.base.network import UnicastNetworkTarget
    from pyartnet.impl_sacn.node import SacnNode

    clock = MonotonicClock()
    node = SacnNode(UnicastNetworkTarget.create("127.0.0.1", port), max_fps=fps,
                    source_name="pyartnet peer")  # fmt: skip
    node.set_synchronous_mode(True, 1)
    channels = [
        node.add_universe(u).add_channel(start=1, width=WIDTH) for u in range(1, universes + 1)
    ]
    end = clock.now() + seconds
    async with node:
        target = 255
        while clock.now() < end:
            for ch in channels:
                ch.set_fade([target] * WIDTH, int(FADE_S * 1000))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, end - clock.now())):
                    await asyncio.gather(*(ch for ch in channels))
            target = 255 - target
