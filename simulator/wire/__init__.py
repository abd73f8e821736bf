"""Small wire decoders for simulated devices, written apart from `controller.protocols`.

Each module here reads packets with explicit offsets straight from the reference tables
(protocols.md §2-§5) and imports nothing from `controller.protocols`, so an encoding bug in
the controller cannot be hidden by the same bug in the decoder that checks it. Malformed
input raises `controller.errors.Truncated` or `RemoteProtocolError`, never a bare builtin.
"""
