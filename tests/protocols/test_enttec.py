from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.errors import LocalProtocolError, RemoteProtocolError, Truncated
from controller.protocols import enttec
from controller.protocols.enttec import (
    Label,
    ParserStatistics,
    ReceivedDmx,
    WidgetMessage,
    WidgetMessageParser,
    WidgetParameters,
)
from tests.protocols.strategies import FAST
from tests.protocols.vectors import load

GOLDEN_ENCODE = [
    pytest.param("send_dmx", lambda: enttec.encode_send_dmx(b"\x01\x02"), id="send-dmx-padded"),
    pytest.param("get_widget_parameters", enttec.encode_get_widget_parameters, id="get-parameters"),
    pytest.param(
        "set_widget_parameters",
        lambda: enttec.encode_set_widget_parameters(
            WidgetParameters(break_time=9, mab_time=1, output_rate=40)
        ),
        id="set-parameters",
    ),
    pytest.param("serial_number_request", enttec.encode_get_serial_number, id="serial-number"),
]


@pytest.mark.parametrize(("name", "build"), GOLDEN_ENCODE)
def test_encode_matches_golden_vector(name: str, build: Callable[[], bytes]) -> None:
    assert build() == load("enttec", name)


def _one(raw: bytes) -> WidgetMessage:
    (message,) = WidgetMessageParser().feed(raw)
    return message


def test_parser_reads_golden_requests() -> None:
    assert _one(load("enttec", "send_dmx")) == WidgetMessage(
        label=Label.SEND_DMX, data=b"\x00\x01\x02" + bytes(510)
    )
    assert _one(load("enttec", "serial_number_request")) == WidgetMessage(label=10)


def test_widget_parameters_reply_decodes() -> None:
    message = _one(load("enttec", "widget_parameters_reply"))
    assert message.label == Label.GET_WIDGET_PARAMETERS
    assert enttec.decode_widget_parameters(message.data) == WidgetParameters(
        firmware_version=0x0144, break_time=10, mab_time=2, output_rate=40
    )


def test_serial_number_reply_decodes_bcd_little_endian() -> None:
    message = _one(load("enttec", "serial_number_reply"))
    assert enttec.decode_serial_number(message.data) == 12345678


def test_received_dmx_splits_status_start_code_and_slots() -> None:
    assert enttec.decode_received_dmx(b"\x00\x00\x10\x20") == ReceivedDmx(
        status=0, start_code=0, slots=b"\x10\x20"
    )


@FAST
@given(st.integers(0, 255), st.binary(max_size=600))
def test_parser_inverts_encode_message(label: int, data: bytes) -> None:
    assert WidgetMessageParser().feed(enttec.encode_message(label, data)) == [
        WidgetMessage(label=label, data=data)
    ]


@FAST
@given(
    st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=40)), max_size=5),
    st.lists(st.integers(1, 60), max_size=10),
)
def test_parser_output_does_not_depend_on_how_bytes_are_split(
    messages: list[tuple[int, bytes]], cuts: list[int]
) -> None:
    stream = b"".join(enttec.encode_message(label, data) for label, data in messages)
    parser = WidgetMessageParser()
    out: list[WidgetMessage] = []
    position = 0
    for cut in [*cuts, len(stream)]:
        out += parser.feed(stream[position : position + cut])
        position += cut
    out += parser.feed(stream[position:])
    assert out == [WidgetMessage(label=label, data=data) for label, data in messages]
    assert parser.statistics() == ParserStatistics(messages=len(messages))


def test_parser_resynchronises_and_counts_what_it_drops() -> None:
    good = enttec.encode_get_serial_number()
    oversize = bytes([0x7E, 6, 0x59, 0x02])  # announces 601 data bytes (> 600)
    bad_eom = bytes([0x7E, 10, 0, 0, 0x00])
    bad_eom_then_som = bytes([0x7E, 10, 0, 0]) + good  # the bad EOM byte is the next SOM
    parser = WidgetMessageParser()
    out = parser.feed(b"noise" + oversize + bad_eom + good + bad_eom_then_som)
    assert out == [WidgetMessage(label=10)] * 2
    assert parser.statistics() == ParserStatistics(
        messages=2, oversize=1, bad_eom=2, skipped_bytes=5
    )
    assert parser.statistics().dropped == 3


def test_parser_waits_for_the_rest_of_a_message() -> None:
    raw = load("enttec", "send_dmx")
    parser = WidgetMessageParser()
    for size in range(len(raw) - 1):
        assert parser.feed(raw[size : size + 1]) == []
    assert parser.feed(raw[-1:]) == [WidgetMessage(label=6, data=raw[4:-1])]


def test_unpadded_send_dmx_keeps_its_length() -> None:
    raw = enttec.encode_send_dmx(bytes(24), pad=False)
    assert raw[:4] == bytes([0x7E, 6, 25, 0])
    assert len(raw) == 4 + 25 + 1


def test_open_dmx_frame_is_start_code_and_512_slots() -> None:
    assert enttec.open_dmx_frame(b"\x01", start_code=0x17) == b"\x17\x01" + bytes(511)


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4])
def test_truncated_reply_payloads_raise_truncated(size: int) -> None:
    with pytest.raises(Truncated):
        enttec.decode_widget_parameters(bytes(size))
    if size < 4:
        with pytest.raises(Truncated):
            enttec.decode_serial_number(bytes(size))
    if size < 2:
        with pytest.raises(Truncated):
            enttec.decode_received_dmx(bytes(size))


HOSTILE = [
    pytest.param(
        lambda: enttec.decode_serial_number(b"\x0a\x00\x00\x00"),
        "serial number='0a000000' is not BCD",
        id="not-bcd",
    ),
    pytest.param(
        lambda: enttec.decode_widget_parameters(b"\x00\x00\x08\x01\x28"),
        "break_time=8 out of range 9..127",
        id="break-too-short",
    ),
    pytest.param(
        lambda: enttec.decode_widget_parameters(b"\x00\x00\x09\x01\x29"),
        "output_rate=41 out of range 0..40",
        id="rate-41",
    ),
]


@pytest.mark.parametrize(("decode", "message"), HOSTILE)
def test_decoders_reject_hostile_payloads(decode: Callable[[], object], message: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        decode()
    assert str(caught.value) == message


ILLEGAL = [
    pytest.param(
        lambda: enttec.encode_send_dmx(bytes(513)),
        "len(data)=513 out of range 0..512",
        id="513-slots",
    ),
    pytest.param(
        lambda: enttec.encode_send_dmx(bytes(23), pad=False),
        "send dmx length=24 out of range 25..513",
        id="too-short-unpadded",
    ),
    pytest.param(
        lambda: enttec.encode_message(6, bytes(601)),
        "len(data)=601 out of range 0..600",
        id="601-bytes",
    ),
    pytest.param(
        lambda: enttec.encode_message(256), "label=256 out of range 0..255", id="label-256"
    ),
    pytest.param(
        lambda: WidgetParameters(mab_time=0), "mab_time=0 out of range 1..127", id="mab-0"
    ),
    pytest.param(
        lambda: enttec.open_dmx_frame(b"", start_code=256),
        "start_code=256 out of range 0..255",
        id="sc-256",
    ),
]


@pytest.mark.parametrize(("build", "message"), ILLEGAL)
def test_illegal_values_raise_local_protocol_error(
    build: Callable[[], object], message: str
) -> None:
    with pytest.raises(LocalProtocolError) as caught:
        build()
    assert str(caught.value) == message
