"""The report's figures, each written as a PNG.

Figures are matplotlib ``Figure`` objects rendered by the Agg canvas directly
(no pyplot, so no global backend or GUI state). Every function returns the file
it wrote, or None when the sweep lacks what the figure needs (e.g. no heatmap
keys, nothing varied).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from raysim.analysis.tables import display, finished, summarize
from raysim.round_record import SYS_PREFIX
from raysim.sweep.results import CONFIG, Experiment
from raysim.sweep.trainable import EVAL_ROUND

VIRTUAL_TIME = SYS_PREFIX + "virtual_time"
MAX_LINES = 10  # convergence curves drawn (the best configurations)
MAX_FEDERATIONS = 4  # distinct federations drawn (clients × classes panels)
ANNOTATE_CELLS = 400  # counts written in the cells of a panel up to this many cells


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def _ordered(values: pd.Series) -> list:
    """Distinct values, numbers in numeric order, the rest as text."""
    distinct = list(dict.fromkeys(values))
    try:
        return sorted(distinct)
    except TypeError:
        return sorted(distinct, key=str)


def heatmaps(exp: Experiment, out: Path) -> Path | None:
    """Final metric over report.heatmap x × y (mean over all else), one panel per facet value."""
    spec = exp.sweep.spec.report.heatmap
    trials = finished(exp)
    if spec is None or trials.empty:
        return None
    x, y = CONFIG + spec.x, CONFIG + spec.y
    facet = CONFIG + spec.facet if spec.facet else None
    panels = _ordered(trials[facet]) if facet else [None]
    xs, ys = _ordered(trials[x]), _ordered(trials[y])
    fig = Figure(figsize=(1.6 + 2.6 * len(panels), 3.4), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)
    scores = trials[exp.metric].astype(float)
    vmin, vmax = np.nanmin(scores), np.nanmax(scores)
    for ax, value in zip(axes[0], panels, strict=True):
        part = trials if facet is None else trials[trials[facet] == value]
        grid = np.full((len(ys), len(xs)), np.nan)
        for (xv, yv), group in part.groupby([x, y], dropna=False):
            grid[ys.index(yv), xs.index(xv)] = group[exp.metric].astype(float).mean()
        image = ax.imshow(grid, origin="lower", cmap="viridis", vmin=vmin, vmax=vmax)
        for (i, j), v in np.ndenumerate(grid):
            if not np.isnan(v):
                bright = (v - vmin) > 0.6 * (vmax - vmin)  # viridis is light at the top
                ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize=9,
                        color="black" if bright else "white")  # fmt: skip
        ax.set_xticks(range(len(xs)), [display(v) for v in xs])
        ax.set_yticks(range(len(ys)), [display(v) for v in ys])
        ax.set_xlabel(exp.label(spec.x))
        ax.set_ylabel(exp.label(spec.y))
        if facet:
            ax.set_title(f"{exp.label(spec.facet)} = {display(value)}")
    fig.colorbar(image, ax=axes[0].tolist(), label=exp.metric, shrink=0.85)
    fig.suptitle(f"final {exp.metric} (mean over the other settings)")
    return _save(fig, out / "heatmap.png")


def _curves(exp: Experiment) -> list[tuple[str, pd.DataFrame]]:
    """Per configuration (the best MAX_LINES): over evaluated rounds, the metric's mean
    and std over seeds and the mean data communicated so far (column MB)."""
    hist = exp.history
    if hist.empty or exp.metric not in hist:
        return []
    sent = (hist["bytes_down"] + hist["bytes_up"]).groupby(hist["trial_id"]).cumsum() / 1e6
    hist = hist.assign(MB=sent)
    evaluated = hist[hist["round"] == hist[EVAL_ROUND]]
    keys = exp.varying_keys()
    configs = exp.trials.set_index("trial_id")[[CONFIG + k for k in keys]]
    data = evaluated.join(configs, on="trial_id")
    curves = []
    for _, row in summarize(exp).head(MAX_LINES).iterrows():
        mask = np.ones(len(data), dtype=bool)
        for k in keys:
            col = data[CONFIG + k]
            mask &= (col.isna() & pd.isna(row[k])) | (col == row[k])
        # runs with a system: section also carry their virtual time (raysim.system)
        virtual = {"virtual": (VIRTUAL_TIME, "mean")} if VIRTUAL_TIME in data else {}
        curve = (
            data[mask]
            .groupby("round")
            .agg(mean=(exp.metric, "mean"), std=(exp.metric, "std"), MB=("MB", "mean"), **virtual)
        )
        label = ", ".join(f"{exp.label(k)}={display(row[k])}" for k in keys) or "all trials"
        curves.append((label, curve))
    return curves


def _title(exp: Experiment, text: str) -> str:
    if len(summarize(exp)) > MAX_LINES:
        text += f", best {MAX_LINES} configurations"
    return text


def _curve_figure(exp: Experiment):
    """(figure, axes, curves) for a per-configuration curve plot, or None without curves."""
    curves = _curves(exp)
    if not curves:
        return None
    fig = Figure(figsize=(7.5, 4.2), layout="constrained")
    return fig, fig.subplots(), curves


def _finish_curves(exp: Experiment, fig: Figure, ax, title: str, path: Path) -> Path:
    ax.set_ylabel(exp.metric)
    ax.set_title(_title(exp, title))
    ax.legend(fontsize=7, loc="best")
    return _save(fig, path)


def convergence(exp: Experiment, out: Path) -> Path | None:
    """Metric over rounds per configuration (mean ± std over seeds), the best few."""
    if (made := _curve_figure(exp)) is None:
        return None
    fig, ax, curves = made
    for label, curve in curves:
        ax.plot(curve.index, curve["mean"], marker=".", label=label)
        low, high = curve["mean"] - curve["std"], curve["mean"] + curve["std"]
        ax.fill_between(curve.index, low, high, alpha=0.15)
    ax.set_xlabel("round")
    title = "convergence (mean ± std over seeds)"
    return _finish_curves(exp, fig, ax, title, out / "convergence.png")


def ablation_bars(exp: Experiment, out: Path) -> Path | None:
    """Final metric per value of each varying key (mean ± std over all other settings)."""
    trials = finished(exp)
    keys = exp.varying_keys()
    if trials.empty or not keys:
        return None
    cols = min(3, len(keys))
    rows = -(-len(keys) // cols)
    fig = Figure(figsize=(4.2 * cols, 3.3 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        values = _ordered(trials[CONFIG + key])
        stats = [trials[trials[CONFIG + key] == v][exp.metric].astype(float) for v in values]
        means = [s.mean() for s in stats]
        stds = [s.std(ddof=1) if len(s) > 1 else 0.0 for s in stats]
        ax.bar(range(len(values)), means, yerr=stds, capsize=3, color="tab:blue", alpha=0.8)
        ax.set_xticks(range(len(values)), [display(v) for v in values], rotation=30, ha="right")
        ax.set_title(exp.label(key))
        ax.set_ylabel(exp.metric)
        low = np.nanmin(np.array(means) - np.array(stds))
        ax.set_ylim(bottom=max(0.0, low - 0.05 * abs(low)))
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    fig.suptitle(f"final {exp.metric} by setting (mean ± std over the other settings)")
    return _save(fig, out / "ablation.png")


def virtual_time(exp: Experiment, out: Path) -> Path | None:
    """Metric vs virtual time (`raysim.system`), per configuration (mean over seeds);
    None when no trial ran with a ``system:`` section."""
    made = _curve_figure(exp)
    if made is None or "virtual" not in made[2][0][1]:
        return None
    fig, ax, curves = made
    for label, curve in curves:
        line = ax.plot(curve["virtual"], curve["mean"], label=label, alpha=0.85)[0]
        ax.plot(curve["virtual"].iloc[-1], curve["mean"].iloc[-1], "o", color=line.get_color())
    ax.set_xlabel("virtual time (s, mean per trial)")
    title = f"{exp.metric} vs virtual time (mean over seeds; dot: final)"
    return _finish_curves(exp, fig, ax, title, out / "virtual_time.png")


def communication(exp: Experiment, out: Path) -> Path | None:
    """Metric vs data communicated so far (down + up), per configuration (mean over seeds)."""
    if (made := _curve_figure(exp)) is None:
        return None
    fig, ax, curves = made
    for label, curve in curves:
        line = ax.plot(curve["MB"], curve["mean"], label=label, alpha=0.85)[0]
        ax.plot(curve["MB"].iloc[-1], curve["mean"].iloc[-1], "o", color=line.get_color())
    sent = pd.concat([c["MB"] for _, c in curves])
    if sent.max() > 50 * sent.min() > 0:
        ax.set_xscale("log")
    ax.set_xlabel("data communicated so far (MB, down + up, mean per trial)")
    title = f"{exp.metric} vs communication (mean over seeds; dot: final)"
    return _finish_curves(exp, fig, ax, title, out / "communication.png")


def _federation_groups(exp: Experiment) -> list[tuple[str, dict]]:
    """The distinct federations the trials trained (those with class counts), each with
    a label: the swept values its trials share and other trials differ in (e.g. the
    seed), else its trials' ids."""
    groups: dict[str, list[str]] = {}
    for trial_id, fed in sorted(exp.federations.items()):
        if fed.get("class_counts"):
            groups.setdefault(json.dumps(fed, sort_keys=True), []).append(trial_id)
    if not groups:
        return []
    trials = exp.trials.set_index("trial_id").astype(str)
    keys = [CONFIG + d.key for d in exp.sweep.dims if CONFIG + d.key in trials]
    varying = [k for k in keys if trials[k].nunique() > 1] if len(groups) > 1 else []
    out = []
    for text, ids in list(groups.items())[:MAX_FEDERATIONS]:
        mine = trials.loc[ids]
        telling = [
            f"{exp.label(k.removeprefix(CONFIG))}={mine[k].iloc[0]}"
            for k in varying
            if mine[k].nunique() == 1
        ]
        more = f" (+{len(ids) - 3})" if len(ids) > 3 else ""
        label = ", ".join(telling) or f"trials {', '.join(ids[:3])}{more}"
        out.append((label, json.loads(text)))
    return out


