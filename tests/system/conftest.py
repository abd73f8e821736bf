"""System test fixtures: the compiled mini venue."""

from __future__ import annotations

import pytest

from controller.runtime.job import VenueJob, load_venue
from tests.runtime.fakes import MINI


@pytest.fixture(scope="session")
def mini() -> VenueJob:
    return load_venue(MINI, "mini")
