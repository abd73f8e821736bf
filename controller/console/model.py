"""L8 the console's live model: what the bus says, as the page shows it (pure: `now` is passed).

- The show clock comes from the conductor's retained `state` played forward on this host's
  shared time, with the same `Playback` the conductor and every venue use (so it holds at a
  hold cue and ends where they do): position, cue, next cue and the countdown to it.
- A venue row is its retained `status`; `frame_skew` compares the frame it reported (the
  one it has prepared) with the frame the state says is due next when it reported (0 in
  lockstep; a frame either way is sampling); `stale` when its last status is over
  `STALE_S` old.
- Commands the operators sent and their fate: sent, accepted (executes at a shared
  instant), executed (that instant has passed), rejected (the conductor's reason), or no
  answer within `ANSWER_S`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from controller.console.show_view import ShowView
from controller.protocols import bus
from controller.runtime.commands import Command, CommandKind
from controller.runtime.grid import LocalGrid
from controller.runtime.playback import Playback, PlaybackSnapshot

__all__ = ["ANSWER_S", "STALE_S", "CommandRecord", "LiveModel"]

STALE_S = 3.0  # a venue publishes its status twice a second
ANSWER_S = 10.0  # a verdict later than this is not waited for
KEPT = 40


@dataclass(slots=True)
class CommandRecord:
    id: str
    user: str
    text: str  # "GOTO finale"
    sent_at: float  # shared time
    fate: str = "sent"  # sent, accepted, executed, rejected, no answer
    reason: str | None = None
    exec_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "user": self.user, "text": self.text, "sent_at": self.sent_at,
                "fate": self.fate, "reason": self.reason, "exec_at": self.exec_at}  # fmt: skip


def describe(command: Command) -> str:
    """How the page names a command: `BLACKOUT ON`, `MASTER 50 %`, `GOTO finale`."""
    if command.kind is CommandKind.BLACKOUT:
        return f"BLACKOUT {'ON' if command.args[0] else 'OFF'}"
    if command.kind is CommandKind.MASTER:
        return f"MASTER {float(command.args[0]):.0%}".replace("%", " %")
    return command.describe()


class LiveModel:
    def __init__(self, show: ShowView) -> None:
        self.show = show
        self.state: bus.ShowState | None = None
        self.conductor: bus.ConductorPresence | None = None
        self.status: dict[str, bus.VenueStatus] = {}
        self.looks: dict[str, bus.Look] = {}
        self.look_counts: dict[str, int] = {}
        self.commands: deque[CommandRecord] = deque(maxlen=KEPT)
        self.connected = False
        self.dropped: deque[str] = deque(maxlen=5)  # the latest bad messages, with why

    # -- what the bus says -----------------------------------------------------------------
    def on_message(self, topic: bus.Topics, name: str, payload: bytes, now: float) -> str | None:
        """Take one message; returns what it updated ("state", "look", ...) or None."""
        ref = topic.parse(name)
        if ref is None:
            return None
        kind = ref.kind.value
        try:
            if kind == "state":
                self.state = bus.decode(bus.ShowState, payload)
            elif kind == "conductor/online":
                self.conductor = bus.decode(bus.ConductorPresence, payload)
            elif kind == "status" and ref.node is not None:
                status = bus.decode(bus.VenueStatus, payload)
                if status.venue != ref.node:
                    raise bus.BusPayloadError(f"names venue {status.venue!r}", model="VenueStatus")
                self.status[ref.node] = status
            elif kind == "look" and ref.node is not None:
                self._look(ref.node, bus.decode(bus.Look, payload))
            elif kind == "cmd/result":
                self._result(bus.decode(bus.CommandResult, payload))
            else:
                return None
        except bus.BusPayloadError as exc:
            self.dropped.append(f"{name}: {exc.reason}")
            return None
        return kind

    def _look(self, venue: str, look: bus.Look) -> None:
        twin = self.show.twins.get(venue)
        if look.venue != venue or twin is None or look.cells != twin["cells"]:
            raise bus.BusPayloadError(
                f"{look.cells} cells, the show's layout has {twin['cells'] if twin else 0}",
                model="Look",
            )
        self.looks[venue] = look
        self.look_counts[venue] = self.look_counts.get(venue, 0) + 1

    def _result(self, result: bus.CommandResult) -> None:
        for record in self.commands:
            if record.id == result.id:
                record.fate = "accepted" if result.accepted else "rejected"
                record.reason, record.exec_at = result.reason, result.exec_at

    def sent(self, command: Command, user: str, now: float) -> CommandRecord:
        record = CommandRecord(command.id, user, describe(command), now)
        self.commands.append(record)
        return record

    def failed(self, record: CommandRecord, reason: str) -> None:
        record.fate, record.reason = "rejected", reason

    # -- what the page shows ----------------------------------------------------------------
    def _playback(self, state: bus.ShowState, now: float) -> PlaybackSnapshot:
        """The conductor's playback as of shared time `now`, from its retained state."""
        show = self.show
        pb = Playback(fps=state.fps, frame_count=show.frame_count, cues=show.cues)
        tick = LocalGrid(epoch=state.epoch, fps=state.fps).tick_for(now) - 1
        if state.state != "loaded":
            adopt = Command(kind=CommandKind.ADOPT, origin="console",
                            args=(state.state, state.anchor_frame, state.anchor_tick))  # fmt: skip
            pb.apply(adopt, min(state.anchor_tick, tick))
        return pb.snapshot(tick)

    def _clock(self, now: float) -> dict[str, Any] | None:
        state = self.state
        if state is None:
            return None
        snap = self._playback(state, now)
        cue_t = {name: t for name, t, _ in self.show.cues}
        next_in = None
        if snap.next_cue is not None and snap.state.value == "running":
            next_in = max(0.0, cue_t[snap.next_cue] - snap.position)
        return {
            "state": snap.state.value, "position_s": snap.position, "frame": snap.frame,
            "cue": snap.cue, "next_cue": snap.next_cue, "next_cue_in_s": next_in,
            "waiting_at": snap.waiting_at, "blackout": state.blackout, "master": state.master,
            "version": state.version, "conductor": state.conductor,
        }  # fmt: skip

    def _frame_skew(self, status: bus.VenueStatus) -> int | None:
        state = self.state
        if state is None or status.frame is None or status.updated_at is None:
            return None
        if status.updated_at < state.issued_at - 1.0:  # a status from before this state
            return None
        # A venue reports the frame it has prepared: the one due next after `updated_at`.
        due = self._playback(state, status.updated_at + 1.0 / state.fps).frame
        return status.frame - due

    def _venue(self, venue: str, now: float) -> dict[str, Any]:
        status = self.status.get(venue)
        row: dict[str, Any] = {"venue": venue, "looks": self.look_counts.get(venue, 0)}
        if status is None:
            return row | {"online": None}
        row |= status.model_dump(exclude={"v", "venue"})
        row["frame_skew"] = self._frame_skew(status) if status.online else None
        age = None if status.updated_at is None else now - status.updated_at
        row["stale"] = bool(status.online and (age is None or age > STALE_S))
        return row

    def _fates(self, now: float) -> None:
        for record in self.commands:
            if record.fate == "sent" and now - record.sent_at > ANSWER_S:
                record.fate = "no answer"
            elif record.fate == "accepted" and record.exec_at is not None and now >= record.exec_at:
                record.fate = "executed"

    def snapshot(self, now: float) -> dict[str, Any]:
        """Everything the page shows, as JSON-ready values."""
        self._fates(now)
        conductor = self.conductor.model_dump(exclude={"v"}) if self.conductor else None
        return {
            "type": "model",
            "now": now,
            "connected": self.connected,
            "conductor": conductor,
            "clock": self._clock(now),
            "venues": [self._venue(v, now) for v in self.show.venues],
            "commands": [r.as_dict() for r in reversed(self.commands)],
            "dropped": list(self.dropped),
        }
