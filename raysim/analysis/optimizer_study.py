"""The optimizer study's report: optimizers, LR schedules and clipping, federated and centralized.

The study (issue #18, after the SVoice / Spleeter optimizer project) varies the local
optimizer, the LR schedule and gradient clipping, one factor at a time around a baseline
optimizer (Adam, no schedule, no clipping), and checks three findings:

1. the baseline optimizer is the best of the optimizers;
2. a plateau schedule beats a step schedule;
3. clipping the gradient norm improves the result.

It reads the experiment directories of the same sweep file run federated
(`experiments/sweep.py`, one simulation per trial: a step is a round, the score the
server's held-out evaluation) and centralized (`experiments/sweep.py --centralized`,
Ray Train in Tune trials: a step is an epoch, the score the validation share's), and
draws the study's three figures: training loss over the first steps per optimizer,
the validation score per LR schedule, and with vs without clipping. A finding's size is
the difference of the two arms' final scores seed by seed (the same seeds on both
sides); it *holds* when every seed's difference is at least `TIE_DB` in its favour, is
*reversed* when every seed's is at least `TIE_DB` against it, shows *no difference*
when every seed's is smaller than `TIE_DB`, and is *mixed* otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from raysim.analysis.tables import markdown
from raysim.config import parse_config
from raysim.round_record import EVAL_PREFIX
from raysim.sweep.centralized import TEST_PREFIX, centralized_metric
from raysim.sweep.runner import saved_sweep
from raysim.sweep.space import apply

FEDERATED, CENTRALIZED = "federated", "centralized"
NO_SCHEDULE = "none"
TIE_DB = 0.05
"""Differences smaller than this (dB) count as no difference."""


@dataclass
class Study:
    """The study's trials from one or more experiment directories.

    Attributes:
        metric: the score compared (e.g. ``si_sdri``), without its prefix.
        runs: one row per trial: ``engine``, ``trial_id``, ``optimizer`` (its label: name,
            lr and kwargs), ``optimizer_name``, ``schedule`` (``none`` for a constant lr),
            ``clip`` (max norm, NaN without clipping), ``seed``, ``steps``, ``final`` (the
            last step's score), ``best`` (the best step's) and, centralized, ``test`` (the
            best-validation epoch's score on the test share), ``lr_decays`` (how many
            times the lr went down: whether a plateau schedule acted at all).
        curves: one row per (trial, step): ``engine``, ``trial_id``, ``step`` (round or
            epoch), ``train_loss`` and ``score``.
        unfinished: the trials left out (not terminated: errored, stopped or running).
        repeats: trials left out as repeats of an earlier one (same engine, arm and seed:
            e.g. a grid split over two experiments that overlapped).
    """

    metric: str
    runs: pd.DataFrame
    curves: pd.DataFrame
    unfinished: list[str]
    repeats: list[str]

    @property
    def engines(self) -> list[str]:
        return [e for e in (FEDERATED, CENTRALIZED) if e in set(self.runs["engine"])]


def _optimizer_label(optimizer: dict[str, Any]) -> str:
    kwargs = " ".join(f"{k}={v}" for k, v in sorted(optimizer.get("kwargs", {}).items()))
    return f"{optimizer['name']} lr={optimizer['lr']:g}" + (f" {kwargs}" if kwargs else "")


def _arm(config: dict[str, Any]) -> dict[str, Any]:
    """The study's factors of a resolved config (a model dump)."""
    local = config["local"]
    schedule = local["lr_schedule"]["name"]
    clip = local["clip_grad_norm"]
    return {
        "optimizer": _optimizer_label(local["optimizer"]),
        "optimizer_name": local["optimizer"]["name"],
        "schedule": NO_SCHEDULE if schedule == "constant" else schedule,
        "clip": float("nan") if clip is None else float(clip),
        "seed": int(config["seed"]),
    }