def federation_heatmaps(exp: Experiment, out: Path) -> Path | None:
    """Examples per client × class (label, or noise class of SE mixtures) of each
    distinct federation the trials trained (their federation.json), one panel each."""
    groups = _federation_groups(exp)
    if not groups:
        return None
    fig = Figure(figsize=(1.6 + 3.4 * len(groups), 4.2), layout="constrained")
    axes = fig.subplots(1, len(groups), squeeze=False)[0]
    for ax, (label, fed) in zip(axes, groups, strict=True):
        counts = np.asarray(fed["class_counts"], dtype=float)
        image = ax.imshow(counts, aspect="auto", cmap="viridis", interpolation="nearest")
        if counts.size <= ANNOTATE_CELLS:
            top = counts.max() or 1.0
            for (i, j), v in np.ndenumerate(counts):
                ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=7,
                        color="black" if v > 0.6 * top else "white")  # fmt: skip
        classes = fed["classes"]
        if len(classes) <= 20:
            ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
        ax.set_xlabel(fed["class_kind"])
        ax.set_ylabel("client")
        ax.set_title(f"{label}\n{len(counts)} clients, {int(counts.sum())} examples", fontsize=9)
        fig.colorbar(image, ax=ax, label="examples", shrink=0.85)
    fig.suptitle("training examples per client and class (federation.json)")
    return _save(fig, out / "federation.png")
