"""Load a sweep's experiment directory into pandas: one row per trial, one per round.

Each trial's full simulation config is rebuilt from the saved sweep (base config
+ the trial's sampled values) and flattened into ``config/<dotted key>`` columns,
so results can be grouped by any config key, swept directly or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from raysim.config import parse_config
from raysim.dotted import flatten
from raysim.sweep.runner import saved_sweep
from raysim.sweep.space import apply, describe
from raysim.sweep.spec import Sweep

CONFIG = "config/"
# Per-round columns kept in the history (besides every eval_* metric).
_ROUND_COLUMNS = (
    "round", "sampled", "reporting", "dropped", "rejected", "lr", "train_loss",
    "bytes_down", "bytes_up", "wall_s", "eval_round", "node_id", "timestamp",
)  # fmt: skip


@dataclass
class Experiment:
    """A sweep's results.

    Attributes:
        path: the experiment directory.
        sweep: the sweep it ran.
        trials: one row per trial: ``trial_id``, ``status``, ``node_id``, ``rounds``
            (rounds reported), the final ``eval_*`` metrics (latest evaluation),
            ``bytes`` (total communicated), ``wall_s`` and ``config/<key>`` columns:
            every key of the resolved config, and each swept section as one cell.
        history: one row per (trial, round) with the round records.
    """

    path: Path
    sweep: Sweep
    trials: pd.DataFrame
    history: pd.DataFrame

    @property
    def metric(self) -> str:
        return self.sweep.spec.tune.metric

    @property
    def mode(self) -> str:
        return self.sweep.spec.tune.mode

    def label(self, key: str) -> str:
        """A config key's display name (report.labels, else the key)."""
        return self.sweep.spec.report.labels.get(key, key)

    def varying_keys(self) -> list[str]:
        """Swept keys whose values differ between trials, replicate keys (seeds) excluded:
        what tells one configuration from another."""
        replicates = set(self.sweep.spec.report.replicates)
        keys = [d.key for d in self.sweep.dims if d.key not in replicates]
        return [k for k in keys if self.trials[CONFIG + k].astype(str).nunique() > 1]


def _history(trial_id: str, frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty or "round" not in frame:
        return pd.DataFrame()
    keep = [c for c in frame.columns if c in _ROUND_COLUMNS or c.startswith("eval_")]
    rounds = frame[keep].dropna(subset=["round"])
    # a trial resumed from a checkpoint reports its last rounds again: keep the latest
    rounds = rounds.drop_duplicates(subset="round", keep="last").sort_values("round")
    return rounds.assign(trial_id=trial_id, round=rounds["round"].astype(int))


def _trial_row(sweep: Sweep, trial: Any, history: pd.DataFrame) -> dict[str, Any]:
    config = parse_config(apply(sweep.spec.config, trial.config)).model_dump(mode="json")
    row: dict[str, Any] = {"trial_id": trial.trial_id, "status": trial.status}
    if not history.empty:
        last = history.iloc[-1]
        row.update({k: last[k] for k in history.columns if k.startswith("eval_")})
        row.update(
            node_id=last.get("node_id"),
            rounds=int(last["round"]),
            bytes=float(history[["bytes_down", "bytes_up"]].sum().sum()),
            wall_s=float(history["wall_s"].sum()),
        )
    # one cell per value: lists (and empty sections) as text
    cells = {k: str(v) if isinstance(v, list | dict) else v for k, v in flatten(config).items()}
    row.update({CONFIG + k: v for k, v in cells.items()})
    row.update({CONFIG + k: describe(v) for k, v in trial.config.items() if isinstance(v, dict)})
    return row


def load_experiment(path: str | Path) -> Experiment:
    """Read an experiment directory written by :func:`raysim.sweep.run_sweep`."""
    from ray.tune import ExperimentAnalysis

    path = Path(path).expanduser().resolve()
    sweep = saved_sweep(path)
    analysis = ExperimentAnalysis(str(path))
    frames = analysis.trial_dataframes
    histories, rows = [], []
    for trial in sorted(analysis.trials, key=lambda t: t.trial_id):
        history = _history(trial.trial_id, frames.get(trial.trial_id, pd.DataFrame()))
        histories.append(history)
        rows.append(_trial_row(sweep, trial, history))
    history = pd.concat(histories, ignore_index=True) if histories else pd.DataFrame()
    return Experiment(path, sweep, pd.DataFrame(rows), history)
