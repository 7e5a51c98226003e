"""Schedules measured in rounds: given as a number of rounds or as a fraction of the run.

A schedule length (an lr step, a cosine period, a threshold ramp) is either an integer,
a number of rounds, or a decimal in (0, 1], a fraction of the config's `rounds` (so a
0.6 ramp stays 60 % of the run when `rounds` changes). A schedule given in rounds that
does not fit the run (an lr step the run never reaches, a ramp that ends after it) is
allowed, with a :class:`ScheduleWarning` naming the key and the numbers. Torch-free.
"""

from __future__ import annotations

import warnings
from typing import Annotated

from pydantic import AfterValidator


class ScheduleWarning(UserWarning):
    """A schedule given in rounds that does not fit the run's `rounds`."""


def _check_span(value: int | float) -> int | float:
    if isinstance(value, float) and not 0 < value <= 1:
        raise ValueError(
            f"{value} is neither a number of rounds (an integer) nor a fraction of the "
            "run (a decimal in (0, 1])"
        )
    if isinstance(value, int) and value < 1:
        raise ValueError(f"a number of rounds must be >= 1 (got {value})")
    return value


#: rounds (int >= 1) or a fraction of the run's rounds (float in (0, 1])
RoundSpan = Annotated[int | float, AfterValidator(_check_span)]


def span_rounds(span: int | float, rounds: int) -> int:
    """`span` in rounds: an integer as it is, a fraction times `rounds` (at least 1)."""
    if isinstance(span, float):
        return max(1, round(span * rounds))
    return span


def warn_schedule(key: str, message: str) -> None:
    """Warn (`ScheduleWarning`) that the schedule at config key `key` does not fit."""
    warnings.warn(f"{key}: {message}", ScheduleWarning, stacklevel=3)
