"""L5 the MQTT bus between the cities: topic names and schema-checked JSON payloads.

Pure: no sockets, no clock (times are fields, in shared seconds: UTC as the conductor's
host reports it). The topic tree, under one show (`show_id`: the show file's stem):

    citypulse/v1/<show-id>/time/req/<node>   node -> conductor, QoS 0    TimeRequest
    citypulse/v1/<show-id>/time/resp/<node>  conductor -> node, QoS 0    TimeResponse
    citypulse/v1/<show-id>/state             conductor, retained, QoS 1  ShowState
    citypulse/v1/<show-id>/cmd/submit        operators -> conductor      (signed envelope)
    citypulse/v1/<show-id>/cmd/exec          conductor -> venues         (signed envelope)
    citypulse/v1/<show-id>/cmd/result        conductor -> all, QoS 1     CommandResult
    citypulse/v1/<show-id>/status/<venue>    venue, retained, QoS 1, Last Will: VenueStatus
    citypulse/v1/<show-id>/conductor/online  conductor, retained, Last Will: ConductorPresence
    citypulse/v1/<show-id>/look/<venue>      venue -> consoles, QoS 0     Look

Rules:
- Names become topic levels, so a show id or node name must not contain `/` (the level
  separator), `+` or `#` (wildcards), NUL or other control characters (MQTT 5.0 §4.7.1,
  §1.5.4); a bad name raises `TopicNameError` when the `Topics` value or model is built.
- `decode(Model, payload)` turns a peer's bytes into a model or raises `BusPayloadError`
  with a short reason (size, UTF-8, JSON, duplicate key, version, the first schema error
  naming its field). Payloads are at most `MAX_PAYLOAD` bytes, JSON objects (RFC 8259:
  no NaN or Infinity), with `"v": 1` first; unknown fields are refused, not ignored.
- `encode(model)` gives compact JSON bytes, leaving out fields that are None (their
  default); the models are frozen and validated when built (strict types, finite
  numbers), so whatever encodes also decodes to an equal model.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from controller.errors import LocalProtocolError, RemoteProtocolError
from controller.protocols.bus_topics import TopicNameError, Topics, check_name

__all__ = [
    "MAX_LOOK_CELLS",
    "MAX_PAYLOAD",
    "VERSION",
    "BusModel",
    "BusPayloadError",
    "CommandResult",
    "ConductorPresence",
    "Look",
    "ShowState",
    "TimeRequest",
    "TimeResponse",
    "TopicNameError",
    "Topics",
    "VenueStatus",
    "decode",
    "encode",
]

VERSION = 1  # the `v` field of every payload and the `v1` level of every topic
MAX_PAYLOAD = 64 * 1024  # bytes; a show state with a few hundred file hashes fits easily
_MAX_REASON_VALUE = 40  # characters of a peer's value quoted in a reason
MAX_LOOK_CELLS = 1024  # a look's cells: 3 bytes each, 4,096 base64 characters at most


class BusPayloadError(RemoteProtocolError):
    """A bus message that is not a valid payload; `reason` says why in a few words."""

    def __init__(self, reason: str, *, model: str) -> None:
        self.reason = reason
        self.model = model
        super().__init__(f"bad {model} payload: {reason}")


def _name_checker(what: str) -> AfterValidator:
    def check(value: str) -> str:
        try:
            return check_name(value, what=what)
        except TopicNameError as exc:  # pydantic reports ValueError as a field error
            raise ValueError(str(exc)) from exc

    return AfterValidator(check)


def _sha256(value: str) -> str:
    if len(value) != 64 or value.strip("0123456789abcdef"):
        raise ValueError("expected a SHA-256 as 64 lowercase hex digits")
    return value


NodeName = Annotated[str, _name_checker("node name")]
Sha256 = Annotated[str, AfterValidator(_sha256)]
Seconds = float  # finite: the models refuse NaN and infinities (allow_inf_nan=False)
Ms = Annotated[float, Field(ge=0.0)]
Count = Annotated[int, Field(ge=0, le=2**53)]  # exact in every JSON reader


class BusModel(BaseModel):
    """Base of every payload: strict, frozen, finite, no unknown fields, `v` first."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    v: Literal[1] = 1


