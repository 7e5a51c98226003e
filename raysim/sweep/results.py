"""Load a sweep's experiment directory into pandas: one row per trial, one per round.

Each trial's full simulation config is rebuilt from the saved sweep (base config
+ the trial's sampled values) and flattened into ``config/<dotted key>`` columns,
so results can be grouped by any config key, swept directly or not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from ray.tune.result import TIMESTAMP

from raysim.config import parse_config
from raysim.dotted import flatten
from raysim.federation import load_federation
from raysim.round_record import DP_PREFIX
from raysim.sweep.runner import saved_sweep
from raysim.sweep.space import apply, describe
from raysim.sweep.spec import Sweep
from raysim.sweep.trainable import EVAL_ROUND, TrialReport

CONFIG = "config/"


@dataclass
class Experiment:
    """A sweep's results.

    Attributes:
        path: the experiment directory.
        sweep: the sweep it ran.
        trials: one row per trial: ``trial_id``, ``status``, ``node_id``, ``rounds``
            (rounds reported), the final ``eval_*`` metrics (latest evaluation), the
            last round's ``dp_*`` values (``dp_epsilon`` spent, ``dp_unit``, ...; with
            differential privacy only),
            ``bytes`` (total communicated), ``wall_s`` and ``config/<key>`` columns:
            every key of the resolved config, and each swept section as one cell.
        history: one row per (trial, round): the trial's report of the round
            (:class:`~raysim.sweep.trainable.TrialReport`: the round record, every
            key of it, with the latest evaluation's ``eval_*`` values,
            ``eval_round`` and ``node_id``), Tune's ``timestamp`` and ``trial_id``.
        federations: per trial id, the federation it trained (its ``federation.json``,
            as :meth:`raysim.federation.Federation.to_dict`), where it saved one.
    """

    path: Path
    sweep: Sweep
    trials: pd.DataFrame
    history: pd.DataFrame
    federations: dict[str, dict[str, Any]] = field(default_factory=dict)

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


# a trial's reports, one per round in round order, each with Tune's timestamp of it
_Reports = list[tuple[TrialReport, Any]]


def _reports(frame: pd.DataFrame) -> _Reports:
    """The reports in a trial's Tune results."""
    if frame.empty or EVAL_ROUND not in frame:
        return []
    rows = frame.dropna(subset=[EVAL_ROUND]).to_dict("records")
    by_round: dict[int, tuple[TrialReport, Any]] = {}
    for row in rows:  # a trial resumed from a checkpoint reports its last rounds again
        report = TrialReport.from_dict(row)
        by_round[report.record.round] = (report, row.get(TIMESTAMP))  # the latest stays
    return [by_round[r] for r in sorted(by_round)]


def _history(trial_id: str, reports: _Reports) -> pd.DataFrame:
    rows = [{**report.to_dict(), TIMESTAMP: time} for report, time in reports]
    return pd.DataFrame(rows).assign(trial_id=trial_id) if rows else pd.DataFrame()


def _trial_row(sweep: Sweep, trial: Any, reports: _Reports) -> dict[str, Any]:
    config = parse_config(apply(sweep.spec.config, trial.config)).model_dump(mode="json")
    row: dict[str, Any] = {"trial_id": trial.trial_id, "status": trial.status}
    if reports:
        last = reports[-1][0]
        records = [report.record for report, _ in reports]
        row.update(last.carried())
        # the privacy spent by the released (last) model: dp_epsilon, dp_unit, ...
        row.update({DP_PREFIX + k: v for k, v in last.record.privacy.items()})
        row.update(
            node_id=last.node_id,
            rounds=last.record.round,
            bytes=float(sum(r.bytes_down + r.bytes_up for r in records)),
            wall_s=float(sum(r.wall_s for r in records)),
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
    histories, rows, federations = [], [], {}
    for trial in sorted(analysis.trials, key=lambda t: t.trial_id):
        reports = _reports(frames.get(trial.trial_id, pd.DataFrame()))
        histories.append(_history(trial.trial_id, reports))
        rows.append(_trial_row(sweep, trial, reports))
        federation = load_federation(trial.path) if trial.path else None
        if federation is not None:
            federations[trial.trial_id] = federation.to_dict()
    history = pd.concat(histories, ignore_index=True) if histories else pd.DataFrame()
    return Experiment(path, sweep, pd.DataFrame(rows), history, federations)
