"""What every task's params hold (pydantic only: the driver and the aggregator read them
without torch)."""

from __future__ import annotations

from typing import Any

from raysim.registry import Named


class TaskParams(Named):
    """Base of each task's params (`raysim.registry.TASKS`)."""

    def summarize_round(self, counters: dict[str, float]) -> dict[str, float]:
        """The round record's task values from the clients' counters (`ctx.add_metric`),
        summed exactly over the round. Override to report ratios of sums (the accuracy
        of pseudo-labels = correct / made); by default the counters as they are."""
        return dict(counters)

    def run_warnings(self, history: list[dict[str, Any]]) -> list[str]:
        """Messages about a finished run's round records that say it did not do what the
        task is for (a semi-supervised run that made no pseudo-label); the driver warns
        with each. By default none."""
        return []
