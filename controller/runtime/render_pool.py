"""L7 render a stretch of show frames on every core, handed back in order.

`citypulse render` writes an FSEQ file frame after frame; rendering is the costly part and
every frame depends only on the plan and its time (`controller.render.renderer`), so
frames can be rendered anywhere, in any order. Strategy:
- `workers` processes are forked from this one after the venue is compiled: each starts
  with the compiled plan and patch in its memory (copy on write), nothing is loaded twice.
- Frames go in chunks of `chunk` frames; chunk c is rendered by worker c mod workers into
  one of that worker's two slots of a shared ring (an anonymous shared mapping), so a
  worker renders its next chunk while the writer drains the last one. The patch writes
  straight into the ring: no copy between render and the writer.
- The caller reads chunks in order (`chunks()`); a slot goes back to its worker as soon
  as the caller asks for the chunk after it. Memory is the ring, whatever the show length.
- A worker's failure is raised in the caller with its message; closing stops them all.
"""

from __future__ import annotations

import contextlib
import mmap
import multiprocessing as mp
import os
from collections.abc import Iterator
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, Self

import numpy as np
from numpy.typing import NDArray

from controller.compile.plan import VenuePlan
from controller.patch.patcher import Patch
from controller.render.renderer import render

__all__ = ["RenderPool", "render_frames"]

CHUNK = 32
DEPTH = 2  # slots per worker: it renders the next chunks while the writer drains


def render_frames(
    plan: VenuePlan, patch: Patch, first: int, out: NDArray[np.uint8], master: float
) -> None:
    """Render and patch show frames `first`, `first + 1`, ... into the rows of `out`."""
    frame, driven = plan.new_frame(), plan.new_driven()
    rows = len(patch.universes)
    for k in range(out.shape[0]):
        render(plan, plan.render_time(first + k), frame, driven)
        patch.apply(frame, out[k].reshape(rows, -1), master, driven)


def _worker(
    conn: Connection, plan: VenuePlan, patch: Patch, ring: NDArray[np.uint8], master: float
) -> None:  # pragma: no cover - runs in a forked process (tests check its frames)
    try:
        while True:
            task = conn.recv()
            if task is None:
                return
            slot, first, count = task
            render_frames(plan, patch, first, ring[slot, :count], master)
            conn.send(("done", slot))
    except EOFError:
        return
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        os._exit(0)  # a forked child: no atexit, no flushing of the parent's buffers


class RenderPool:
    """Show frames `first .. first + count - 1` of `plan`, rendered by forked workers."""

    def __init__(
        self, plan: VenuePlan, patch: Patch, *, first: int, count: int, master: float,
        workers: int, chunk: int = CHUNK, depth: int = DEPTH,
    ) -> None:  # fmt: skip
        if workers < 1 or chunk < 1:
            msg = f"workers={workers!r} and chunk={chunk!r} must be at least 1"
            raise ValueError(msg)
        self.first, self.count, self.chunk = first, count, chunk
        self.channels = len(patch.universes) * 512
        self.workers = max(1, min(workers, -(-count // chunk)))
        self.depth = depth
        slots = depth * self.workers
        self._map = mmap.mmap(-1, max(1, slots * chunk * self.channels))
        self.ring = np.frombuffer(self._map, np.uint8).reshape(slots, chunk, self.channels)
        ctx = mp.get_context("fork")  # the children start with the compiled plan in memory
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        for w in range(self.workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_worker, args=(child, plan, patch, self.ring, master),
                name=f"render-{w + 1}", daemon=True,
            )  # fmt: skip
            proc.start()
            child.close()
            self._conns.append(parent)
            self._procs.append(proc)

    def _span(self, c: int) -> tuple[int, int]:
        start = c * self.chunk
        return self.first + start, min(self.chunk, self.count - start)

    def _send(self, c: int) -> None:
        if c * self.chunk < self.count:
            w = c % self.workers
            first, n = self._span(c)
            slot = self.depth * w + (c // self.workers) % self.depth
            self._conns[w].send((slot, first, n))

    def chunks(self) -> Iterator[NDArray[np.uint8]]:
        """(frames, channels) blocks in show order; each is valid until the next is asked for."""
        n_chunks = -(-self.count // self.chunk)
        for c in range(min(n_chunks, self.depth * self.workers)):
            self._send(c)
        for c in range(n_chunks):
            conn = self._conns[c % self.workers]
            try:
                kind, value = conn.recv()
            except EOFError as exc:
                msg = f"render worker {c % self.workers + 1} ended unexpectedly"
                raise RuntimeError(msg) from exc
            if kind != "done":
                raise RuntimeError(f"render worker {c % self.workers + 1}: {value}")
            yield self.ring[value, : self._span(c)[1]]
            self._send(c + self.depth * self.workers)  # its slot is free again

    def close(self) -> None:
        for conn in self._conns:
            with contextlib.suppress(BrokenPipeError, OSError):
                conn.send(None)
        for proc in self._procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(1)
        for conn in self._conns:
            conn.close()
        del self.ring
        with contextlib.suppress(BufferError):  # a caller still holds a chunk: it keeps it
            self._map.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
