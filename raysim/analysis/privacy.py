"""The privacy part of the sweep report: what the ε is for (mechanism, unit, δ), and the
ε–utility curve of a sweep over ``privacy.epsilon`` (table and figure, every seed shown).

The x of the curve is the target ε the sweep set (``privacy.epsilon``); the table also
gives the ε the trials' final models spent (``dp_epsilon``, equal to the target unless a
trial stopped early) and the noise std on the mean update (``dp_noise_std``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from raysim.analysis.tables import (
    EPSILON_SPENT,
    PRIVACY_UNIT,
    display,
    finished,
    markdown,
    mean_std,
)
from raysim.privacy import epsilon_text
from raysim.round_record import DP_PREFIX
from raysim.sweep.results import CONFIG, Experiment

#: the swept key the ε–utility curve needs
EPSILON_KEY = "privacy.epsilon"
_NOISE_STD = DP_PREFIX + "noise_std"
_DELTA = DP_PREFIX + "delta"
_UNIT_MEANS = {
    "client": "the participation of any one client (all of its data)",
    "speaker": "any one speaker's data (all the clients holding it count as one unit)",
}


def _private(exp: Experiment) -> pd.DataFrame:
    """The finished trials that ran with differential privacy."""
    trials = finished(exp)
    if EPSILON_SPENT not in trials:
        return trials.iloc[0:0]
    return trials[trials[EPSILON_SPENT].notna()]


def _values(trials: pd.DataFrame, column: str) -> list[str]:
    return [display(v) for v in dict.fromkeys(trials[column].dropna())] if column in trials else []


def units(exp: Experiment) -> list[str]:
    """The units of privacy (client, speaker) the sweep's private trials report."""
    return sorted(_values(_private(exp), PRIVACY_UNIT))


def privacy_lines(exp: Experiment) -> list[str]:
    """Report header lines saying what the trials' ε is for (empty without privacy)."""
    trials = _private(exp)
    if trials.empty:
        return []
    mechanisms = " / ".join(_values(trials, CONFIG + "privacy.mechanism")) or "central"
    accountants = " / ".join(_values(trials, CONFIG + "privacy.accountant"))
    deltas = ", ".join(_values(trials, _DELTA))
    lines = [
        f"- privacy: {mechanisms} DP-FedAvg ({accountants} accounting), δ = {deltas}; "
        "ε in the tables is what each trial's final model spent, over all its rounds"
    ]
    for unit in units(exp):
        what = _UNIT_MEANS.get(unit, unit)
        lines.append(f"- unit of privacy: **{unit}**: ε bounds what the models reveal about {what}")
    return lines


def _others(exp: Experiment) -> list[str]:
    return [k for k in exp.varying_keys() if k != EPSILON_KEY]


def _replicate(exp: Experiment) -> str | None:
    """The key that tells the runs of one setting apart (the seed), if any."""
    replicates = exp.sweep.spec.report.replicates
    return replicates[0] if replicates else None


def epsilon_utility(exp: Experiment) -> pd.DataFrame | None:
    """The ε–utility table when the sweep varies ``privacy.epsilon`` (else None): one row
    per setting of the other varying keys and ε (ascending, ∞ last), with ``epsilon``
    (the target), ``spent`` (mean ε spent), ``unit``, ``noise_std`` (mean std of the
    noise on the mean update), the sweep metric's ``mean`` and ``std`` over the seeds,
    ``n`` and ``runs`` (a list of (seed, metric) pairs, by seed)."""
    if EPSILON_KEY not in exp.varying_keys():
        return None
    trials = finished(exp)
    if trials.empty:
        return None
    others = _others(exp)
    seed = CONFIG + str(_replicate(exp))
    rows = []
    for values, group in trials.groupby([CONFIG + k for k in [*others, EPSILON_KEY]], dropna=False):
        scores = group[exp.metric].astype(float)
        seeds = group[seed] if seed in group else pd.Series(range(len(group)), index=group.index)
        row = dict(zip(others, values[:-1], strict=True))
        row.update(
            epsilon=float(values[-1]),
            spent=group[EPSILON_SPENT].astype(float).mean() if EPSILON_SPENT in group else math.nan,
            unit=", ".join(sorted(_values(group, PRIVACY_UNIT))),
            noise_std=group[_NOISE_STD].astype(float).mean() if _NOISE_STD in group else math.nan,
            mean=scores.mean(),
            std=scores.std(ddof=1),
            n=len(group),
            runs=sorted(zip(seeds, scores, strict=True)),
        )
        rows.append(row)
    table = pd.DataFrame(rows)
    return table.sort_values([*others, "epsilon"], ignore_index=True)


