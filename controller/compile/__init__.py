"""L2 compile a loaded show against one venue's twin: index arrays, curves, cue times."""
