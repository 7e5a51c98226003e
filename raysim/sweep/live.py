"""A live view of a sweep: one row per trial with its status, round and latest metric.

On a terminal it redraws a rich table in place; elsewhere (logs, pipes) it prints
one line whenever a trial changes status.
"""

from __future__ import annotations

import math
import time
from typing import Any

from ray import tune
from rich.console import Console
from rich.live import Live
from rich.table import Table

from raysim.privacy import epsilon_text
from raysim.round_record import DP_PREFIX
from raysim.sweep.space import describe
from raysim.sweep.trainable import TrialReport

_REFRESH_S = 0.5
_MAX_ROWS = 24
_ORDER = {"RUNNING": 0, "PENDING": 1, "PAUSED": 2, "ERROR": 3, "TERMINATED": 4}
_EPSILON, _UNIT = DP_PREFIX + "epsilon", DP_PREFIX + "unit"


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(describe(value))


def _params(config: dict[str, Any]) -> str:
    return "  ".join(f"{key.rsplit('.', 1)[-1]}={_short(v)}" for key, v in config.items())


def _private(trials: list) -> bool:
    """Whether any trial has reported privacy spent (a run with a ``privacy:`` section)."""
    return any(_EPSILON in (t.last_result or {}) for t in trials)


class LiveView(tune.Callback):
    """Tune callback drawing the trials table while the sweep runs.

    With differential privacy it also shows each trial's ε spent so far and its unit.

    Args:
        metric: the metric shown: its latest evaluation (the value Tune compares
            trials by), and the trial's best evaluation so far.
        mode: 'max' or 'min', for the best value.
        rounds: rounds per trial (for the progress column).
    """

    def __init__(self, metric: str, mode: str, rounds: int):
        self.metric, self.mode, self.rounds = metric, mode, rounds
        self._console: Console | None = None
        self._live: Live | None = None
        self._drawn = 0.0
        self._start = time.monotonic()
        self._best: dict[str, float] = {}
        self._status: dict[str, str] = {}

    def __getstate__(self) -> dict[str, Any]:
        # Tune saves its callbacks with the experiment; the terminal objects stay behind
        return {**self.__dict__, "_console": None, "_live": None}

    @property
    def console(self) -> Console:
        if self._console is None:
            self._console = Console()
        return self._console

    # -- Tune hooks -------------------------------------------------------------
    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info):
        value = result.get(self.metric)
        if isinstance(value, int | float) and not math.isnan(value):
            best = self._best.get(trial.trial_id)
            better = best is None or (value > best if self.mode == "max" else value < best)
            self._best[trial.trial_id] = value if better else best

    def on_step_end(self, iteration: int, trials: list, **info):
        if self.console.is_terminal:
            now = time.monotonic()
            if now - self._drawn >= _REFRESH_S:
                self._drawn = now
                if self._live is None:
                    self._live = Live(console=self.console, auto_refresh=False)
                    self._live.start()
                self._live.update(self.render(trials), refresh=True)
        else:
            self._log_changes(trials)

    def on_experiment_end(self, trials: list, **info):
        if self._live is not None:
            self._live.update(self.render(trials), refresh=True)
        else:
            self._log_changes(trials)
        self.close()

    def close(self) -> None:
        """Stop redrawing (safe to call more than once)."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    # -- drawing ----------------------------------------------------------------
    def _row(self, trial: Any, private: bool = False) -> list[str]:
        """The trial's cells; with `private`, its ε spent so far before the params."""
        last = trial.last_result or {}
        report = TrialReport.of(last)
        value = last.get(self.metric)
        best = self._best.get(trial.trial_id)
        row = [
            trial.trial_id,
            trial.status,
            report.node_id[:8] if report else "",
            f"{report.record.round if report else 0}/{trial.config.get('rounds', self.rounds)}",
            _short(value) if value is not None else "",
            _short(best) if best is not None else "",
        ]
        if private:
            spent = last.get(_EPSILON)
            row.append(epsilon_text(float(spent), last.get(_UNIT)) if spent is not None else "")
        return [*row, _params(trial.config)]

    def render(self, trials: list) -> Table:
        """The table of trials (running first), with counts by status in its title."""
        counts: dict[str, int] = {}
        for t in trials:
            counts[t.status] = counts.get(t.status, 0) + 1
        summary = "  ".join(f"{k.lower()} {v}" for k, v in sorted(counts.items()))
        elapsed = time.monotonic() - self._start
        table = Table(title=f"sweep: {len(trials)} trials  {summary}  [{elapsed:.0f} s]")
        latest, best = f"{self.metric} (latest)", f"best ({self.mode})"
        private = _private(trials)
        spent = ["ε spent"] if private else []
        for col in ("trial", "status", "node", "round", latest, best, *spent, "params"):
            table.add_column(col, overflow="fold" if col == "params" else "ellipsis")
        shown = sorted(trials, key=lambda t: (_ORDER.get(t.status, 9), t.trial_id))
        for trial in shown[:_MAX_ROWS]:
            table.add_row(*self._row(trial, private))
        if len(shown) > _MAX_ROWS:
            table.caption = f"... and {len(shown) - _MAX_ROWS} more"
        return table

    def _log_changes(self, trials: list) -> None:
        for trial in trials:
            if trial.status != "PENDING" and self._status.get(trial.trial_id) != trial.status:
                self._status[trial.trial_id] = trial.status
                private = _EPSILON in (trial.last_result or {})
                row = self._row(trial, private)
                spent = f" ε={row[6]}" if private else ""
                self.console.print(
                    f"trial {row[0]} {row[1].lower()}: round {row[3]} "
                    f"latest {self.metric}={row[4] or '-'}{spent} {row[-1]}",
                    highlight=False,
                    soft_wrap=True,
                )
