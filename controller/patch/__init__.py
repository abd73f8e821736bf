"""L4 patch: rendered attribute frames -> DMX universes of uint8."""