class TimeRequest(BusModel):
    """`time/req/<node>`: RFC 5905 §8 T1, the node's local send time, echoed back."""

    node: NodeName
    seq: Count
    t1: Seconds


class TimeResponse(BusModel):
    """`time/resp/<node>`: the request's T1 and the conductor's receive and send times."""

    seq: Count
    t1: Seconds  # RFC 5905 §8 T1 (the requester's clock), echoed
    t2: Seconds  # T2: request received, shared time
    t3: Seconds  # T3: response sent, shared time


PlayStateName = Literal["loaded", "armed", "running", "held", "ended"]
TimebaseStateName = Literal["free", "locked", "holdover"]


class ShowState(BusModel):
    """`state` (retained): what every venue must play, and from which anchor.

    Show frame `anchor_frame` is on the wire at tick `anchor_tick`; tick k is due at
    shared time `epoch + k / fps`. `version` grows with every change, so a venue can ignore
    an older state delivered late. `files` maps each show file (path relative to the show)
    to its SHA-256, so a venue whose `content_hash` differs can say which file differs.
    """

    show_id: Annotated[str, _name_checker("show id")]
    content_hash: Sha256
    files: dict[Annotated[str, Field(min_length=1, max_length=1024)], Sha256]
    state: PlayStateName
    anchor_frame: Count
    anchor_tick: Annotated[int, Field(ge=-(2**53), le=2**53)]
    epoch: Seconds
    fps: Annotated[int, Field(ge=1, le=1000)]
    version: Count
    blackout: bool
    master: Annotated[float, Field(ge=0.0, le=1.0)]
    conductor: NodeName
    issued_at: Seconds


class VenueStatus(BusModel):
    """`status/<venue>` (retained): one venue's health. None: not known.

    The Last Will is `VenueStatus.offline(venue)`: only `online: false` is known then.
    """

    venue: NodeName
    online: bool
    timebase_state: TimebaseStateName | None = None
    error_bound_ms: Ms | None = None
    rtt_ms: Ms | None = None
    offset_ms: float | None = None
    position_s: float | None = None
    frame: Count | None = None
    frames_dropped: Count = 0
    show_hash_ok: bool | None = None
    outputs_ok: bool | None = None
    updated_at: Seconds | None = None  # shared time
    join_s: Annotated[float, Field(ge=0.0)] | None = (
        None  # seconds from reaching the bus to playing
    )

    @classmethod
    def offline(cls, venue: str) -> VenueStatus:
        return cls(venue=venue, online=False)


class ConductorPresence(BusModel):
    """`conductor/online` (retained): who holds the conductor role; its Last Will says
    `online: false`, which is what a standby watches before taking over."""

    conductor: NodeName
    online: bool
    standby: bool = False  # True: a standby announcing itself, not holding the role
    since: Seconds | None = None  # shared time the role was taken


class CommandResult(BusModel):
    """`cmd/result`: the conductor's verdict on a submitted command."""

    id: Annotated[str, Field(min_length=1, max_length=128)]
    accepted: bool
    reason: Annotated[str, Field(max_length=1024)] | None = None
    exec_at: Seconds | None = None  # shared time it executes at (accepted commands)


class Look(BusModel):
    """`look/<venue>` (QoS 0, not retained): what the venue's lights show, for the consoles.

    A copy of the light of one delivered frame (master and blackout applied), downsampled to
    `cells` cells (`controller.preview.look.LookLayout`: the same layout for everyone who
    loads the show), as base64 (RFC 4648 §4, canonical, padded) of `cells` RGB byte
    triples. At most `MAX_LOOK_CELLS` cells: a look is at most about 4.3 KB of JSON.
    """

    venue: NodeName
    tick: Annotated[int, Field(ge=-(2**53), le=2**53)]  # the frame-grid tick it went out on
    frame: Count  # the show frame it depicts
    cells: Annotated[int, Field(ge=0, le=MAX_LOOK_CELLS)]
    light: Annotated[str, Field(max_length=4 * MAX_LOOK_CELLS)]

    @field_validator("light")
    @classmethod
    def _light_matches_cells(cls, light: str, info: ValidationInfo) -> str:
        try:
            raw = base64.b64decode(light.encode("ascii"), validate=True)
        except (UnicodeEncodeError, binascii.Error):
            raise ValueError("not base64 (RFC 4648 §4)") from None
        if base64.b64encode(raw).decode("ascii") != light:
            raise ValueError("not canonical base64 (spare bits or padding)")
        cells = info.data.get("cells")
        if cells is not None and len(raw) != 3 * cells:
            raise ValueError(f"{len(raw)} bytes, not 3 for each of {cells} cells")
        return light

    def rgb(self) -> bytes:
        """The cells' colours: R, G, B bytes per cell."""
        return base64.b64decode(self.light)


