"""L8 benchmarks and generated test cities (measured figures, not timed tests)."""
