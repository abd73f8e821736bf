"""Shared test configuration: hypothesis profiles, and a parse cache of the session's own.

`ci` (the default) runs 200 examples per property without a deadline; `dev` (selected by
`FAST=1`) runs 20, for a quick local loop. Heavy properties cap their own `max_examples`
with `settings(max_examples=min(N, settings().max_examples))`, so `FAST=1` still
shrinks them.
"""

from __future__ import annotations

import os
import tempfile

from hypothesis import settings

from controller.show.yaml_cache import ENV as CACHE_ENV

# Parsed YAML is cached (controller.show.yaml_cache); the tests and every process they start
# share one cache of their own, never the user's, gone with the session.
_CACHE = tempfile.TemporaryDirectory(prefix="citypulse-test-cache-")
os.environ[CACHE_ENV] = _CACHE.name

settings.register_profile("ci", max_examples=200, deadline=None)
settings.register_profile("dev", max_examples=20, deadline=None)
settings.load_profile("dev" if os.environ.get("FAST") == "1" else "ci")
