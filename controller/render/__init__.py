"""L3 numpy frame renderer: any frame at any time; deterministic, not re-entrant."""
