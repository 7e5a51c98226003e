"""Sweep tables: a metric that some evaluation items lack shows its defined count."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from raysim.analysis.tables import formatted, metric_columns, summarize


def _experiment() -> SimpleNamespace:
    trials = pd.DataFrame(
        {
            "trial_id": ["a", "b"],
            "status": ["TERMINATED"] * 2,
            "rounds": [10, 10],
            "bytes": [1e6, 1e6],
            "eval_si_sdri": [3.0, 4.0],
            "eval_stoi": [0.7, 0.8],
            "eval_stoi_defined": [98.0, 100.0],
            "eval_n_items": [120.0, 120.0],
        }
    )
    return SimpleNamespace(
        trials=trials, metric="eval_si_sdri", mode="max", varying_keys=lambda: [],
        label=lambda k: k,
    )  # fmt: skip


def test_defined_counts_sit_beside_their_metric_not_as_metrics():
    exp = _experiment()
    assert metric_columns(exp) == ["eval_si_sdri", "eval_stoi"]
    table = summarize(exp)
    assert (table.at[0, "eval_stoi_defined"], table.at[0, "eval_stoi_items"]) == (198, 240)
    cells = formatted(exp, table)
    assert cells.at[0, "eval_stoi"] == "0.7500 ± 0.0707 (198/240 defined)"
    assert cells.at[0, "eval_si_sdri"] == "3.5000 ± 0.7071"  # always defined: no count
