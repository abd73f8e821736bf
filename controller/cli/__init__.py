"""L8 the `citypulse` command line."""

from controller.cli.app import main

__all__ = ["main"]
