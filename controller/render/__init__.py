"""L3 numpy frame renderer: pure render of any frame at any time."""
