"""Semi-FedSER against its baselines: modes × strategies × seeds from one config.

    python experiments/semi_fedser.py --config experiments/configs/semi_fedser_urdu.yaml \
        data.path=/tmp/urdu_egemaps --modes semi,labelled_only,all_labelled \
        --strategies scaffold,fedavg --seeds 0,1,2 --out runs/semi_fedser/urdu.json

    RAYSIM_CACHE=/tmp/raysim python experiments/semi_fedser.py \
        --data experiments/configs/procedural_ser_hard_data.yaml rounds=200 ...

Each run is one `raysim.Simulation` of `experiments/configs/semi_fedser.yaml` (or
--config), its data section replaced by --data if given, with the dotted
overrides, then `task.mode`, `strategy.name` and `seed` set per run. With `--folds k`
each run is repeated on the k speaker folds and its UAR averaged. Prints a
table of final-round UAR per seed and its mean, and per seed the pseudo-labels made
over the run with their accuracy when made and that of those in use at the end;
`--out` writes every run's summary and history as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

import raysim
from raysim.config import ConfigError, load_config, parse_config, parse_overrides
from raysim.dotted import merge
from raysim.input_checks import check_inputs
from raysim.ray_runtime import init_ray
from raysim.tasks.semi_ser_params import PSEUDO_LABEL_MODES

DEFAULT_CONFIG = Path(__file__).parent / "configs" / "semi_fedser.yaml"


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


#: a named set of dotted overrides (a mode, or a method's options)
Variant = tuple[str, dict[str, Any]]


def variants(modes: list[str], named: list[list[str]] | None) -> list[Variant]:
    """One variant per mode, named after it, then each `--variant NAME KEY=VALUE ...`."""
    out: list[Variant] = [(mode, {"task": {"mode": mode}}) for mode in modes]
    for name, *overrides in named or []:
        out.append((name, parse_overrides(overrides)))
    return out


#: rounds at the end of a run over which the pseudo-labels in use are summarised
TAIL = 20


def summarize(history: list[dict[str, Any]]) -> dict[str, Any]:
    """Final evaluation plus pseudo-label totals over the run (Σ over rounds of the
    cohort's counters): every label made (Σ pseudo_new) and its accuracy when made,
    those expired (Σ pseudo_dropped, re-scoring only), and over the last `TAIL` rounds
    the mean pseudo-labelled rows a cohort trained on and their accuracy."""
    final = [r for r in history if "eval_uar" in r][-1]
    made = sum(r.get("pseudo_new", 0.0) for r in history)
    right = sum(r.get("pseudo_new_correct", 0.0) for r in history)
    tail = history[-TAIL:]
    used = sum(r.get("pseudo_labels", 0.0) for r in tail)
    used_right = sum(r.get("pseudo_correct", 0.0) for r in tail)
    return {
        "uar": final["eval_uar"],
        "accuracy": final["eval_accuracy"],
        "f1": final["eval_f1"],
        "pseudo_made": int(made),
        "pseudo_accuracy": right / made if made else None,
        "pseudo_dropped": int(sum(r.get("pseudo_dropped", 0.0) for r in history)),
        "pseudo_in_use": used / len(tail),
        "pseudo_in_use_accuracy": used_right / used if used else None,
        "rounds": len(history),
    }


def run_one(
    base: dict[str, Any], variant: Variant, strategy: str, seed: int, fold: int | None = None
) -> dict[str, Any]:
    """One simulation of a variant (on one cross-validation fold if `fold` is given);
    returns its summary and history."""
    name, overrides = variant
    cfg = merge(merge(base, overrides), {"seed": seed, "strategy": {"name": strategy}})
    if fold is not None:
        cfg = merge(cfg, {"data": {"held_out": {"fold": fold}}})
    result = raysim.Simulation(cfg).run(progress=False)
    mode = cfg["task"]["mode"]
    return {"variant": name, "mode": mode, "strategy": strategy, "seed": seed, "fold": fold,
            **summarize(result.history), "warnings": result.warnings,
            "history": result.history}  # fmt: skip


def fold_mean(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One seed's runs over all folds as one row: UAR, accuracy and F1 averaged over
    the folds (as CV results are reported), pseudo-label counts summed."""
    made = sum(r["pseudo_made"] for r in runs)
    right = sum(r["pseudo_made"] * (r["pseudo_accuracy"] or 0.0) for r in runs)
    in_use = sum(r["pseudo_in_use"] for r in runs)
    in_use_right = sum(r["pseudo_in_use"] * (r["pseudo_in_use_accuracy"] or 0.0) for r in runs)
    return {
        **{k: runs[0][k] for k in ("variant", "mode", "strategy", "seed")},
        **{k: sum(r[k] for r in runs) / len(runs) for k in ("uar", "accuracy", "f1")},
        "pseudo_made": made,
        "pseudo_accuracy": right / made if made else None,
        "pseudo_in_use_accuracy": in_use_right / in_use if in_use else None,
        "folds": [r["uar"] for r in runs],
    }


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _pseudo_cell(run: dict[str, Any]) -> str:
    """Pseudo-labels made / their accuracy when made / that of those in use; a
    pseudo-labelling mode that made none says it trained as labelled-only."""
    made = run["pseudo_made"]
    if made:
        return f"{made} / {_pct(run['pseudo_accuracy'])} / {_pct(run['pseudo_in_use_accuracy'])}"
    return "0 pseudo-labels: same as labelled-only" if run["mode"] in PSEUDO_LABEL_MODES else "-"


def table(runs: list[dict[str, Any]], seeds: list[int]) -> str:
    """Per-seed and mean UAR (%) per strategy and mode, then per seed the pseudo-labels
    made and their accuracy (%) when made, and the accuracy (%) of those in use over
    the last `TAIL` rounds."""
    head = ["strategy", "variant", *(f"seed {s}" for s in seeds), "mean UAR"]
    head += [f"PL made / acc / in-use acc, seed {s}" for s in seeds]
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    keys = dict.fromkeys((r["strategy"], r["variant"]) for r in runs)
    for strategy, variant in keys:
        rs = [r for r in runs if (r["strategy"], r["variant"]) == (strategy, variant)]
        uars = [100 * r["uar"] for r in rs]
        cells = [strategy, variant, *(f"{u:.1f}" for u in uars), f"{sum(uars) / len(uars):.1f}"]
        cells += [_pseudo_cell(r) for r in rs]
        lines.append(" | ".join(cells))
    return "\n".join(lines)


def references(base: dict[str, Any], runs_of: list[Variant], folds: int | None) -> list[str]:
    """The centralized references (`experiments/centralized.py`) recorded for each
    variant's data and task, averaged over the folds: the IID upper bound lines."""
    from raysim.centralized_results import fold_reference_lines

    out = []
    for name, overrides in runs_of:
        cfg = merge(base, overrides)
        each = [merge(cfg, {"data": {"held_out": {"fold": k}}}) for k in range(folds or 0)]
        out += fold_reference_lines([parse_config(c) for c in each or [cfg]], "uar", name)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", default=str(DEFAULT_CONFIG), help="YAML config")
    ap.add_argument("--data", type=Path, help="YAML file that replaces the data section")
    ap.add_argument("--modes", default="semi,labelled_only,all_labelled,fixmatch", type=_csv)
    ap.add_argument(
        "--variant",
        nargs="+",
        action="append",
        metavar="NAME KEY=VALUE",
        help="a named run with its own overrides, e.g. --variant da task.mode=consistency "
        "task.consistency_alignment=labelled (repeatable; runs after --modes, which may be "
        "empty: --modes '')",
    )
    ap.add_argument("--strategies", type=_csv, help="default: the config's strategy")
    ap.add_argument("--seeds", default="0,1,2", type=lambda t: [int(s) for s in _csv(t)])
    ap.add_argument(
        "--folds",
        type=int,
        help="speaker-independent k-fold CV (the paper's protocol): every run on each of "
        "the k folds (data.held_out.folds=k), UAR averaged over the folds",
    )
    ap.add_argument("--out", type=Path, help="write summaries and histories here (JSON)")
    ap.add_argument("overrides", nargs="*", help="dotted key=value overrides")
    args = ap.parse_intermixed_args(argv)
    try:
        config = load_config(args.config)
        if args.data:
            data = yaml.safe_load(args.data.read_text())
            config = parse_config({**config.model_dump(), "data": data})
        config = parse_config(merge(config.model_dump(), parse_overrides(args.overrides)))
        if args.folds:
            folds = {"data": {"held_out": {"folds": args.folds, "groups": None}}}
            config = parse_config(merge(config.model_dump(), folds))
        check_inputs(config)  # a missing data.path, before Ray starts
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    base = config.model_dump()
    strategies = args.strategies or [config.strategy.name]
    try:
        runs_of = variants(args.modes, args.variant)
        for _, overrides in runs_of:  # every variant validated before Ray starts
            parse_config(merge(base, overrides))
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    init_ray()
    runs, rows = [], []
    for strategy in strategies:
        for variant in runs_of:
            for seed in args.seeds:
                seed_runs = []
                for fold in range(args.folds) if args.folds else [None]:
                    run = run_one(base, variant, strategy, seed, fold)
                    seed_runs.append(run)
                    shown = {k: v for k, v in run.items() if k != "history"}
                    print(json.dumps(shown), file=sys.stderr, flush=True)
                runs += seed_runs
                rows.append(fold_mean(seed_runs) if args.folds else seed_runs[0])
    print(table(rows, args.seeds))
    for line in references(base, runs_of, args.folds):
        print(line)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"config": base, "runs": runs}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
