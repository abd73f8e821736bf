"""L7 runtime: playback state, the frame engine and the real-time player."""
