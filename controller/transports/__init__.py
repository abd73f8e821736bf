"""L6 input transports (async shells): OSC input for operator commands."""
