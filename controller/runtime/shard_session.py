"""L7 the coordinator of a sharded venue: shard processes, their commands, their figures.

`ShardedSession` stands where a `VenueSession` stands for `citypulse run` and `citypulse
venue` (start, submit, key, status, report, finish), but renders nothing itself: each
shard is a process (`worker`, given by the CLI) that compiles, renders and sends its own
universes (`controller.runtime.shards`) on the shared frame grid (`shard_grid`).

Rules:
- Every command reaches every shard with the same `exec_at` (a command without one gets
  now + `COMMAND_LEAD_S`: time enough for a pipe to reach every shard before the frame it
  names is prepared), so all execute on the same frame. The opening commands (ARM, SEEK,
  GO, MASTER) go out at `start`, due `START_LEAD_S` after every shard is ready.
- Stopping is scheduled too: every shard sends its stop frame on the same tick.
- Auto-go at a hold is decided here, from shard 0's playback, and sent like any command.
- In lockstep the coordinator's grid is the venue's `SharedGrid`, steered by the bus; each
  map it is given is published on the `MapBoard` the shards read their deadlines from.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from controller.clock import Clock
from controller.runtime.commands import Command, CommandKind, CommandOutcome
from controller.runtime.engine import EngineStats
from controller.runtime.grid import FrameGrid
from controller.runtime.playback import PlaybackSnapshot, PlayState
from controller.runtime.session import SessionOptions, lateness_summary
from controller.runtime.shard_grid import MapBoard

__all__ = ["COMMAND_LEAD_S", "START_LEAD_S", "ShardSpec", "ShardedSession"]

COMMAND_LEAD_S = (
    0.1  # four frames at 40 fps: a pipe takes microseconds, a frame is prepared one ahead
)
START_LEAD_S = 0.5
READY_TIMEOUT_S = 120.0
STATUS_PERIOD_S = 0.1


@dataclass(frozen=True, slots=True, kw_only=True)
class ShardSpec:
    """Everything a shard process needs to play its part (picklable)."""

    show: str
    venue: str
    index: int
    count: int
    universes: tuple[int, ...]
    output: str  # as `citypulse run --output`
    target: str | None
    interface: str | None
    session: SessionOptions
    epoch: float  # the frame grid's epoch (local monotonic, or shared time with a board)
    board: str | None  # MapBoard name in lockstep; None: LocalGrid on `epoch`
    fps: int
    # the coordinator's clock when it is a SkewedClock (tests): (offset_s, drift_ppm, start)
    clock_skew: tuple[float, float, float] | None = None
    tap: tuple[str, int] | None = None  # `--tap`: sent by the shard with the first universe


@dataclass(slots=True)
class _Shard:
    spec: ShardSpec
    process: Any
    conn: Connection
    ready: bool = False
    stats: EngineStats | None = None
    outcomes: tuple[CommandOutcome, ...] = ()
    report: dict[str, Any] | None = None
    error: str | None = None


class _PlayerView:
    """What callers read of a `Player` (`running`, `lateness`, `realtime_status`)."""

    def __init__(self, session: ShardedSession) -> None:
        self._session = session
        self.lateness: list[float] = []
        self.realtime_status = "shards"

    @property
    def running(self) -> bool:
        return self._session.running


class _EngineView:
    """What callers read of an `Engine`: shard 0's playback, every shard's outputs."""

    def __init__(self, session: ShardedSession) -> None:
        self._session = session

    def snapshot(self) -> PlaybackSnapshot | None:
        stats = self._session.shards[0].stats or self._session._placeholder
        return None if stats is None else stats.playback

    def outcomes(self) -> tuple[CommandOutcome, ...]:
        return self._session.shards[0].outcomes

    def statistics(self) -> EngineStats:
        return self._session.merged_stats()


class ShardedSession:
    def __init__(
        self,
        specs: Sequence[ShardSpec],
        *,
        worker: Callable[[ShardSpec, Connection], None],
        clock: Clock,
        grid: FrameGrid,
        options: SessionOptions,
        venue: str,
        board: MapBoard | None = None,
        wait_on_start: bool = True,
        placeholder: EngineStats | None = None,
    ) -> None:
        self.clock, self.grid, self.options = clock, grid, options
        self.venue = venue
        self.board = board
        self.started_at = clock.now()
        ctx = mp.get_context("spawn")  # no threads, locks or sockets of ours in a shard
        self.shards: list[_Shard] = []
        for spec in specs:
            parent, child = ctx.Pipe()
            process = ctx.Process(
                target=worker, args=(spec, child), name=f"shard-{spec.index + 1}", daemon=True
            )
            process.start()
            child.close()
            self.shards.append(_Shard(spec=spec, process=process, conn=parent))
        self.player = _PlayerView(self)
        self.engine = _EngineView(self)
        self._lock = threading.Lock()
        self._stop_at: float | None = None
        self._held_since: float | None = None
        self._auto_go_sent: int | None = None
        self._published: object = None
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._wait_on_start = (
            wait_on_start  # False: `start` returns at once (an event loop calls it)
        )
        self.error: str | None = None
        self._placeholder = placeholder  # what `engine.statistics()` says before any shard did

    # -- commands ----------------------------------------------------------------------
    def _send(self, message: tuple[str, Any]) -> None:
        with self._lock:
            for shard in self.shards:
                if shard.report is None and shard.error is None:
                    try:
                        shard.conn.send(message)
                    except (BrokenPipeError, OSError) as exc:
                        shard.error = f"pipe: {exc}"

    def submit(self, command: Command) -> None:
        """Every shard executes `command` on the same frame (see the module rules)."""
        if command.exec_at is None:
            now = self.grid.to_grid(self.clock.now())
            command = dataclasses.replace(command, exec_at=now + COMMAND_LEAD_S)
        self._send(("cmd", command))

    def _opening(self, at: float) -> list[Command]:
        opts = self.options
        if not opts.arm:
            return []
        out = [Command(kind=CommandKind.ARM, origin="session", exec_at=at)]
        if opts.master != 1.0:
            out.append(Command(kind=CommandKind.MASTER, args=(opts.master,), origin="session",
                               exec_at=at))  # fmt: skip
        if opts.go:
            out.append(Command(kind=CommandKind.GO, origin="session", exec_at=at))
        return out

    # -- running -----------------------------------------------------------------------
    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Until every shard has compiled and opened its outputs (raises if one failed)."""
        deadline = self.clock.now() + timeout
        while not all(s.ready for s in self.shards):
            self._publish_map()  # in lockstep the shards wait for the first map
            self._pump(0.05)
            failed = [s for s in self.shards if s.error]
            if failed:
                raise RuntimeError(f"shard {failed[0].spec.index + 1}: {failed[0].error}")
            if self.clock.now() > deadline:
                raise RuntimeError(f"the shards were not ready within {timeout:g} s")

    def start(self, seek: Command | None = None) -> None:
        """Start playing: opening commands due `START_LEAD_S` after every shard is ready.

        Waits for the shards unless made with `wait_on_start=False` (then a thread does).
        """
        if self._wait_on_start:
            self._begin(seek)
            self._thread = threading.Thread(target=self._run, name="shard-coordinator", daemon=True)
        else:
            self._thread = threading.Thread(
                target=self._begin_and_run, args=(seek,), name="shard-coordinator", daemon=True
            )
        self._thread.start()

    def _begin_and_run(self, seek: Command | None) -> None:
        try:
            self._begin(seek)
        except RuntimeError as exc:
            self.error = str(exc)
            self.stop()
        self._run()

    def _begin(self, seek: Command | None) -> None:
        self.wait_ready()
        at = self.grid.to_grid(self.clock.now()) + START_LEAD_S
        for command in self._opening(at):
            self._send(("cmd", command))
        if seek is not None:
            self._send(("cmd", dataclasses.replace(seek, exec_at=at)))
        if self.options.duration is not None:
            self._stop_at = at + self.options.duration
            self._send(("stop_at", self._stop_at))

    def _run(self) -> None:
        while self.running:
            self._pump(STATUS_PERIOD_S / 4)
            self._publish_map()
            self._auto_go()
        self._done.set()

    def _publish_map(self) -> None:
        current = getattr(self.grid, "clock_map", None)
        if self.board is not None and current is not None and current is not self._published:
            self.board.publish(current)
            self._published = current

    def _pump(self, timeout: float) -> None:
        from multiprocessing.connection import wait

        conns = {s.conn: s for s in self.shards if s.report is None and s.error is None}
        for ready in wait(list(conns), timeout):
            assert isinstance(ready, Connection)
            shard = conns[ready]
            try:
                kind, payload = ready.recv()
            except (EOFError, OSError):
                shard.error = shard.error or "the shard process ended without a report"
                continue
            if kind == "ready":
                shard.ready = True
            elif kind == "stats":
                shard.stats, shard.outcomes = payload
            elif kind == "report":
                shard.report = payload
            elif kind == "error":
                shard.error = str(payload)

    def _auto_go(self) -> None:
        snap = self.engine.snapshot()
        if snap is None or not self.options.auto_go:
            return
        now = self.clock.now()
        if snap.state is PlayState.HELD:
            if self._held_since is None:
                self._held_since = now
            if (
                now - self._held_since >= self.options.hold_wait
                and self._auto_go_sent != snap.version
            ):
                self.submit(Command(kind=CommandKind.GO, origin="auto-go"))
                self._auto_go_sent = snap.version
        else:
            self._held_since = None

    @property
    def running(self) -> bool:
        return any(s.report is None and s.error is None for s in self.shards) and any(
            s.process.is_alive() for s in self.shards
        )

    def stop(self) -> None:
        """Every shard sends its stop frame on the same tick, shortly."""
        at = self.grid.to_grid(self.clock.now()) + COMMAND_LEAD_S
        if self._stop_at is None or at < self._stop_at:
            self._stop_at = at
            self._send(("stop_at", at))

    def wait(self, timeout: float) -> bool:
        """True while still playing (waits up to `timeout` seconds)."""
        return not self._done.wait(timeout if timeout > 0 else 0.001)

    def finish(self, timeout: float = 10.0) -> bool:
        self.stop()
        ended = self._done.wait(timeout)
        for shard in self.shards:
            shard.process.join(max(0.1, timeout / 2))
            if shard.process.is_alive():
                shard.process.kill()
                shard.error = shard.error or "did not stop in time"
        if self.board is not None:
            self.board.close()
            self.board = None
        return ended and all(s.error is None for s in self.shards)

    def run_inline(self) -> None:  # pragma: no cover - refused by the CLI before
        raise RuntimeError("shards play in real time only")

    # -- what the operator sees ----------------------------------------------------------
    def merged_stats(self) -> EngineStats:
        """Shard 0's playback; frames sent by the slowest shard; drops and outputs of all."""
        stats = [s.stats for s in self.shards if s.stats is not None]
        if not stats:
            if self._placeholder is not None:
                return self._placeholder
            msg = "no shard has reported yet"
            raise RuntimeError(msg)
        head = self.shards[0].stats or stats[0]
        return dataclasses.replace(
            head,
            frames_sent=min(x.frames_sent for x in stats),
            frames_dropped=sum(x.frames_dropped for x in stats),
            late_frames=sum(x.late_frames for x in stats),
            max_late_ms=max(x.max_late_ms for x in stats),
            output_failures=sum(x.output_failures for x in stats),
            outputs=tuple(o for x in stats for o in x.outputs),
        )

    def key(self, ch: str) -> bool:
        """One operator key, as `VenueSession.key`, for every shard."""
        if ch == "q":
            self.stop()
            return False
        snap = self.engine.snapshot()
        simple = {"g": CommandKind.GO, " ": CommandKind.GO, "h": CommandKind.HOLD}
        if ch in simple:
            self.submit(Command(kind=simple[ch], origin="keys"))
        elif ch == "b" and snap is not None:
            self.submit(
                Command(kind=CommandKind.BLACKOUT, args=(not snap.blackout,), origin="keys")
            )
        elif ch in ("+", "-") and snap is not None:
            level = min(1.0, max(0.0, round(snap.master + (0.1 if ch == "+" else -0.1), 2)))
            self.submit(Command(kind=CommandKind.MASTER, args=(level,), origin="keys"))
        return True

    def status_text(self) -> str:
        try:
            s = self.merged_stats()
        except RuntimeError:
            return f"{self.venue}: starting {len(self.shards)} shards"
        pb = s.playback
        return (
            f"{self.venue} [{len(self.shards)} shards] {pb.state.value.upper()}"
            f"{' BLACKOUT' if pb.blackout else ''}  t={pb.position:7.2f}s  cue {pb.cue or '-'}  "
            f"master {pb.master:.0%}  sent {s.frames_sent} dropped {s.frames_dropped}"
        )

    def report(self) -> dict[str, Any]:
        """The shape of `VenueSession.report`, merged, with each shard's own under `shards`."""
        reports = [s.report or {} for s in self.shards]
        first = reports[0]
        late = [r.get("lateness_ms", {}) for r in reports]
        out: dict[str, Any] = {
            "venue": self.venue,
            "state": first.get("state", "unknown"),
            "position_s": first.get("position_s", 0.0),
            "frames_sent": min((r.get("frames_sent", 0) for r in reports), default=0),
            "frames_dropped": sum(r.get("frames_dropped", 0) for r in reports),
            "grid": first.get("grid"),
            "late_frames": sum(r.get("late_frames", 0) for r in reports),
            "lateness_ms": {
                k: max((x.get(k, 0.0) for x in late), default=0.0) for k in ("p50", "p99", "max")
            } if any(late) else lateness_summary([]),
            "realtime": ", ".join(sorted({str(r.get("realtime", "?")) for r in reports})),
            "outputs": [
                {**o, "name": f"shard {k + 1}: {o['name']}"}
                for k, r in enumerate(reports)
                for o in r.get("outputs", [])
            ],
            "commands": first.get("commands", []),
            "shards": [
                {"shard": s.spec.index + 1, "universes": [s.spec.universes[0], s.spec.universes[-1]],
                 "count": len(s.spec.universes), **{k: v for k, v in r.items() if k in (
                     "position_s", "frames_sent", "frames_dropped", "drops", "late_frames",
                     "lateness_ms", "error")},
                 "ticks": {c["command"]: c["tick"] for c in r.get("commands", [])}}
                for s, r in zip(self.shards, reports, strict=True)
            ],
        }  # fmt: skip
        errors = [self.error] if self.error else []
        errors += [f"shard {s.spec.index + 1}: {s.error}" for s in self.shards if s.error]
        errors += [f"shard {k + 1}: {r['error']}" for k, r in enumerate(reports) if "error" in r]
        if errors:
            out["error"] = "; ".join(errors)
        return out