def utility_markdown(exp: Experiment, table: pd.DataFrame) -> str:
    """The ε–utility table as Markdown (mean ± std over seeds, and every seed)."""
    seed = _replicate(exp) or "run"
    out = pd.DataFrame({exp.label(k): table[k].map(display) for k in _others(exp)})
    out[exp.label(EPSILON_KEY)] = table["epsilon"].map(epsilon_text)
    out["ε spent"] = [
        epsilon_text(e, u) for e, u in zip(table["spent"], table["unit"], strict=True)
    ]
    out["noise std per coordinate of the mean update"] = table["noise_std"].map(
        lambda s: "–" if math.isnan(s) else f"{s:.3g}"
    )
    out[f"{exp.metric} (mean ± std)"] = [
        mean_std(m, s) for m, s in zip(table["mean"], table["std"], strict=True)
    ]
    out[f"per {seed}"] = [", ".join(f"{display(s)}: {v:.4f}" for s, v in r) for r in table["runs"]]
    out["n"] = table["n"].astype(str)
    return markdown(out)


def epsilon_figure(exp: Experiment, table: pd.DataFrame) -> Figure:
    """The sweep metric against ε: every seed as a dot, the mean ± std as a line with
    error bars, one line per setting of the other varying keys. ε is on an ordinal axis
    (the swept values, ∞ last), so that ∞ has a place."""
    unit = ", ".join(sorted({u for u in table["unit"] if u})) or "unit"
    eps = sorted(set(table["epsilon"]))
    pos = {e: i for i, e in enumerate(eps)}
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.subplots()
    others = _others(exp)
    groups = table.groupby(others, dropna=False) if others else [((), table)]
    for values, part in groups:
        values = values if isinstance(values, tuple) else (values,)
        label = ", ".join(
            f"{exp.label(k)}={display(v)}" for k, v in zip(others, values, strict=True)
        )
        x = np.array([pos[e] for e in part["epsilon"]], dtype=float)
        line = ax.errorbar(x, part["mean"], yerr=part["std"].fillna(0.0), marker="o", capsize=3,
                           label=f"mean ± std, {label}" if label else "mean ± std")  # fmt: skip
        runs = [(xi, v) for xi, r in zip(x, part["runs"], strict=True) for _, v in r]
        ax.scatter(*zip(*runs, strict=True), s=14, alpha=0.6, color=line.lines[0].get_color(),
                   label="each seed")  # fmt: skip
    ax.set_xticks(range(len(eps)), [epsilon_text(e) for e in eps])
    ax.set_xlabel(f"ε per {unit} (target; ∞: clipping, no noise)")
    ax.set_ylabel(exp.metric)
    ax.set_title(f"{exp.metric} against ε (per {unit}), every seed")
    ax.legend(fontsize=7, loc="best")
    return fig


def privacy_section(exp: Experiment, out: Path) -> list[str]:
    """The report's ε–utility section (table and figure), empty unless ε is swept."""
    table = epsilon_utility(exp)
    if table is None or table.empty:
        return []
    path = out / "epsilon_utility.png"
    epsilon_figure(exp, table).savefig(path, dpi=110, bbox_inches="tight")
    title = f"Privacy–utility: {exp.metric} against ε per {', '.join(units(exp)) or 'unit'}"
    return [f"## {title}", "", utility_markdown(exp, table), "", f"![{title}]({path.name})", ""]
