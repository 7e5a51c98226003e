"""Result tables of a sweep: mean ± std over replicates (seeds) per configuration."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from raysim.metric_counts import DEFINED_SUFFIX, N_ITEMS, defined_count
from raysim.privacy import epsilon_text
from raysim.round_record import DP_PREFIX, EVAL_PREFIX
from raysim.sweep.results import CONFIG, Experiment
from raysim.sweep.trainable import EVAL_ROUND

EVAL_ITEMS = EVAL_PREFIX + N_ITEMS
#: a trial's ε spent (after its last round) and the unit it protects (private runs only)
EPSILON_SPENT = DP_PREFIX + "epsilon"
PRIVACY_UNIT = DP_PREFIX + "unit"


def finished(exp: Experiment) -> pd.DataFrame:
    """Trials that reported results and did not fail."""
    trials = exp.trials
    if "rounds" not in trials:
        return trials.iloc[0:0]
    return trials[(trials["status"] != "ERROR") & trials["rounds"].notna()]


def metric_columns(exp: Experiment) -> list[str]:
    """The final metrics of the trials, the sweep's metric first (counts of defined
    items are shown beside their metric, not as metrics of their own)."""
    evals = sorted(
        c
        for c in exp.trials.columns
        if c.startswith(EVAL_PREFIX)
        and c not in (EVAL_ROUND, EVAL_ITEMS)
        and not c.endswith(DEFINED_SUFFIX)
    )
    return sorted(evals, key=lambda c: c != exp.metric)


def summarize(exp: Experiment) -> pd.DataFrame:
    """One row per configuration (the varying config keys), best first.

    Columns: each varying key, then per metric ``<metric>`` (mean) and
    ``<metric>_std``, ``n`` (replicates), ``rounds_run`` and ``MB`` (means per
    trial of the rounds run and of the data communicated). A metric that some evaluation
    items lack also gets ``<metric>_defined`` and ``<metric>_items``: its defined items
    and all items, summed over the replicates. Private runs also get ``dp_epsilon`` (mean
    ε spent by the final models) and ``dp_unit`` (whose participation it protects).
    """
    trials = finished(exp)
    keys = exp.varying_keys()
    metrics = metric_columns(exp)
    if trials.empty:
        return pd.DataFrame(columns=[*keys, *metrics, "n"])
    groups = trials.groupby([CONFIG + k for k in keys], dropna=False) if keys else [((), trials)]
    rows = []
    for values, group in groups:
        values = values if isinstance(values, tuple) else (values,)
        row: dict[str, Any] = dict(zip(keys, values, strict=True))
        for m in metrics:
            row[m] = group[m].astype(float).mean()
            row[f"{m}_std"] = group[m].astype(float).std(ddof=1)
            if m + DEFINED_SUFFIX in group and EVAL_ITEMS in group:
                row[m + DEFINED_SUFFIX] = group[m + DEFINED_SUFFIX].astype(float).sum()
                row[f"{m}_items"] = group[EVAL_ITEMS].astype(float).sum()
        if EPSILON_SPENT in group:
            row[EPSILON_SPENT] = group[EPSILON_SPENT].astype(float).mean()
            row[PRIVACY_UNIT] = ", ".join(sorted(group[PRIVACY_UNIT].dropna().astype(str).unique()))
        row.update(n=len(group), rounds_run=group["rounds"].mean(), MB=group["bytes"].mean() / 1e6)
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.sort_values(exp.metric, ascending=exp.mode == "min", ignore_index=True)


def best(exp: Experiment, table: pd.DataFrame | None = None) -> dict[str, Any] | None:
    """The best configuration's row (by the sweep's metric and mode), or None."""
    table = summarize(exp) if table is None else table
    valid = table.dropna(subset=[exp.metric])
    return None if valid.empty else valid.iloc[0].to_dict()


def mean_std(mean: float, std: float, digits: int = 4) -> str:
    """'0.6123 ± 0.0210' (just the mean for a single replicate)."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    if std is None or math.isnan(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def display(value: Any) -> str:
    """A config value as shown in tables."""
    if isinstance(value, float):
        return "None" if math.isnan(value) else f"{value:g}"
    return str(value)


def formatted(exp: Experiment, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The summary as text cells, columns named by their labels."""
    table = summarize(exp) if table is None else table
    keys = exp.varying_keys()
    out = pd.DataFrame({exp.label(k): table[k].map(display) for k in keys})
    for m in metric_columns(exp):
        out[m] = [mean_std(a, b) for a, b in zip(table[m], table[f"{m}_std"], strict=True)]
        if m + DEFINED_SUFFIX in table:
            counts = map(defined_count, table[m + DEFINED_SUFFIX], table[f"{m}_items"])
            out[m] = [
                f"{cell} ({c})" if c else cell for cell, c in zip(out[m], counts, strict=True)
            ]
    if EPSILON_SPENT in table:
        spent = zip(table[EPSILON_SPENT], table[PRIVACY_UNIT], strict=True)
        out["ε spent"] = [epsilon_text(e, unit) for e, unit in spent]
    out["n"] = table["n"].astype(int).astype(str)
    out["rounds run"] = table["rounds_run"].map(lambda r: f"{r:g}")
    out["MB sent"] = table["MB"].map(lambda b: f"{b:.2f}")
    return out


def markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of text cells."""
    cells = frame.astype(str).map(lambda s: s.replace("|", "\\|"))
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |"]
    lines.append("|" + "|".join("---" for _ in frame.columns) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in cells.itertuples(index=False)]
    return "\n".join(lines)


def print_summary(exp: Experiment) -> None:
    """Print the per-configuration table (the sweep's metric) and the best configuration."""
    from rich.console import Console
    from rich.table import Table

    table = summarize(exp)
    others = [m for m in metric_columns(exp) if m != exp.metric]
    cells = formatted(exp, table).drop(columns=others)
    view = Table(
        title=f"{exp.sweep.name}: {exp.metric} of each trial's latest evaluation "
        f"({exp.mode} is best), mean ± std over seeds"
    )
    labels = {exp.label(k) for k in exp.varying_keys()}
    for col in cells.columns:
        view.add_column(str(col), justify="left" if col in labels else "right")
    for row in cells.itertuples(index=False):
        view.add_row(*row)
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 120)
    console.print(view)
    top = best(exp, table)
    if top is not None:
        shown = ", ".join(f"{exp.label(k)}={display(top[k])}" for k in exp.varying_keys())
        shown = shown or "the only configuration"
        console.print(f"best: {shown}  {exp.metric}={top[exp.metric]:.4f}", highlight=False)