def load_study(*paths: str | Path) -> Study:
    """Read experiment directories of the study's sweep (federated or centralized, told
    apart by what their trials report: rounds or epochs); finished trials only."""
    from ray.tune import ExperimentAnalysis

    metric, runs, curves, unfinished, repeats = None, [], [], [], []
    seen: set[tuple[str, ...]] = set()
    for path in paths:
        path = Path(path).expanduser().resolve()
        sweep = saved_sweep(path)
        metric = metric or sweep.spec.tune.metric.removeprefix(EVAL_PREFIX)
        swept = EVAL_PREFIX + metric
        analysis = ExperimentAnalysis(str(path))
        frames = analysis.trial_dataframes
        for trial in sorted(analysis.trials, key=lambda t: t.trial_id):
            frame = frames.get(trial.trial_id, pd.DataFrame())
            if trial.status != "TERMINATED" or frame.empty:
                unfinished.append(trial.trial_id)
                continue
            engine, step, score = (
                (FEDERATED, "round", swept)
                if "round" in frame
                else (CENTRALIZED, "epoch", centralized_metric(swept))
            )
            config = parse_config(apply(sweep.spec.config, trial.config)).model_dump()
            arm = _arm(config)
            key = (engine, *map(str, arm.values()))  # str: NaN (no clipping) equals itself
            if key in seen:
                repeats.append(trial.trial_id)
                continue
            seen.add(key)
            test = frame.get(TEST_PREFIX + metric, pd.Series(dtype=float)).dropna()
            # a resumed trial reports its last steps again: the latest report stays
            curve = frame.dropna(subset=[step]).drop_duplicates(step, keep="last")
            curve = curve.sort_values(step)
            curves.append(
                pd.DataFrame(
                    {
                        "engine": engine,
                        "trial_id": trial.trial_id,
                        "step": curve[step].astype(int).to_numpy(),
                        "train_loss": curve["train_loss"].astype(float).to_numpy(),
                        "score": curve[score].astype(float).to_numpy(),
                    }
                )
            )
            scores = curve[score].astype(float)
            lrs = curve["lr"].astype(float).to_numpy() if "lr" in curve else np.zeros(1)
            runs.append(
                {
                    "engine": engine,
                    "trial_id": trial.trial_id,
                    **arm,
                    "steps": int(curve[step].max()),
                    "final": float(scores.iloc[-1]),
                    "best": float(scores.max()),
                    "test": float(test.iloc[-1]) if len(test) else float("nan"),
                    "lr_decays": int((np.diff(lrs) < 0).sum()),
                }
            )
    if metric is None or not runs:
        raise ValueError(f"no finished trials in {', '.join(map(str, paths))}")
    curves = pd.concat(curves, ignore_index=True)
    return Study(metric, pd.DataFrame(runs), curves, unfinished, repeats)


# -- the three slices ---------------------------------------------------------------
def _no_clip(runs: pd.DataFrame) -> pd.Series:
    return runs["clip"].isna()


def optimizer_arms(runs: pd.DataFrame) -> pd.DataFrame:
    """Trials that vary the optimizer: no schedule, no clipping."""
    return runs[(runs["schedule"] == NO_SCHEDULE) & _no_clip(runs)]


