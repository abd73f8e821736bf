"""Sans-IO wire protocols: Art-Net 4, sACN E1.31, OSC 1.0 and ENTTEC USB Pro framing (L5)."""

from __future__ import annotations

from controller.protocols.datagram import Datagram

__all__ = ["Datagram"]
