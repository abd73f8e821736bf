"""Whether this host lets a test share UDP 6454, the Art-Net port (Art-Net 4: both ends)."""

from __future__ import annotations

import errno
import socket

ARTNET_PORT = 6454


def port_6454_can_be_shared() -> bool:
    """False when another program holds UDP 6454 without SO_REUSEADDR (or it needs root)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", ARTNET_PORT))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True
