"""Shared test configuration: hypothesis profiles.

`ci` (the default) runs 200 examples per property without a deadline; `dev` (selected by
`FAST=1`) runs 20, for a quick local loop. Heavy properties cap their own `max_examples`
with `settings(max_examples=min(N, settings().max_examples))`, so `FAST=1` still
shrinks them.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", max_examples=200, deadline=None)
settings.register_profile("dev", max_examples=20, deadline=None)
settings.load_profile("dev" if os.environ.get("FAST") == "1" else "ci")
