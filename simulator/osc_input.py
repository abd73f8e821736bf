"""Sort the messages of one OSC packet into universe blobs and per-fixture attribute values.

A universe arrives as `,b <blob>` either on the exact address a route formats from its
pattern (`/citypulse/{venue}/{universe}`) or on any `/<...>/universe/<n>` address
(`controller.protocols.osc.universe_blob_message`), where `n` is the OSC wire universe.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from controller.errors import RemoteProtocolError
from simulator.wire.osc import OscBundleFrame, OscMessageFrame

__all__ = ["OscContents", "sort_messages"]

_UNIVERSE = re.compile(r"/universe/(\d{1,5})$")


@dataclass(frozen=True, slots=True)
class OscContents:
    universes: tuple[tuple[int, bytes], ...]  # (row, blob) in packet order
    attributes: int  # one-number messages (per-fixture attribute mode)
    unrouted: int  # universe blobs for a wire universe no route maps
    ignored: int  # anything else


def messages(packet: OscMessageFrame | OscBundleFrame) -> Iterator[OscMessageFrame]:
    """Every message of a packet, bundles flattened in order (timetags are not honoured)."""
    if isinstance(packet, OscMessageFrame):
        yield packet
        return
    for element in packet.elements:
        yield from messages(element)


def sort_messages(
    packet: OscMessageFrame | OscBundleFrame, *, paths: Mapping[str, int], wire: Mapping[int, int]
) -> OscContents:
    """Classify every message; raises RemoteProtocolError for a bad universe blob.

    `paths` maps exact addresses to rows; `wire` maps OSC wire universes to rows.
    """
    universes: list[tuple[int, bytes]] = []
    attributes = unrouted = ignored = 0
    for message in messages(packet):
        row = paths.get(message.address)
        match = _UNIVERSE.search(message.address) if row is None else None
        if match is not None:
            row = wire.get(int(match.group(1)))
            unrouted += row is None
        if row is not None:
            universes.append((row, _blob(message)))
        elif match is None and message.type_tags in ("f", "i", "d"):
            attributes += 1
        elif match is None:
            ignored += 1
    return OscContents(tuple(universes), attributes, unrouted, ignored)


def _blob(message: OscMessageFrame) -> bytes:
    blob = message.args[0] if message.type_tags == "b" else None
    if not isinstance(blob, bytes):
        msg = f"{message.address}: type tags ,{message.type_tags} (a universe needs ,b)"
        raise RemoteProtocolError(msg)
    if not 1 <= len(blob) <= 512:
        msg = f"{message.address}: blob of {len(blob)} bytes (need 1..512)"
        raise RemoteProtocolError(msg)
    return blob
