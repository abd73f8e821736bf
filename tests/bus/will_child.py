"""A venue-like process for Last Will tests: connects with a Will, says it is online, waits.

Usage: python tests/bus/will_child.py URL SHOW VENUE. The test kills it with SIGKILL, so the
connection ends without a DISCONNECT and the broker must publish the Will.
"""

from __future__ import annotations

import asyncio
import sys

from controller.protocols.bus import Topics, VenueStatus, encode
from controller.transports.mqtt import BusClient, Will


async def main(url: str, show: str, venue: str) -> None:
    topic = Topics(show).status(venue)
    will = Will(topic, encode(VenueStatus.offline(venue)), qos=1, retain=True)
    async with BusClient(url=url, client_id=venue, will=will) as client:
        online = VenueStatus(venue=venue, online=True, timebase_state="locked")
        await client.publish(topic, encode(online), qos=1, retain=True)
        await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
