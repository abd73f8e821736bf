"""L3 compiled kernels: numba when it is installed and allowed, the numpy reference otherwise.

The numpy code paths are the reference; a kernel compiled here must give the very same
bytes (tests/render/test_kernels.py compares them on real shows). Kernels therefore do
only what IEEE-754 rounds exactly alike in both (float32 +, -, *, /, min, max, truncating
casts, in the reference's order of operations, never contracted into a fused
multiply-add); transcendental functions (exp, sin, pow) stay in numpy, whose SIMD
versions numba's libm would not match bit for bit.

Kernels release the GIL (`nogil`) and are cached on disk (`cache=True`, in `__pycache__`
beside this package, or numba's user cache directory when that is not writable), so a
process pays the compile only once per machine.

`CITYPULSE_KERNELS=numpy` in the environment selects the reference paths; `reference()`
does the same for a block of code (tests, `citypulse bench render --kernels numpy`).
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

__all__ = ["AVAILABLE", "enabled", "kernel", "reference", "use"]

F = TypeVar("F", bound=Callable[..., Any])

_numba: Any
try:  # numba is a dependency; its absence is tolerated (the numpy paths run), not expected
    _numba = importlib.import_module("numba")
except ImportError:  # pragma: no cover
    _numba = None
AVAILABLE = _numba is not None

_state = {"on": AVAILABLE and os.environ.get("CITYPULSE_KERNELS", "numba") != "numpy"}


def enabled() -> bool:
    """True when the compiled kernels are in use (checked on every call, so it can change)."""
    return _state["on"]


def use(on: bool) -> None:
    """Switch the compiled kernels on or off for this process (on needs numba)."""
    _state["on"] = bool(on) and AVAILABLE


@contextlib.contextmanager
def reference() -> Iterator[None]:
    """Within the block, every hot path takes its numpy reference code."""
    saved = _state["on"]
    _state["on"] = False
    try:
        yield
    finally:
        _state["on"] = saved


def kernel(fn: F) -> F:
    """Compile `fn` with numba (nopython, nogil, cached on disk); unchanged without numba."""
    if _numba is None:  # pragma: no cover
        return fn
    return cast(F, _numba.njit(cache=True, nogil=True, error_model="numpy")(fn))
