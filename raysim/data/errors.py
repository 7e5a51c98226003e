"""The error of a data setting that the data cannot satisfy."""

from __future__ import annotations


class DataConfigError(ValueError):
    """A `data.*` value the data contradicts (held-out speakers with no rows, more
    clients than speakers, a fold that does not exist): a user error, so the command
    line prints its message, naming the key, in one line (`raysim.user_errors`)."""
