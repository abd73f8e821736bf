"""L5 the ArtPollReply packets citypulse answers an ArtPoll with while it outputs Art-Net.

Art-Net 4 expects every device on the network, controllers included, to answer ArtPoll.
citypulse answers controller style:
- Style is StController (Art-Net 4, ArtPollReply Style 0x01: a lighting console).
- The Port-Addresses it sends are its *input* ports. In Art-Net a port that puts DMX onto
  the network is an input (PortTypes bit 6, SwIn, GoodInput), as on a DMX-in gateway; an
  output port (bit 7, SwOut) takes data off the network, which citypulse does not do.
- One ArtPollReply describes at most 4 ports, which share Net and Sub-Net (NetSwitch,
  SubSwitch; SwIn holds the low nibble). More Port-Addresses take more replies from the
  same IP, numbered by BindIndex 1, 2, ... with BindIp the device's IP (Art-Net 4,
  ArtPollReply BindIndex: "the root device has BindIndex 1").
- Targeted Mode (ArtPoll Flags bit 5): only the replies with a port in
  TargetPortAddressBottom..Top are sent.
- NodeReport reads "#0001 [count] text": RcPowerOk and the count of replies sent so far.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from controller.protocols.artnet import ArtPoll, ArtPollReply

__all__ = ["NodeIdentity", "poll_replies"]

STYLE_CONTROLLER = 0x01  # Art-Net 4, ArtPollReply Style: StController
PORT_INPUT_DMX512 = 0x40  # Art-Net 4, PortTypes: bit 6 input onto Art-Net, protocol 0 DMX512
GOOD_INPUT_DATA = 0x80  # Art-Net 4, GoodInput: bit 7 data received (we are sending)
STATUS1 = 0xD0  # Art-Net 4, Status1: indicators normal (bits 7-6 = 11), addresses set locally (01)
STATUS2 = 0x08  # Art-Net 4, Status2: bit 3, supports 15-bit Port-Addresses
OEM_UNKNOWN = 0x00FF  # Art-Net OEM code list: OemUnknown
ESTA_PROTOTYPE = 0x7FF0  # ANSI E1.20 manufacturer ids 0x7FF0..0x7FFF: prototypes and experiments
REPORT_POWER_OK = 0x0001  # Art-Net 4, NodeReport codes: RcPowerOk
PORTS_PER_REPLY = 4  # Art-Net 4, ArtPollReply: NumPorts is at most 4
TARGETED_MODE = 0x20  # Art-Net 4, ArtPoll Flags bit 5


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeIdentity:
    """How citypulse names itself; names are cut to the fields and made latin-1."""

    short_name: str  # Art-Net 4, ArtPollReply ShortName: 17 characters and a NUL
    long_name: str  # Art-Net 4, ArtPollReply LongName: 63 characters and a NUL
    version_info: int = 0  # Art-Net 4, ArtPollReply VersInfoH/L: firmware revision


def _text(text: str, size: int) -> str:
    latin = text.encode("latin-1", "replace").decode("latin-1").replace("\x00", " ")
    return latin[: size - 1]


def _groups(port_addresses: Iterable[int]) -> list[list[int]]:
    """Port-Addresses in replies: sorted, at most 4 per reply, one Net and Sub-Net each."""
    groups: list[list[int]] = []
    for pa in sorted(set(port_addresses)):
        last = groups[-1] if groups else None
        if last is None or len(last) == PORTS_PER_REPLY or last[0] >> 4 != pa >> 4:
            groups.append([pa])
        else:
            last.append(pa)
    return groups


def _wanted(poll: ArtPoll | None, ports: list[int]) -> bool:
    if poll is None or not poll.flags & TARGETED_MODE:
        return True
    low, high = poll.target_port_address_bottom, poll.target_port_address_top
    return any(low <= pa <= high for pa in ports)


def poll_replies(
    *,
    ip: str,
    identity: NodeIdentity,
    port_addresses: Iterable[int],
    replies_sent: int = 0,
    poll: ArtPoll | None = None,
) -> list[ArtPollReply]:
    """The ArtPollReply packets answering `poll` (see the module rules).

    `ip` is the address the poller reaches us at; `replies_sent` counts earlier replies
    (for NodeReport). A device with no Port-Address still sends one reply, without ports.
    """
    groups = _groups(port_addresses) or [[]]
    out: list[ArtPollReply] = []
    for index, ports in enumerate(groups, start=1):
        if not _wanted(poll, ports):
            continue
        n = len(ports)
        fill = bytes(PORTS_PER_REPLY - n)
        base = ports[0] if ports else 0
        count = (replies_sent + len(out) + 1) % 10000
        out.append(
            ArtPollReply(
                ip=ip, version_info=identity.version_info, net_switch=base >> 8,
                sub_switch=base >> 4 & 0x0F, oem=OEM_UNKNOWN, status1=STATUS1,
                esta_man=ESTA_PROTOTYPE, short_name=_text(identity.short_name, 18),
                long_name=_text(identity.long_name, 64),
                node_report=f"#{REPORT_POWER_OK:04x} [{count:04d}] citypulse sending {n} port(s)",
                num_ports=n, port_types=bytes([PORT_INPUT_DMX512] * n) + fill,
                good_input=bytes([GOOD_INPUT_DATA] * n) + fill,
                sw_in=bytes(pa & 0x0F for pa in ports) + fill, style=STYLE_CONTROLLER,
                bind_ip=ip, bind_index=(index - 1) % 255 + 1, status2=STATUS2,
            )
        )  # fmt: skip
    return out
