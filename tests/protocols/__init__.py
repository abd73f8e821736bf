"""Tests of the sans-IO wire protocols (controller.protocols)."""
