"""citypulse test suite."""
