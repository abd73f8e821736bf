"""L7 the conductor's logic, sans I/O: time service, command validation and fan-out, show state.

Rules:
- Time is an argument: `now` is shared time (UTC seconds as this conductor reports it).
  The shell reads its clock, feeds messages in, and publishes what comes back.
- The conductor plays the show itself, without outputs: a `Playback` on the shared frame
  grid (tick k at `epoch + k / fps`) to which it applies every accepted command on exactly
  the tick the venues do. Its state and anchor are the retained `state` every venue (and a
  venue joining late) follows.
- A submitted command is checked in order: the operator's signature, issue time, nonce and
  ACL (`Verifier`); then as a command; then by playing it on a copy of the playback at its
  execution tick (a refusal there is a refusal here, with the playback's reason); then the
  start gate: ARM, or GO from ARMED, is refused while a venue is offline or not locked to
  the timebase, unless the command says `force`.
- An accepted command executes at `exec_at`: the operator's time when given (it must leave
  the venues time to hear it), else now plus the lead (the slowest venue's round trip plus
  a margin, within `LEAD_MIN_S..LEAD_MAX_S`). BLACKOUT executes at once: no lead.
- Every step is audited: received, accepted or rejected (with why), executed.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controller.protocols import bus
from controller.protocols.signing import CommandRejected, Verifier, new_nonce, sign
from controller.runtime.commands import Command, CommandError, CommandKind
from controller.runtime.content import ShowContent
from controller.runtime.grid import grid_tick
from controller.runtime.playback import Playback, PlayState

__all__ = ["LEAD_MAX_S", "LEAD_MIN_S", "ConductorCore", "Publish", "ShowInfo"]

_log = logging.getLogger("citypulse.conductor")

LEAD_MIN_S = 0.1
LEAD_MAX_S = 0.5
LEAD_MARGIN_S = 0.05
STATE_EVERY_S = 1.0  # the retained state is refreshed this often even when nothing changed
EXEC_TTL_S = 30.0  # lifetime of a fanned-out command envelope


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ShowInfo:
    show_id: str
    fps: int
    frame_count: int
    cues: tuple[tuple[str, float, bool], ...]
    content: ShowContent


AuditFn = Callable[..., None]  # audit(event, **fields)


class ConductorCore:
    def __init__(
        self,
        *,
        show: ShowInfo,
        node: str,
        issuer: str,
        sign_key: Ed25519PrivateKey,
        verifier: Verifier,
        epoch: float,
        venues: Sequence[str],
        audit: AuditFn | None = None,
    ) -> None:
        self.show = show
        self.node = node
        self.issuer = issuer
        self._key = sign_key
        self.verifier = verifier
        self.epoch = epoch
        self.venues = tuple(venues)
        self.topics = bus.Topics(show.show_id)
        self.audit = audit or (lambda event, **fields: None)
        self.playback = Playback(fps=show.fps, frame_count=show.frame_count, cues=show.cues)
        self.status: dict[str, bus.VenueStatus] = {}
        self._pending: list[tuple[int, int, Command]] = []  # (exec tick, order, command)
        self._order = 0
        self._published_version: int | None = None
        self._published_at = float("-inf")

    # -- the grid ----------------------------------------------------------------------------
    def tick_for(self, shared: float) -> int:
        """The first tick due at or after `shared` (the grid arithmetic every venue uses)."""
        return grid_tick(self.epoch, self.show.fps, shared)

    def adopt(self, state: bus.ShowState) -> None:
        """Continue from a retained state (a standby taking over, a restarted conductor)."""
        self.epoch = state.epoch
        if state.state != "loaded":
            adopt = Command(
                kind=CommandKind.ADOPT,
                args=(state.state, state.anchor_frame, state.anchor_tick),
                origin=self.node,
            )
            self.playback.apply(adopt, max(state.anchor_tick, 0))
        self.playback.blackout, self.playback.master = state.blackout, state.master
        self.playback.version = state.version

    # -- time service ------------------------------------------------------------------------
    def time_response(
        self, node: str, payload: bytes, t2: float
    ) -> tuple[str, bus.TimeRequest] | None:
        """The request to answer, or None when it is not one (logged); the shell stamps T3."""
        try:
            request = bus.decode(bus.TimeRequest, payload)
        except bus.BusPayloadError as exc:
            _log.warning("time request from %s dropped: %s", node, exc.reason)
            return None
        if request.node != node:
            _log.warning("time request on %s names node %r: dropped", node, request.node)
            return None
        return self.topics.time_resp(node), request

    # -- venue status ------------------------------------------------------------------------
    def venue_status(self, venue: str, payload: bytes) -> None:
        try:
            status = bus.decode(bus.VenueStatus, payload)
        except bus.BusPayloadError as exc:
            _log.warning("status of %s dropped: %s", venue, exc.reason)
            return
        if status.venue != venue:
            _log.warning("status on %s names venue %r: dropped", venue, status.venue)
            return
        self.status[venue] = status

    def lead_s(self) -> float:
        rtts = [s.rtt_ms / 1e3 for s in self.status.values() if s.online and s.rtt_ms is not None]
        return min(LEAD_MAX_S, max(LEAD_MIN_S, max(rtts, default=0.0) + LEAD_MARGIN_S))

    def _start_gate(self) -> str | None:
        """Why a new start is refused now (a venue offline or not locked), or None."""
        for venue in self.venues:
            status = self.status.get(venue)
            if status is None or not status.online:
                return f"venue {venue!r} is offline"
            if status.timebase_state != "locked":
                return f"venue {venue!r} timebase is {status.timebase_state or 'unknown'}"
            if status.show_hash_ok is False:
                return f"venue {venue!r} has a different show"
        return None

    # -- commands ----------------------------------------------------------------------------
    def submit(self, payload: bytes, now: float) -> list[Publish]:
        """A signed command from an operator: verdict, and the fan-out when accepted."""
        try:
            verified = self.verifier.verify(payload, now)
        except CommandRejected as exc:
            claims = exc.claims
            self.audit("rejected", local_time=None, shared_time=now, issuer=claims.issuer,
                       command_id=claims.command_id, kind=claims.kind,
                       reason=str(exc.reason_code), detail=exc.message)  # fmt: skip
            return [self._result(claims.command_id, False, f"{exc.reason_code}: {exc.message}")]
        origin = verified.command.get("origin")
        origin = origin if isinstance(origin, str) else None  # who asked: `console:<user>`
        self.audit("received", local_time=None, shared_time=now, issuer=verified.issuer,
                   command_id=verified.command_id, kind=verified.kind, origin=origin)  # fmt: skip
        try:
            command = Command.from_dict(verified.command)
            exec_at = self._exec_at(command, now)
            self._check(command, exec_at)
        except CommandError as exc:
            self.audit("rejected", local_time=None, shared_time=now, issuer=verified.issuer,
                       command_id=verified.command_id, kind=verified.kind, reason="refused",
                       detail=str(exc), origin=origin)  # fmt: skip
            return [self._result(verified.command_id, False, str(exc))]
        scheduled = Command(
            kind=command.kind, args=command.args, id=command.id,
            origin=f"{verified.issuer}:{command.origin}", exec_at=exec_at, force=command.force,
        )  # fmt: skip
        self._pending.append((self.tick_for(exec_at), self._order, scheduled))
        self._order += 1
        self.audit("accepted", local_time=None, shared_time=now, issuer=verified.issuer,
                   command_id=command.id, kind=command.kind.value, exec_at=exec_at,
                   origin=command.origin)  # fmt: skip
        envelope = sign(scheduled.as_dict(), self.issuer, self._key, now, EXEC_TTL_S, new_nonce())
        return [
            Publish(self.topics.cmd_exec, envelope),
            self._result(command.id, True, None, exec_at),
        ]

    def _exec_at(self, command: Command, now: float) -> float:
        if command.kind is CommandKind.BLACKOUT:
            return now
        lead = self.lead_s()
        if command.exec_at is None:
            return now + lead
        if command.exec_at < now + LEAD_MIN_S:
            raise CommandError(
                f"exec_at is {command.exec_at - now:+.3f} s from now: the venues need at least "
                f"{LEAD_MIN_S:.3f} s to hear it (the slowest needs {lead:.3f} s)"
            )
        return command.exec_at

    def _check(self, command: Command, exec_at: float) -> None:
        if command.kind is CommandKind.ADOPT:
            raise CommandError("adopt is the venues' own command, not an operator's")
        starts = command.kind is CommandKind.ARM or (
            command.kind is CommandKind.GO and self.playback.state is PlayState.ARMED
        )
        if starts and not command.force:
            why = self._start_gate()
            if why is not None:
                raise CommandError(f"new start refused: {why} (force it with --force)")
        trial = copy.deepcopy(self.playback)
        tick = self.tick_for(exec_at)
        for at, _, pending in sorted(self._pending):
            trial.apply(pending, at, at)
        result = trial.apply(command, tick, tick)
        if not result.accepted:
            raise CommandError(result.message)

    def _result(
        self,
        command_id: str | None,
        accepted: bool,
        reason: str | None,
        exec_at: float | None = None,
    ) -> Publish:
        result = bus.CommandResult(
            id=(command_id or "?")[:128], accepted=accepted,
            reason=None if reason is None else reason[:1024], exec_at=exec_at,
        )  # fmt: skip
        return Publish(self.topics.cmd_result, bus.encode(result))

    # -- the show, on the grid -----------------------------------------------------------------
    def advance(self, now: float, *, local: float | None = None) -> list[Publish]:
        """Execute what is due by `now`, and the state to publish when it changed or aged."""
        tick = self.tick_for(now) - 1  # the last tick due at or before now
        due = sorted(p for p in self._pending if p[0] <= tick)
        self._pending = [p for p in self._pending if p[0] > tick]
        for at, _, command in due:
            result = self.playback.apply(command, at, at)
            self.audit("executed", local_time=local, shared_time=self.epoch + at / self.show.fps,
                       issuer=command.origin.split(":")[0], command_id=command.id,
                       kind=command.kind.value, exec_at=command.exec_at,
                       origin=command.origin.partition(":")[2] or None,
                       detail=result.message if result.accepted else f"refused: {result.message}")  # fmt: skip
        self.playback.update(tick)
        version = self.playback.version
        if version != self._published_version or now - self._published_at >= STATE_EVERY_S:
            self._published_version, self._published_at = version, now
            return [Publish(self.topics.state, bus.encode(self.state(now)), retain=True)]
        return []

    def state(self, now: float) -> bus.ShowState:
        snap = self.playback.snapshot(self.tick_for(now) - 1)
        content = self.show.content
        return bus.ShowState(
            show_id=self.show.show_id, content_hash=content.digest, files=content.parts,
            state=snap.state.value, anchor_frame=snap.anchor_frame, anchor_tick=snap.anchor_tick,
            epoch=self.epoch, fps=self.show.fps, version=snap.version, blackout=snap.blackout,
            master=snap.master, conductor=self.node, issued_at=now,
        )  # fmt: skip
