"""L8 the operator console: a live web page to run the show across cities (see docs/console.md).

`serve_console(show, deployment)` serves it in a thread (for `citypulse demo --console`);
`citypulse console` is the command line.
"""

from controller.console.server import ConsoleOptions, ConsoleServer, RunningConsole, serve_console

__all__ = ["ConsoleOptions", "ConsoleServer", "RunningConsole", "serve_console"]
