"""L8 CLI helpers: re-exports of the venue job tools the commands share."""

from controller.errors import ArgumentError
from controller.runtime.job import VenueJob, load_venue, pick_venue, resolve_time

__all__ = ["ArgumentError", "VenueJob", "load_venue", "pick_venue", "resolve_time"]
