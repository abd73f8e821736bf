"""L5 topic names of the citypulse bus (`citypulse/v1/<show-id>/...`), built from checked names.

MQTT 5.0 §4.7.1: `/` separates topic levels and `+` and `#` are wildcards, so none of them
may appear inside a name that becomes one level; §1.5.4: a UTF-8 string must not contain
U+0000, and control characters (U+0001..U+001F, U+007F..U+009F) should not appear. Names are
also kept short (at most `MAX_NAME` characters) so a topic stays readable in a log line.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from controller.errors import LocalProtocolError

__all__ = ["MAX_NAME", "PREFIX", "TopicKind", "TopicNameError", "TopicRef", "Topics", "check_name"]

PREFIX = "citypulse/v1"
MAX_NAME = 128  # characters


class TopicNameError(LocalProtocolError):
    """A show id or node name that cannot be one MQTT topic level."""


def _control(ch: str) -> bool:
    code = ord(ch)
    return code < 0x20 or 0x7F <= code <= 0x9F


def check_name(name: str, *, what: str) -> str:
    """`name` if it can be one topic level, else `TopicNameError` naming `what` it is."""
    if not name:
        raise TopicNameError(f"{what} is empty")
    if len(name) > MAX_NAME:
        raise TopicNameError(f"{what} of {len(name)} characters is over the {MAX_NAME} limit")
    for ch in name:
        if ch in "/+#":
            raise TopicNameError(
                f"{what} {name!r} contains {ch!r} (MQTT topic level separator or wildcard)"
            )
        if _control(ch):
            raise TopicNameError(f"{what} {name!r} contains control character U+{ord(ch):04X}")
    if name != name.strip():
        raise TopicNameError(f"{what} {name!r} starts or ends with white space")
    return name


class TopicKind(enum.StrEnum):
    TIME_REQ = "time/req"
    TIME_RESP = "time/resp"
    STATE = "state"
    CMD_SUBMIT = "cmd/submit"
    CMD_EXEC = "cmd/exec"
    CMD_RESULT = "cmd/result"
    STATUS = "status"
    CONDUCTOR_ONLINE = "conductor/online"
    LOOK = "look"


_PER_NODE = (TopicKind.TIME_REQ, TopicKind.TIME_RESP, TopicKind.STATUS, TopicKind.LOOK)


@dataclass(frozen=True, slots=True)
class TopicRef:
    """What a received topic is: its kind and, for per-node topics, the node."""

    kind: TopicKind
    node: str | None = None


@dataclass(frozen=True, slots=True)
class Topics:
    """Every topic name and filter of one show's bus."""

    show_id: str

    def __post_init__(self) -> None:
        check_name(self.show_id, what="show id")

    @property
    def root(self) -> str:
        return f"{PREFIX}/{self.show_id}"

    @property
    def all(self) -> str:
        """Filter matching every topic of this show (what a bridge or a monitor carries)."""
        return f"{self.root}/#"

    def time_req(self, node: str) -> str:
        return f"{self.root}/time/req/{check_name(node, what='node name')}"

    def time_resp(self, node: str) -> str:
        return f"{self.root}/time/resp/{check_name(node, what='node name')}"

    def status(self, venue: str) -> str:
        return f"{self.root}/status/{check_name(venue, what='venue name')}"

    def look(self, venue: str) -> str:
        return f"{self.root}/look/{check_name(venue, what='venue name')}"

    @property
    def look_all(self) -> str:
        return f"{self.root}/look/+"

    @property
    def time_req_all(self) -> str:
        """Filter for every node's time requests (the conductor's subscription)."""
        return f"{self.root}/time/req/+"

    @property
    def status_all(self) -> str:
        return f"{self.root}/status/+"

    @property
    def state(self) -> str:
        return f"{self.root}/state"

    @property
    def cmd_submit(self) -> str:
        return f"{self.root}/cmd/submit"

    @property
    def cmd_exec(self) -> str:
        return f"{self.root}/cmd/exec"

    @property
    def cmd_result(self) -> str:
        return f"{self.root}/cmd/result"

    @property
    def conductor_online(self) -> str:
        return f"{self.root}/conductor/online"

    def parse(self, topic: str) -> TopicRef | None:
        """Which of this show's topics `topic` is, or None (another show, unknown, bad name)."""
        head = self.root + "/"
        if not topic.startswith(head):
            return None
        rest = topic[len(head) :]
        for kind in _PER_NODE:
            prefix = kind.value + "/"
            if rest.startswith(prefix):
                node = rest[len(prefix) :]
                try:
                    check_name(node, what="node name")
                except TopicNameError:
                    return None
                return TopicRef(kind, node)
        try:
            kind = TopicKind(rest)
        except ValueError:
            return None
        return None if kind in _PER_NODE else TopicRef(kind)
