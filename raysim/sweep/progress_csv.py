"""A trial's ``progress.csv`` with every key any of its rounds reported.

Tune's CSVLoggerCallback fixes a trial's columns at its first result, so a key first
reported later never reaches progress.csv: every evaluation metric but the sweep's
own (reported as NaN from round 1) when the first evaluation comes after round 1,
or a task counter that appears once it counts something. :class:`ProgressCSV`
widens the table instead: a result that brings new keys rewrites the file with them
as new columns (earlier rows leave them empty), then appends as before.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ray.tune.logger import CSVLoggerCallback
from ray.tune.result import EXPR_PROGRESS_FILE
from ray.tune.utils import flatten_dict


def widen_csv(path: Path, columns: list[str]) -> None:
    """Rewrite CSV file `path` (if any) with header `columns`, a superset of its own:
    its rows keep their values, new columns stay empty (replaced whole, atomically
    where the temporary folder shares the file's file system)."""
    rows: list[dict[str, str]] = []
    if path.exists():
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    # written outside the trial's folder: Tune syncs that folder to storage at any
    # moment, and a temporary file vanishing under the copy fails the sync
    with tempfile.NamedTemporaryFile("w", newline="", suffix=".csv", delete=False) as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    Path(f.name).chmod(0o644)  # a temporary file is private; progress.csv is not
    shutil.move(f.name, path)


class ProgressCSV(CSVLoggerCallback):
    """Tune's CSV logger (progress.csv, one row per result), its columns widened
    whenever a result brings keys the file lacks. Being a CSVLoggerCallback, it
    replaces Tune's default one."""

    def __init__(self) -> None:
        super().__init__()
        self._columns: dict[Any, list[str]] = {}  # trial -> its file's header

    def __getstate__(self) -> dict[str, Any]:
        # saved with the experiment: open trials start again from their files
        return {**self.__dict__, "_columns": {}}

    def _header(self, trial: Any) -> list[str]:
        """The trial's columns so far: its file's header (restored from storage when the
        trial continues from a checkpoint), or none."""
        trial.init_local_path()
        self._restore_from_remote(EXPR_PROGRESS_FILE, trial)
        path = Path(trial.local_path, EXPR_PROGRESS_FILE)
        if not path.exists() or path.stat().st_size == 0:
            return []
        with path.open(newline="") as f:
            return next(csv.reader(f), [])

    def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
        row = flatten_dict({k: v for k, v in result.items() if k != "config"}, delimiter="/")
        if trial not in self._columns:
            self._columns[trial] = self._header(trial)
        path = Path(trial.local_path, EXPR_PROGRESS_FILE)
        columns = self._columns[trial]
        new = [k for k in row if k not in columns]
        if new or not columns:
            columns = self._columns[trial] = columns + new
            widen_csv(path, columns)
        with path.open("a", newline="") as f:
            csv.DictWriter(f, columns).writerow(row)

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        self._columns.pop(trial, None)
