"""Hypothesis strategies for every packet kind of `controller.protocols`."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st

from controller.protocols import artnet, osc, sacn

# Modest example counts keep the protocol suite well under its 20 s budget; capped by the
# active profile (tests/conftest.py), so FAST=1 shrinks them further.
FAST = settings(max_examples=min(40, settings().max_examples), deadline=None)


def _even_binary(min_pairs: int, max_pairs: int) -> st.SearchStrategy[bytes]:
    return st.integers(min_pairs, max_pairs).flatmap(
        lambda n: st.binary(min_size=2 * n, max_size=2 * n)
    )


def _latin1(max_size: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=max_size)


def _utf8(max_bytes: int) -> st.SearchStrategy[str]:
    chars = st.characters(codec="utf-8", exclude_characters="\x00")
    return st.text(chars, max_size=max_bytes).filter(lambda s: len(s.encode()) <= max_bytes)


bytes4 = st.binary(min_size=4, max_size=4)
u8 = st.integers(0, 255)
u16 = st.integers(0, 0xFFFF)

art_dmx = st.builds(
    artnet.ArtDmx,
    sequence=u8,
    physical=u8,
    port_address=st.integers(0, 32767),
    data=_even_binary(1, 256),
)
art_sync = st.just(artnet.ArtSync())
art_poll = st.builds(
    artnet.ArtPoll,
    flags=u8,
    diag_priority=u8,
    target_port_address_top=st.integers(0, 32767),
    target_port_address_bottom=st.integers(0, 32767),
    esta_man=u16,
    oem=u16,
)
art_poll_reply = st.builds(
    artnet.ArtPollReply,
    ip=st.ip_addresses(v=4).map(str),
    port=u16,
    version_info=u16,
    net_switch=st.integers(0, 127),
    sub_switch=st.integers(0, 15),
    oem=u16,
    ubea_version=u8,
    status1=u8,
    esta_man=u16,
    short_name=_latin1(17),
    long_name=_latin1(63),
    node_report=_latin1(63),
    num_ports=st.integers(0, 4),
    port_types=bytes4,
    good_input=bytes4,
    good_output_a=bytes4,
    sw_in=bytes4,
    sw_out=bytes4,
    acn_priority=u8,
    sw_macro=u8,
    sw_remote=u8,
    style=u8,
    mac=st.binary(min_size=6, max_size=6),
    bind_ip=st.ip_addresses(v=4).map(str),
    bind_index=u8,
    status2=u8,
    good_output_b=bytes4,
    status3=u8,
    default_resp_uid=st.binary(min_size=6, max_size=6),
    user=u16,
    refresh_rate=u16,
)
artnet_packets = st.one_of(art_dmx, art_sync, art_poll, art_poll_reply)

cids = st.binary(min_size=16, max_size=16)
sacn_universes = st.integers(1, 63999)
sacn_data = st.builds(
    sacn.DataPacket,
    cid=cids,
    source_name=_utf8(63),
    priority=st.integers(0, 200),
    sync_address=st.integers(0, 63999),
    sequence=u8,
    preview=st.booleans(),
    stream_terminated=st.booleans(),
    force_sync=st.booleans(),
    universe=sacn_universes,
    start_code=u8,
    data=st.binary(max_size=512),
)
sacn_sync = st.builds(sacn.SyncPacket, cid=cids, sequence=u8, sync_address=sacn_universes)


@st.composite
def sacn_discovery(draw: st.DrawFn) -> sacn.DiscoveryPacket:
    last_page = draw(u8)
    universes = draw(st.lists(sacn_universes, unique=True, max_size=64))
    return sacn.DiscoveryPacket(
        cid=draw(cids),
        source_name=draw(_utf8(63)),
        page=draw(st.integers(0, last_page)),
        last_page=last_page,
        universes=tuple(sorted(universes)),
    )


sacn_packets = st.one_of(sacn_data, sacn_sync, sacn_discovery())

OSC_ARGS: dict[str, st.SearchStrategy[osc.OscArg]] = {
    "i": st.integers(-(2**31), 2**31 - 1),
    "h": st.integers(-(2**63), 2**63 - 1),
    "f": st.floats(width=32, allow_nan=False),
    "d": st.floats(allow_nan=False),
    "s": _utf8(24),
    "b": st.binary(max_size=40),
    "T": st.just(True),
    "F": st.just(False),
    "N": st.none(),
}
osc_addresses = st.lists(
    st.text(
        st.characters(codec="ascii", exclude_characters=" #*,/?[]{}\x00"), min_size=1, max_size=8
    ),
    min_size=1,
    max_size=4,
).map(lambda parts: "/" + "/".join(parts))


@st.composite
def osc_messages(draw: st.DrawFn) -> osc.Message:
    pairs = draw(
        st.lists(
            st.sampled_from(sorted(OSC_ARGS)).flatmap(lambda t: st.tuples(st.just(t), OSC_ARGS[t])),
            max_size=6,
        )
    )
    return osc.Message(
        address=draw(osc_addresses),
        args=tuple(arg for _, arg in pairs),
        type_tags="".join(tag for tag, _ in pairs),
    )


@st.composite
def osc_bundles(draw: st.DrawFn, depth: int = 2, earliest: int = osc.IMMEDIATELY) -> osc.Bundle:
    """Bundles whose nested timetags never precede their parent's (OSC 1.0)."""
    timetag = draw(st.one_of(st.just(earliest), st.integers(earliest, 2**64 - 1)))
    elements: list[osc.Message | osc.Bundle] = []
    for _ in range(draw(st.integers(0, 3))):
        if depth > 0 and draw(st.booleans()):
            elements.append(draw(osc_bundles(depth - 1, timetag)))
        else:
            elements.append(draw(osc_messages()))
    return osc.Bundle(timetag=timetag, elements=tuple(elements))


osc_packets = st.one_of(osc_messages(), osc_bundles())


def corrupt(data: st.DataObject, raw: bytes) -> bytes:
    """`raw` with a few bytes overwritten, then cut short or extended: input for robustness tests."""
    out = bytearray(raw)
    for _ in range(data.draw(st.integers(0, 4)) if out else 0):
        out[data.draw(st.integers(0, len(out) - 1))] = data.draw(u8)
    return bytes(out[: data.draw(st.integers(0, len(out)))]) + data.draw(st.binary(max_size=8))
