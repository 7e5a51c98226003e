"""Warnings about a run's output: what a finished table would otherwise hide.

- :class:`StuckMetrics`: an evaluation metric that has not changed for `patience`
  rounds (a model stuck on one class scores UAR exactly 1/num_classes, round after
  round). It keeps one (value, since round) pair per metric, so it costs the same for
  any population and is fed each round record as it arrives.
- at the end, the task's own checks (`TaskParams.run_warnings`: e.g. a semi-supervised
  run that made no pseudo-label).

Both warn with :class:`RunWarning` and return the messages (kept in the result).
Torch-free: runs on the driver.
"""

from __future__ import annotations

import warnings
from typing import Any

from raysim.metric_counts import DEFINED_SUFFIX, N_ITEMS
from raysim.round_record import EVAL_PREFIX

#: evaluation keys that describe the held-out data or a share that may rightly stay put
#: (an SE model that never returns its input keeps ``unchanged_frac`` at 0), not the
#: model's score: never "stuck"
_NOT_SCORES = (N_ITEMS, "unchanged_frac")


class RunWarning(UserWarning):
    """A run whose output looks wrong: a metric stuck, a method that did nothing."""


def warn_run(message: str) -> str:
    """Warn with `message` (`RunWarning`) and return it."""
    warnings.warn(message, RunWarning, stacklevel=2)
    return message


def _is_score(key: str) -> bool:
    """Whether round-record `key` is a score of the model (not of the unprocessed input,
    a count of defined items, or the held-out size), which a healthy run moves."""
    if not key.startswith(EVAL_PREFIX):
        return False
    name = key.removeprefix(EVAL_PREFIX)
    return not (name.startswith("input_") or name.endswith(DEFINED_SUFFIX) or name in _NOT_SCORES)


class StuckMetrics:
    """Watches the evaluation metrics of successive round records.

    Args:
        patience: rounds a metric may keep exactly the same value before a warning
            (0: never warn). A metric warns once per stretch at one value.
    """

    def __init__(self, patience: int = 100):
        self.patience = patience
        self._held: dict[str, tuple[float, int]] = {}  # metric -> (value, first round at it)
        self._warned: set[str] = set()
        self.messages: list[str] = []

    def update(self, record: dict[str, Any]) -> None:
        """Feed one flat round record (`RoundRecord.to_dict`); warns when metrics turn
        stuck, all of them in one message."""
        if not self.patience:
            return
        rnd, stuck = record["round"], []
        for key, value in record.items():
            if not _is_score(key) or not isinstance(value, int | float):
                continue
            held = self._held.get(key)
            if held is None or held[0] != value:  # NaN never equals: never stuck
                self._held[key] = (value, rnd)
                self._warned.discard(key)
            elif rnd - held[1] >= self.patience and key not in self._warned:
                self._warned.add(key)
                stuck.append(f"{key} = {value:.6g} since round {held[1]}")
        if stuck:
            self.messages.append(
                warn_run(
                    f"round {rnd}: evaluation metrics unchanged for {self.patience}+ rounds: "
                    f"{', '.join(stuck)} (a model predicting one class scores "
                    "UAR = 1/num_classes)"
                )
            )
