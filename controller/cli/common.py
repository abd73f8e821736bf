"""L8 CLI helpers: re-exports of the venue job tools the commands share."""

from controller.runtime.job import ArgumentError, VenueJob, load_venue, pick_venue, resolve_time

__all__ = ["ArgumentError", "VenueJob", "load_venue", "pick_venue", "resolve_time"]
