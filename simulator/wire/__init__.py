"""Small wire decoders for simulated devices, written apart from `controller.protocols`.

Each module here reads packets with explicit offsets straight from the standards' packet
tables (ENTTEC DMX USB Pro API 1.44, Art-Net 4, ANSI E1.31-2016, OSC 1.0) and imports
nothing from `controller.protocols`, so an encoding bug in the controller cannot be hidden
by the same bug in the decoder that checks it. Malformed input raises
`controller.errors.Truncated` or `RemoteProtocolError`, never a bare builtin; a decoded DMX
payload (ArtDmx data, E1.31 slots, label 6 slots) never holds more than 512 slots.
"""
