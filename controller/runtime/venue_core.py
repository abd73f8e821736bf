"""L7 a venue's bus logic, sans I/O: its timebase, the conductor's state and commands, its status.

Rules:
- Time is an argument: `local` is this host's monotonic clock (the player's), shared times
  come from the conductor. The shell reads the clock, feeds messages in, publishes what
  comes back and starts the player once `ready`.
- Time exchanges (RFC 5905 §8: T1 and T4 local, T2 and T3 shared) feed the `Timebase`;
  after each one the disciplined clock map is steered and handed to the shared grid, so the
  output thread's next deadline uses it.
- The retained `state` is checked first for the show: a content hash that differs from ours
  means a different show, and this venue refuses to play (`mismatch` names each part). Our
  content may come after the state (the show loads while the bus connects): the check runs
  when both are known, and the venue is not `ready` before.
- A newer state whose anchor disagrees with what this venue's playback shows is adopted
  (a late join, or a command this venue missed while cut off); one that agrees changes
  nothing. Blackout and master follow the state too.
- Commands come only from the conductor (`cmd/exec`), signed; each is submitted to the
  session with its `exec_at`, so every venue executes it on the same tick. A BLACKOUT has
  no lead: it executes on this venue's next frame.
- Anything malformed is logged with why and dropped; the show keeps playing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from controller.protocols import bus
from controller.protocols.signing import CommandRejected, Verifier
from controller.runtime.commands import Command, CommandError, CommandKind
from controller.runtime.content import ShowContent, differences
from controller.runtime.playback import PlaybackSnapshot
from controller.runtime.shared_grid import SharedGrid, TrustedClockMap
from controller.sync.exchange import Exchange
from controller.sync.timebase import Timebase, TimebaseState

__all__ = ["VenueCore", "VenueHealth"]

_log = logging.getLogger("citypulse.venue")


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueHealth:
    """What the session reports for the status message (read by the bus thread)."""

    snapshot: PlaybackSnapshot | None
    frames_dropped: int
    outputs_ok: bool


AuditFn = Callable[..., None]


class VenueCore:
    def __init__(
        self,
        *,
        venue: str,
        show_id: str,
        content: ShowContent | None,
        verifier: Verifier,
        timebase: Timebase,
        trust_os_clock: TrustedClockMap | None = None,
        audit: AuditFn | None = None,
    ) -> None:
        self.venue = venue
        self.topics = bus.Topics(show_id)
        self.content = content
        self.verifier = verifier
        self.timebase = timebase
        self.trusted = trust_os_clock
        self.audit = audit or (lambda event, **fields: None)
        self.state: bus.ShowState | None = None
        self.mismatch: list[str] = []
        self.grid: SharedGrid | None = None
        self.submit: Callable[[Command], None] | None = None  # the session's, once it plays
        self._seq = 0
        self._sent: dict[int, float] = {}  # seq -> T1 of requests in flight
        self.alarm: str | None = None  # --trust-os-clock: the estimate disagrees

    # -- timebase ----------------------------------------------------------------------------
    def time_request(self, local: float) -> tuple[str, bytes]:
        self._seq += 1
        self._sent[self._seq] = local
        if len(self._sent) > 64:  # answers that never came
            del self._sent[min(self._sent)]
        request = bus.TimeRequest(node=self.venue, seq=self._seq, t1=local)
        return self.topics.time_req(self.venue), bus.encode(request)

    def time_response(self, payload: bytes, local: float) -> None:
        try:
            response = bus.decode(bus.TimeResponse, payload)
        except bus.BusPayloadError as exc:
            _log.warning("time response dropped: %s", exc.reason)
            return
        t1 = self._sent.pop(response.seq, None)
        if t1 is None or t1 != response.t1:
            return  # not ours, or a duplicate
        exchange = Exchange(t1=t1, t2=response.t2, t3=response.t3, t4=local)
        why = self.timebase.add_exchange(exchange)
        if why is not None:
            _log.info("time exchange not used: %s", why)
        self.steer(local)

    def steer(self, local: float) -> None:
        """Hand the grid the current map (the trusted OS clock, or the disciplined estimate)."""
        clock_map = self.timebase.clock_map(local)
        if self.trusted is not None:
            if clock_map is not None:
                gap = abs(clock_map.shared(local) - self.trusted.shared(local))
                bound = self.timebase.snapshot(local).map_error_bound_s or 0.0
                self.alarm = (
                    f"the OS clock and the bus estimate disagree by {gap * 1e3:.1f} ms"
                    if gap > max(bound, 0.002)
                    and self.timebase.state(local) is TimebaseState.LOCKED
                    else None
                )
            if self.grid is not None:
                self.grid.set_map(self.trusted)
            return
        if clock_map is not None and self.grid is not None:
            self.grid.set_map(clock_map)

    def locked(self, local: float) -> bool:
        if self.trusted is not None:
            return True
        return self.timebase.state(local) is TimebaseState.LOCKED

    # -- the conductor's state ------------------------------------------------------------------
    def on_state(self, payload: bytes, local: float, health: VenueHealth | None) -> None:
        try:
            state = bus.decode(bus.ShowState, payload)
        except bus.BusPayloadError as exc:
            _log.warning("show state dropped: %s", exc.reason)
            return
        if self.state is not None and (state.epoch, state.version) < (
            self.state.epoch,
            self.state.version,
        ):
            return  # an older state delivered late, or the old timeline of a restarted conductor
        self.state = state
        self._check_content()
        if self.grid is not None and self.grid.epoch != state.epoch:
            # A conductor that started a new timeline (it did not find the old one's state):
            # ticks are numbered from another epoch. The node ends this session and joins anew.
            _log.warning("the conductor started a new timeline (epoch %s): joining it", state.epoch)
            self.grid = None
            self.submit = None
        if self.grid is None:
            self.grid = SharedGrid(epoch=state.epoch, fps=state.fps)
            self.steer(local)
        if self.submit is not None and not self.mismatch:
            self._follow(state, health)

    def set_content(self, content: ShowContent) -> None:
        """Our show's content, once loaded: checked against the state if one came first."""
        self.content = content
        self._check_content()

    def _check_content(self) -> None:
        state, content = self.state, self.content
        if state is None or content is None:
            return
        if state.content_hash != content.digest:
            self.mismatch = differences(content.parts, state.files) or ["content hash differs"]
        else:
            self.mismatch = []

    @property
    def ready(self) -> bool:
        """Ready to play: our show loaded, the state says it is the conductor's, and the
        grid has a clock map."""
        return (
            self.state is not None
            and self.content is not None
            and not self.mismatch
            and self.grid is not None
            and (self.grid.ready)
        )

    def joining_commands(self) -> list[Command]:
        """What puts a new session where the conductor's show is (late join)."""
        assert self.state is not None
        return self._adopt(self.state)

    def _adopt(self, state: bus.ShowState) -> list[Command]:
        commands = []
        if state.state != "loaded":
            commands.append(Command(kind=CommandKind.ADOPT, origin="state",
                                    args=(state.state, state.anchor_frame, state.anchor_tick)))  # fmt: skip
        commands.append(Command(kind=CommandKind.BLACKOUT, args=(state.blackout,), origin="state"))
        commands.append(Command(kind=CommandKind.MASTER, args=(state.master,), origin="state"))
        return commands

    def _follow(self, state: bus.ShowState, health: VenueHealth | None) -> None:
        snap = health.snapshot if health is not None else None
        if snap is None or self.submit is None:
            return
        agrees = (
            snap.state.value == state.state
            and snap.anchor_frame - snap.anchor_tick == state.anchor_frame - state.anchor_tick
            if state.state == "running"
            else snap.state.value == state.state and snap.anchor_frame == state.anchor_frame
        )
        if not agrees and snap.tick > state.anchor_tick:
            _log.warning("following the conductor: %s at frame %d (was %s at %d)",
                         state.state, state.anchor_frame, snap.state.value, snap.frame)  # fmt: skip
            self.audit(
                "adopted", state=state.state, frame=state.anchor_frame, tick=state.anchor_tick
            )
            for command in self._adopt(state):
                self.submit(command)
        elif (snap.blackout, snap.master) != (state.blackout, state.master):
            for command in self._adopt(state)[-2:]:
                self.submit(command)

    # -- commands ------------------------------------------------------------------------------
    def on_exec(self, payload: bytes, shared_now: float, local: float) -> Command | None:
        """A command from the conductor: verified and submitted, or logged and dropped."""
        try:
            verified = self.verifier.verify(payload, shared_now)
            command = Command.from_dict(verified.command)
        except CommandRejected as exc:
            self.audit("rejected", local_time=local, shared_time=shared_now,
                       issuer=exc.claims.issuer, command_id=exc.claims.command_id,
                       kind=exc.claims.kind, reason=str(exc.reason_code), detail=exc.message)  # fmt: skip
            _log.warning("command rejected (%s): %s", exc.reason_code, exc.message)
            return None
        except CommandError as exc:
            self.audit("rejected", local_time=local, shared_time=shared_now,
                       issuer=verified.issuer, command_id=verified.command_id,
                       kind=verified.kind, reason="malformed", detail=str(exc))  # fmt: skip
            _log.warning("command rejected: %s", exc)
            return None
        self.audit("accepted", local_time=local, shared_time=shared_now,
                   issuer=verified.issuer, command_id=command.id, kind=command.kind.value,
                   exec_at=command.exec_at)  # fmt: skip
        if command.kind is CommandKind.BLACKOUT:
            command = Command(kind=command.kind, args=command.args, id=command.id,
                              origin=command.origin, exec_at=None)  # fmt: skip
        if self.submit is not None:
            self.submit(command)
        return command

    # -- status --------------------------------------------------------------------------------
    def status(
        self, local: float, health: VenueHealth | None, join_s: float | None = None
    ) -> tuple[str, bytes]:
        tb = self.timebase.snapshot(local)
        snap = health.snapshot if health is not None else None
        shared = self.grid.to_grid(local) if self.grid is not None and self.grid.ready else None
        status = bus.VenueStatus(
            venue=self.venue,
            online=True,
            timebase_state="locked" if self.trusted is not None else tb.state.value,
            error_bound_ms=None if tb.map_error_bound_s is None else tb.map_error_bound_s * 1e3,
            rtt_ms=None if tb.rtt_s is None else tb.rtt_s * 1e3,
            offset_ms=None if tb.offset_s is None else tb.offset_s * 1e3,
            position_s=None if snap is None else snap.position,
            frame=None if snap is None else snap.frame,
            frames_dropped=0 if health is None else health.frames_dropped,
            show_hash_ok=None if self.state is None or self.content is None else not self.mismatch,
            outputs_ok=None if health is None else health.outputs_ok,
            updated_at=shared,
            join_s=join_s,
        )
        return self.topics.status(self.venue), bus.encode(status)
