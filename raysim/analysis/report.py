"""The sweep report: Markdown tables (mean ± std over seeds per configuration, the best
configuration, every trial), the figures of :mod:`raysim.analysis.plots`, and with
differential privacy the ε spent, its unit and the ε–utility curve
(:mod:`raysim.analysis.privacy`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from raysim.analysis import plots
from raysim.analysis.privacy import privacy_lines, privacy_section
from raysim.analysis.tables import (
    EPSILON_SPENT,
    PRIVACY_UNIT,
    best,
    display,
    formatted,
    markdown,
    summarize,
)
from raysim.metric_counts import DEFINED_SUFFIX, defined_count
from raysim.privacy import epsilon_text
from raysim.sweep.results import CONFIG, Experiment, load_experiment


def _figures(exp: Experiment) -> list[tuple[str, Callable[[Experiment, Path], Path | None]]]:
    heat = exp.sweep.spec.report.heatmap
    title = "Final metric"
    if heat is not None:
        title = f"Final {exp.metric} over {exp.label(heat.x)} × {exp.label(heat.y)}"
        title += f", per {exp.label(heat.facet)}" if heat.facet else ""
    return [
        (title, plots.heatmaps),
        ("Convergence over rounds", plots.convergence),
        ("Convergence over virtual time", plots.virtual_time),
        ("Ablation: final metric per setting", plots.ablation_bars),
        ("Communication vs final metric", plots.communication),
        ("Clients × classes: training examples", plots.federation_heatmaps),
    ]


def _trials_table(exp: Experiment) -> pd.DataFrame:
    trials = exp.trials
    out = pd.DataFrame(
        {
            "trial": trials["trial_id"],
            "status": trials["status"],
            "node": trials.get("node_id", pd.Series(dtype=str)).astype(str).str[:8],
            "rounds": trials.get("rounds", pd.Series(dtype=float)).map(display),
            exp.metric: trials.get(exp.metric, pd.Series(dtype=float)).map(display),
        }
    )
    for key in [*exp.varying_keys(), *exp.sweep.spec.report.replicates]:
        if CONFIG + key in trials:
            out[exp.label(key)] = trials[CONFIG + key].map(display)
    if EPSILON_SPENT in trials:
        spent = zip(trials[EPSILON_SPENT].astype(float), trials[PRIVACY_UNIT], strict=True)
        out["ε spent"] = [epsilon_text(e, u if isinstance(u, str) else None) for e, u in spent]
    return out


def _header(exp: Experiment) -> list[str]:
    spec = exp.sweep.spec
    counts = exp.trials["status"].value_counts().to_dict()
    status = ", ".join(f"{v} {k.lower()}" for k, v in sorted(counts.items()))
    lines = [f"# Sweep report: {exp.sweep.name}", ""]
    if spec.description:
        lines += [spec.description.strip(), ""]
    lines += [
        f"- experiment: `{exp.path}`",
        f"- trials: {len(exp.trials)} ({status})",
        f"- metric: `{exp.metric}` ({spec.tune.mode}), the latest evaluation of each trial",
        f"- scheduler: {spec.tune.scheduler.name}",
        *_references(exp),
        *privacy_lines(exp),
        "",
    ]
    return lines


def _references(exp: Experiment) -> list[str]:
    """The centralized references recorded for the sweep's base data and task
    (`experiments/centralized.py`): the IID upper bound lines."""
    from raysim.centralized_results import reference_lines
    from raysim.config import ConfigError, parse_config

    try:
        return reference_lines(parse_config(exp.sweep.spec.config), exp.metric)
    except (ConfigError, KeyError, TypeError):
        return []


def write_report(experiment: Experiment | str | Path, out: str | Path | None = None) -> Path:
    """Write ``report.md`` and its PNG figures to `out` (default: EXPERIMENT/report)."""
    exp = experiment if isinstance(experiment, Experiment) else load_experiment(experiment)
    out = Path(out) if out is not None else exp.path / "report"
    out.mkdir(parents=True, exist_ok=True)
    table = summarize(exp)
    lines = _header(exp)
    lines += ["## Results per configuration (mean ± std over seeds)", ""]
    lines += [markdown(formatted(exp, table)), ""]
    top = best(exp, table)
    if top is not None:
        lines += ["## Best configuration", ""]
        lines += [f"- {exp.label(k)}: `{display(top[k])}`" for k in exp.varying_keys()]
        std = top[f"{exp.metric}_std"]
        spread = "" if pd.isna(std) else f" ± {std:.4f}"
        count = defined_count(top.get(exp.metric + DEFINED_SUFFIX), top.get(f"{exp.metric}_items"))
        count = f" ({count})" if count else ""
        lines += [
            f"- {exp.metric}: {top[exp.metric]:.4f}{spread}{count} over {int(top['n'])} runs",
            "",
        ]
    lines += privacy_section(exp, out)
    for title, figure in _figures(exp):
        path = figure(exp, out)
        if path is not None:
            lines += [f"## {title}", "", f"![{title}]({path.name})", ""]
    lines += ["## Trials", "", markdown(_trials_table(exp)), ""]
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return report