def schedule_arms(runs: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Trials of the `baseline` optimizer without clipping, by LR schedule."""
    return runs[(runs["optimizer_name"] == baseline) & _no_clip(runs)]


def clip_arms(runs: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Trials of the `baseline` optimizer without a schedule, with and without clipping."""
    base = runs[(runs["optimizer_name"] == baseline) & (runs["schedule"] == NO_SCHEDULE)]
    return base.assign(clipping=base["clip"].map(lambda c: "none" if np.isnan(c) else f"{c:g}"))


# -- findings ------------------------------------------------------------------------
@dataclass
class Finding:
    """One claim measured on one engine: arm `a` minus arm `b`, seed by seed."""

    engine: str
    claim: str
    a: str
    b: str
    diffs: dict[int, float]  # seed -> final score of a minus that of b

    @property
    def verdict(self) -> str:
        values = list(self.diffs.values())
        if not values:
            return "not measured"
        if all(v >= TIE_DB for v in values):
            return "holds"
        if all(v <= -TIE_DB for v in values):
            return "reversed"
        if all(abs(v) < TIE_DB for v in values):
            return "no difference"
        return "mixed"

    def row(self, metric: str) -> dict[str, str]:
        values = list(self.diffs.values())
        mean = f"{np.mean(values):+.2f}" if values else "-"
        spread = f" ± {np.std(values, ddof=1):.2f}" if len(values) > 1 else ""
        seeds = ", ".join(f"{s}: {d:+.2f}" for s, d in sorted(self.diffs.items()))
        return {"engine": self.engine, "finding": self.claim, "compared": f"{self.a} − {self.b}",
                f"Δ final {metric} (dB), mean ± std": mean + spread, "per seed": seeds or "-",
                "verdict": self.verdict}  # fmt: skip


def _paired(runs: pd.DataFrame, column: str, a: str, b: str) -> dict[int, float]:
    """Seed -> final score of arm `a` minus that of arm `b` (arms told apart by
    `column`), over the seeds both ran."""
    rows = zip(runs[column], runs["seed"], runs["final"], strict=True)
    final = {(arm, int(seed)): float(f) for arm, seed, f in rows}
    seeds = {s for arm, s in final if arm == a} & {s for arm, s in final if arm == b}
    return {s: final[a, s] - final[b, s] for s in sorted(seeds)}


def findings(study: Study, baseline: str = "adam") -> list[Finding]:
    """The three findings on each engine of the study."""
    out = []
    for engine in study.engines:
        runs = study.runs[study.runs["engine"] == engine]
        opt = optimizer_arms(runs)
        means = opt.groupby("optimizer")["final"].mean().sort_values(ascending=False)
        ours = [o for o in means.index if o.split(" ")[0] == baseline] or [baseline]
        others = [o for o in means.index if o.split(" ")[0] != baseline] or ["none"]
        out.append(Finding(engine, f"{baseline} is the best optimizer", ours[0],
                           f"best other ({others[0]})",
                           _paired(opt, "optimizer", ours[0], others[0])))  # fmt: skip
        sched = schedule_arms(runs, baseline)
        out.append(Finding(engine, "plateau beats step", "plateau", "step",
                           _paired(sched, "schedule", "plateau", "step")))  # fmt: skip
        clip = clip_arms(runs, baseline)
        levels = {c for c in clip["clipping"] if c != "none"} or {"5"}
        for level in sorted(levels, key=float, reverse=True):  # one finding per max norm
            out.append(Finding(engine, "clipping helps", f"clip {level}", "no clip",
                               _paired(clip, "clipping", level, "none")))  # fmt: skip
    return out


def arms_table(study: Study) -> pd.DataFrame:
    """Per engine and arm: final (and best, test) score, mean ± std over seeds."""
    keys = ["engine", "optimizer", "schedule", "clip"]
    rows = []
    for key, group in study.runs.groupby(keys, dropna=False, sort=False):
        final = group["final"]
        per_seed = ", ".join(f"{s}: {v:.2f}" for s, v in zip(group["seed"], final, strict=True))
        test = group["test"].dropna()
        rows.append(
            {
                "engine": key[0],
                "optimizer": key[1],
                "LR schedule": key[2],
                "clip": "none" if pd.isna(key[3]) else f"{key[3]:g}",
                f"final {study.metric}": f"{final.mean():.2f} ± {final.std(ddof=1):.2f}"
                if len(final) > 1
                else f"{final.mean():.2f}",
                "per seed": per_seed,
                f"best {study.metric}": f"{group['best'].mean():.2f}",
                f"test {study.metric}": f"{test.mean():.2f}" if len(test) else "-",
                "lr decays": f"{group['lr_decays'].mean():.1f}",
                "seeds": len(group),
            }
        )
    return pd.DataFrame(rows)


# -- figures -------------------------------------------------------------------------
def _mean_curves(
    study: Study, runs: pd.DataFrame, by: str, value: str, first: int | None
) -> dict[str, pd.Series]:
    """Per value of `by`: the mean over seeds of `value` at each step (up to `first`)."""
    curves = study.curves.merge(runs[["trial_id", by]], on="trial_id")
    if first is not None:
        curves = curves[curves["step"] <= first]
    return {
        str(level): group.groupby("step")[value].mean()
        for level, group in curves.groupby(by, sort=False)
    }


def _panels(study: Study, title: str, ylabel: str, draw: Any, path: Path) -> Path | None:
    engines = study.engines
    fig = Figure(figsize=(5.2 * len(engines), 3.8), layout="constrained")
    axes = fig.subplots(1, len(engines), squeeze=False)[0]
    drawn = False
    for ax, engine in zip(axes, engines, strict=True):
        runs = study.runs[study.runs["engine"] == engine]
        lines = draw(runs)
        for label, series in lines.items():
            ax.plot(series.index, series.to_numpy(), marker=".", label=label)
        drawn = drawn or bool(lines)
        ax.set_title(f"{engine} ({'round' if engine == FEDERATED else 'epoch'}s)")
        ax.set_xlabel("round" if engine == FEDERATED else "epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if lines:
            ax.legend(fontsize=7)
    if not drawn:
        return None
    fig.suptitle(title)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def optimizer_loss_figure(study: Study, out: Path, first: int | None = None) -> Path | None:
    """Training loss over the first steps, one line per optimizer (mean over seeds)."""
    return _panels(
        study, "Training loss per optimizer (no schedule, no clipping)", "training loss",
        lambda runs: _mean_curves(study, optimizer_arms(runs), "optimizer", "train_loss", first),
        out / "optimizer_loss.png",
    )  # fmt: skip


def schedule_figure(study: Study, out: Path, baseline: str = "adam") -> Path | None:
    """Validation score per LR schedule of the baseline optimizer (mean over seeds)."""
    return _panels(
        study, f"Validation {study.metric} per LR schedule ({baseline})",
        f"validation {study.metric} (dB)",
        lambda runs: _mean_curves(study, schedule_arms(runs, baseline), "schedule", "score", None),
        out / "schedule_val.png",
    )  # fmt: skip


def clipping_figure(study: Study, out: Path, baseline: str = "adam") -> Path | None:
    """Validation score with vs without gradient clipping (mean over seeds)."""
    return _panels(
        study, f"Validation {study.metric} with vs without clipping ({baseline})",
        f"validation {study.metric} (dB)",
        lambda runs: _mean_curves(study, clip_arms(runs, baseline), "clipping", "score", None),
        out / "clipping_val.png",
    )  # fmt: skip


def write_study_report(
    study: Study, out: str | Path, *, baseline: str = "adam", first: int | None = None
) -> Path:
    """``report.md`` with the arms, the findings and the three figures, in `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = sorted(set(study.runs["seed"]))
    lines = [
        "# Optimizer study",
        "",
        f"- score: `{study.metric}` (dB); federated: the server's held-out evaluation after "
        "each round; centralized: the validation share after each epoch. *final*: the last "
        "step's score; *test*: the best-validation epoch on the test share.",
        f"- trials: {len(study.runs)} ({', '.join(study.engines)}); seeds {seeds}"
        + (f"; left out, unfinished: {', '.join(study.unfinished)}" if study.unfinished else "")
        + (f"; left out, repeats: {', '.join(study.repeats)}" if study.repeats else ""),
        f"- baseline optimizer: {baseline}",
        "",
        "## Findings",
        "",
        markdown(pd.DataFrame([f.row(study.metric) for f in findings(study, baseline)])),
        "",
        "## Arms (mean ± std over seeds)",
        "",
        markdown(arms_table(study)),
        "",
    ]
    figures = [
        ("Training loss over the first steps per optimizer",
         optimizer_loss_figure(study, out, first)),
        ("Validation score per LR schedule", schedule_figure(study, out, baseline)),
        ("With vs without gradient clipping", clipping_figure(study, out, baseline)),
    ]  # fmt: skip
    for title, path in figures:
        if path is not None:
            lines += [f"## {title}", "", f"![{title}]({path.name})", ""]
    report = out / "report.md"
    report.write_text("\n".join(lines))
    return report
