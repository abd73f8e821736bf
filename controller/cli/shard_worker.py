"""L8 `--shards N`: the shard process, and `citypulse run` played by shards.

A shard process (`main`) loads the show, compiles and patches only its fixtures, opens
only its outputs, and plays them on the venue's frame grid; commands and the stop come
from the coordinator (`controller.runtime.shard_session.ShardedSession`) over a pipe, and
its figures go back the same way.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

from controller.cli.play_options import tap_target
from controller.clock import Clock, MonotonicClock, SkewedClock, wall_minus_monotonic
from controller.errors import ArgumentError
from controller.outputs.factory import build_outputs, udp_sinks
from controller.outputs.routing import Route, plan_routes
from controller.render.effects import default_registry
from controller.runtime.commands import Command, CommandKind
from controller.runtime.engine import EngineStats, plan_playback
from controller.runtime.grid import FrameGrid, LocalGrid
from controller.runtime.heap import freeze_heap
from controller.runtime.job import VenueJob, pick_venue, resolve_time
from controller.runtime.session import SessionOptions, VenueSession
from controller.runtime.shard_grid import BoardGrid, MapBoard
from controller.runtime.shard_session import ShardedSession, ShardSpec
from controller.runtime.shards import (
    partition,
    restrict_routes,
    shard_job,
    source_suffix,
)
from controller.runtime.shared_grid import SharedGrid
from controller.show.load import load_show
from controller.show.rig import Protocol

__all__ = [
    "main",
    "run_sharded",
    "shard_specs",
    "venue_shards",
]

STATS_PERIOD_S = 0.1
BOARD_WAIT_S = 30.0
READY_WAIT_S = 60.0


# -- the shard process ----------------------------------------------------------------------
def main(spec: ShardSpec, conn: Connection) -> None:
    """Entry point of a shard process (spawned by `ShardedSession`)."""
    try:
        _play(spec, conn)
    except BaseException as exc:  # reported to the coordinator, never silently lost
        with contextlib.suppress(OSError):
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


def _grid(spec: ShardSpec, clock: Clock) -> FrameGrid:
    if spec.board is None:
        return LocalGrid(epoch=spec.epoch, fps=spec.fps)
    grid = BoardGrid(epoch=spec.epoch, fps=spec.fps, board=MapBoard(spec.board))
    waited = clock.now() + BOARD_WAIT_S
    while not grid.ready:
        if clock.now() > waited:
            raise RuntimeError("no clock map from the coordinator")
        clock.wait_until(clock.now() + 0.01)
    return grid


def _session(spec: ShardSpec, clock: Clock) -> VenueSession:
    loaded = load_show(Path(spec.show), default_registry())
    job = shard_job(loaded, spec.venue, spec.universes)
    protocol = None if spec.output == "rig" else Protocol(spec.output)
    whole = plan_routes(loaded.venues[spec.venue], protocol=protocol, target=spec.target)
    routes = restrict_routes(whole, spec.universes)
    first = loaded.venues[spec.venue].universes[0]
    if spec.tap is not None and first in spec.universes:  # as `run --tap`: Art-Net, universe 0
        host, port = spec.tap
        routes.append(Route(protocol=Protocol.ARTNET, universes=(first,), wire=(0,), host=host,
                            port=port))  # fmt: skip
    outputs = build_outputs(
        routes,
        job.patch.universes,
        venue=spec.venue,
        show_name=loaded.show.name + source_suffix(spec.index, spec.count),
        clock=clock,
        fps=job.plan.fps,
        sinks=udp_sinks(spec.interface),
        venue_plan=(job.plan, job.patch),
        wall_offset=wall_minus_monotonic(),
    )
    return VenueSession(job, spec.session, clock=clock, outputs=outputs, grid=_grid(spec, clock))


def _play(spec: ShardSpec, conn: Connection) -> None:
    clock: Clock = MonotonicClock()
    if spec.clock_skew is not None:  # the coordinator's simulated clock (tests, benchmarks)
        offset, drift, start = spec.clock_skew
        clock = SkewedClock(clock, offset_s=offset, drift_ppm=drift, start=start)
    session = _session(spec, clock)
    engine = session.engine
    freeze_heap()
    session.start()
    started = clock.now() + READY_WAIT_S
    while engine.statistics().frames_sent == 0:  # ready = playing (warmed up, on the grid)
        if not session.player.running or clock.now() > started:
            raise RuntimeError(f"the shard's player did not deliver a frame: {session.report()}")
        clock.wait_until(clock.now() + 0.005)
    conn.send(("stats", (engine.statistics(), engine.outcomes())))
    conn.send(("ready", None))
    stop_tick: int | None = None
    next_stats = clock.now()
    while session.player.running:
        near = stop_tick is not None and engine.snapshot().tick >= stop_tick - 3
        if conn.poll(0.002 if near else 0.02):
            try:
                kind, payload = conn.recv()
            except EOFError:  # the coordinator is gone: stop at the next frame
                session.stop()
                break
            if kind == "cmd":
                session.submit(payload)
            elif kind == "stop_at":
                tick = session.grid.tick_for(payload)
                stop_tick = tick if stop_tick is None else min(stop_tick, tick)
        if stop_tick is not None and engine.snapshot().tick >= stop_tick - 1:
            session.stop()  # the stop frame goes out on `stop_tick`, as in every shard
        now = clock.now()
        if now >= next_stats:
            conn.send(("stats", (engine.statistics(), engine.outcomes())))
            next_stats = now + STATS_PERIOD_S
    session.finish()
    conn.send(("stats", (engine.statistics(), engine.outcomes())))
    conn.send(("report", session.report()))


# -- `citypulse run --shards N` ---------------------------------------------------------
def shard_specs(
    *, show: Path, venue: str, parts: list[tuple[int, ...]], args: argparse.Namespace,
    session: SessionOptions, epoch: float, fps: int, board: str | None,
    clock_skew: tuple[float, float, float] | None = None,
) -> list[ShardSpec]:  # fmt: skip
    own = dataclasses.replace(session, arm=False, auto_go=False, duration=None)
    return [
        ShardSpec(
            show=str(show), venue=venue, index=k, count=len(parts), universes=part,
            output=args.output, target=args.target, interface=args.interface, session=own,
            epoch=epoch, board=board, fps=fps, clock_skew=clock_skew,
            tap=tap_target(getattr(args, "tap", None)),
        )
        for k, part in enumerate(parts)
    ]  # fmt: skip


def run_sharded(args: argparse.Namespace, session: SessionOptions) -> dict[str, Any]:
    """Play `citypulse run` as `args.shards` processes; returns the merged report."""
    from controller.cli.run_cmd import _drive

    loaded = load_show(args.show, default_registry())
    venue = pick_venue(loaded, args.venue)
    twin = loaded.venues[venue]
    protocol = None if args.output == "rig" else Protocol(args.output)
    try:
        routes = plan_routes(twin, protocol=protocol, target=args.target)
    except ValueError as exc:
        raise ArgumentError("--target", str(exc)) from exc
    if not routes:
        raise ArgumentError("--output", f"venue {venue!r} has no outputs in its rig")
    seek = None
    if args.start:
        seek = Command(kind=CommandKind.SEEK, args=(resolve_time(args.start, loaded, "--from"),),
                       origin="session")  # fmt: skip
    clock = MonotonicClock()
    fps = loaded.show.fps
    parts = partition(twin, args.shards)
    specs = shard_specs(show=args.show, venue=venue, parts=parts, args=args, session=session,
                        epoch=clock.now(), fps=fps, board=None)  # fmt: skip
    sharded = ShardedSession(
        specs, worker=main, clock=clock, grid=LocalGrid(epoch=specs[0].epoch, fps=fps),
        options=session, venue=venue,
    )  # fmt: skip
    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    try:
        sharded.start(seek)
        _drive(sharded, interactive)  # type: ignore[arg-type]
    finally:
        if not sharded.finish():
            sys.stderr.write("citypulse run: a shard did not stop cleanly\n")
    return sharded.report()


# -- `citypulse venue --shards N` ---------------------------------------------------------
def venue_shards(args: argparse.Namespace) -> Callable[..., VenueSession]:
    """A session factory for `VenueNode`: the shards play, this process keeps the bus.

    The venue's `SharedGrid` stays here, steered by the timebase; each map it is given is
    published on a `MapBoard` the shards read their deadlines from.
    """

    def make(
        job: VenueJob, options: SessionOptions, *, clock: Clock, outputs: object,
        grid: SharedGrid, on_frame: object = None,
    ) -> VenueSession:  # fmt: skip
        del outputs, on_frame  # each shard opens its own outputs; looks come from no shard
        board = MapBoard()
        skew = (
            (clock.offset_s, clock.drift_ppm, clock.start)
            if isinstance(clock, SkewedClock)
            else None
        )
        specs = shard_specs(
            show=args.show, venue=job.plan.venue, parts=partition(job.plan.twin, args.shards),
            args=args, session=options, epoch=grid.epoch, fps=grid.fps, board=board.name,
            clock_skew=skew,
        )  # fmt: skip
        plan = job.plan
        idle = plan_playback(plan)
        placeholder = EngineStats(
            frames_sent=0, frames_dropped=0, late_frames=0, max_late_ms=0.0, blackout_frames=0,
            output_failures=0, playback=idle.snapshot(0), outputs=(),
        )  # fmt: skip
        session = ShardedSession(
            specs, worker=main, clock=clock, grid=grid, options=options, venue=plan.venue,
            board=board, wait_on_start=False, placeholder=placeholder,
        )  # fmt: skip
        return cast(VenueSession, session)  # duck-typed: what VenueNode uses of a session

    return make
