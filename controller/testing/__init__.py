"""Test doubles that implement the real interfaces (public: the simulator and tests use them)."""

from controller.testing.clock import ManualClock

__all__ = ["ManualClock"]