M = TypeVar("M", bound=BusModel)


class _RejectError(ValueError):
    """A JSON text that is not acceptable; carries the reason."""


def _no_constants(name: str) -> object:
    raise _RejectError(f"{name} is not a JSON number (RFC 8259 §6)")


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise _RejectError(f"duplicate key {_quote(key)}")
        out[key] = value
    return out


def _quote(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_REASON_VALUE else text[: _MAX_REASON_VALUE - 3] + "..."


def _parse(payload: bytes) -> object:
    """UTF-8 JSON text -> Python value, or `_RejectError` with the reason."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _RejectError(f"not UTF-8 (byte {exc.start})") from exc
    try:
        return json.loads(text, parse_constant=_no_constants, object_pairs_hook=_unique_keys)
    except _RejectError:
        raise
    except json.JSONDecodeError as exc:
        message = exc.msg[0].lower() + exc.msg[1:]
        raise _RejectError(f"not JSON: {message} at line {exc.lineno} column {exc.colno}") from exc
    except RecursionError as exc:
        raise _RejectError("not JSON: nested too deeply") from exc
    except ValueError as exc:  # Python refuses integers of more than 4300 digits
        raise _RejectError("not JSON: a number of more than 4300 digits") from exc


def _schema_reason(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    field = ".".join(str(part) for part in first["loc"])
    if first["type"] == "missing":
        reason = f"missing field {_quote(field)}"
    elif first["type"] == "extra_forbidden":
        reason = f"unknown field {_quote(field)}"
    else:
        message = first["msg"].removeprefix("Value error, ")
        reason = f"field {_quote(field)}: {message[0].lower()}{message[1:]}"
    if len(errors) > 1:
        reason += f" (and {len(errors) - 1} more)"
    return reason


def decode(model: type[M], payload: bytes) -> M:
    """A peer's payload as `model`, or `BusPayloadError` saying why not."""
    name = model.__name__
    if not payload:
        raise BusPayloadError("empty payload (a cleared retained message)", model=name)
    if len(payload) > MAX_PAYLOAD:
        raise BusPayloadError(
            f"payload of {len(payload)} bytes over the {MAX_PAYLOAD}-byte limit", model=name
        )
    try:
        value = _parse(payload)
    except _RejectError as exc:
        raise BusPayloadError(str(exc), model=name) from exc
    if not isinstance(value, dict):
        kind = (
            "an array"
            if isinstance(value, list)
            else "a string"
            if isinstance(value, str)
            else "a number or literal"
        )
        raise BusPayloadError(f"not a JSON object (got {kind})", model=name)
    if "v" not in value:
        raise BusPayloadError("missing field 'v'", model=name)
    version = value["v"]
    if type(version) is not int or version != VERSION:
        raise BusPayloadError(
            f"unsupported version v={_quote(version)} (this node speaks v={VERSION})",
            model=name,
        )
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise BusPayloadError(_schema_reason(exc), model=name) from exc


def encode(message: BusModel) -> bytes:
    """Compact JSON bytes for `message`; `LocalProtocolError` past `MAX_PAYLOAD`."""
    data = message.model_dump_json(exclude_none=True).encode("utf-8")  # None is the default
    if len(data) > MAX_PAYLOAD:
        msg = (
            f"{type(message).__name__} payload of {len(data)} bytes over the"
            f" {MAX_PAYLOAD}-byte limit"
        )
        raise LocalProtocolError(msg)
    return data
