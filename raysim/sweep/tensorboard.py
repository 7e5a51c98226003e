"""A sweep's TensorBoard files, written at a cost the sweep driver can afford per round.

Tune's `TBXLoggerCallback` writes each reported value as an event of its own (a
queue hand-off to the writer's thread each) and flushes the file, an fsync, after
every result: about 6 ms of the sweep driver per result here (~30 values a round),
and every trial waits on the driver at each report. This logger writes the same
tags (``ray/tune/<key>``) and the same hyperparameter summary at the trial's end,
but a result's scalars as one event, and leaves flushing to the writer (every 30 s)
and the trial's end.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

from ray.air.constants import TRAINING_ITERATION
from ray.tune.logger import TBXLoggerCallback
from ray.tune.result import TIME_TOTAL_S, TIMESTEPS_TOTAL
from ray.tune.utils import flatten_dict

#: result keys Tune's logger leaves out of TensorBoard too
_NOT_LOGGED = ("config", "pid", "timestamp", TIME_TOTAL_S, TRAINING_ITERATION)


def scalars(result: dict[str, Any]) -> dict[str, float]:
    """The result's numbers, flattened and tagged ``ray/tune/<key>``; NaN and what is
    not a number are skipped (as Tune's logger does)."""
    flat = flatten_dict({k: v for k, v in result.items() if k not in _NOT_LOGGED}, delimiter="/")
    return {
        f"ray/tune/{key}": float(value)
        for key, value in flat.items()
        if isinstance(value, Real) and not math.isnan(value)
    }


class TensorBoardLogger(TBXLoggerCallback):
    """Tune's TensorBoard logger (one events file per trial folder, hparams at the end)
    writing each result as one event, unflushed."""

    def log_trial_result(self, iteration: int, trial: Any, result: dict[str, Any]) -> None:
        from tensorboardX.proto.summary_pb2 import Summary

        if trial not in self._trial_writer:
            self.log_trial_start(trial)
        values = scalars(result)
        summary = Summary(value=[Summary.Value(tag=t, simple_value=x) for t, x in values.items()])
        step = result.get(TIMESTEPS_TOTAL) or result[TRAINING_ITERATION]
        self._trial_writer[trial]._get_file_writer().add_summary(summary, global_step=step)
        self._trial_result[trial] = values  # what the trial's end logs beside its hparams
