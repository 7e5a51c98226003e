"""Train a config's task centrally on the pooled client data: the FL reference.

    python experiments/centralized.py --config experiments/configs/semi_fedser.yaml \
        --data experiments/configs/procedural_ser_iemocap_like_data.yaml --folds 5 \
        task.mode=all_labelled centralized.epochs=60 centralized.num_workers=2

    python experiments/centralized.py --config X.yaml --address auto   # a running cluster
    python experiments/centralized.py --config X.yaml --engine local --device cuda
    python experiments/centralized.py --config X.yaml --sklearn svm,logreg --folds 5
    python experiments/centralized.py --compare experiments/configs/se_compare_example.yaml \
        --method "PULSE PN" --seeds 0,1,2 centralized.epochs=25

The same YAML and dotted overrides as experiments/run.py; its `centralized:` section
(epochs, batch_size, num_workers, use_gpu, select, val_fraction, pool, checkpoint_every,
storage_path, run_name: `raysim.centralized_config`) says how this run trains, and a bad
key there is rejected naming it. `rounds`, `sampling` and `strategy` do not apply.
`--compare FILE --method NAME` takes the config of one of se_compare.py's methods
instead (its named config with the compare config applied), so the reference is
recorded under the key that `experiments/se_compare.py` looks up.

Engines: `ray` (default) trains with Ray Train's TorchTrainer, DDP over
`centralized.num_workers` workers (gloo on CPU, nccl with `centralized.use_gpu`),
reporting and checkpointing every epoch through Ray Train; a rerun with the same
`centralized.run_name` and `centralized.storage_path` resumes from its latest checkpoint
(or `--resume-from FOLDER`). `local` trains in this process on `--device`, without Ray.
`--sklearn svm,logreg` fits RBF-SVM / class-balanced logistic-regression baselines on
the same pooled features instead.

The server's held-out set is split into validation rows, which pick the best epoch,
and test rows, on which it is reported (sklearn: the whole held-out set). With
`--folds K` every run is repeated on the K speaker folds (data.held_out.folds=K) and
averaged; `--seeds` repeats it per seed. Each run's test metrics are recorded under a
hash of the config's data and task sections in `--results-dir` (default
results/centralized), where the federated reports find them as the "IID upper bound".
`--out` writes every run (history included) as JSON, `--save-model` the best weights
(one run). A user error is one line on stderr and exit status 2; `--debug` shows its
traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

from raysim.centralized import fold_configs, train_centralized
from raysim.centralized_results import DEFAULT_DIR, save_reference
from raysim.config import (
    ConfigError,
    SimulationConfig,
    parse_config,
    parse_overrides,
    read_yaml_mapping,
)
from raysim.dotted import merge
from raysim.input_checks import check_inputs
from raysim.user_errors import add_debug_flag, run_cli


def write_json(path: Path, body: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, indent=1))


def _ints(text: str) -> list[int]:
    return [int(t) for t in text.split(",") if t.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", help="YAML config (default: built-in defaults)")
    ap.add_argument("--data", type=Path, help="YAML file that replaces the data section")
    ap.add_argument("--compare", type=Path, help="an se_compare config (with --method)")
    ap.add_argument("--method", help="the se_compare method whose config trains")
    ap.add_argument("--engine", choices=("ray", "local"), default="ray",
                    help="ray: Ray Train DDP (default); local: this process, no Ray")  # fmt: skip
    ap.add_argument("--address", help="Ray cluster to join (e.g. auto); default: a local Ray")
    ap.add_argument("--sklearn", help="comma list of sklearn baselines (svm, logreg) instead")
    ap.add_argument("--epochs", type=int, help="= centralized.epochs")
    ap.add_argument("--workers", type=int, help="= centralized.num_workers (Ray Train)")
    ap.add_argument("--select", help="= centralized.select")
    ap.add_argument("--val-fraction", type=float, help="= centralized.val_fraction")
    ap.add_argument("--device", help="local engine: where to train (default: cuda if available)")
    ap.add_argument("--folds", type=int, help="speaker-independent K-fold CV, folds averaged")
    ap.add_argument("--seeds", type=_ints, help="comma list of seeds (default: the config's)")
    ap.add_argument("--resume-from", help="ray engine: a checkpoint folder to continue from")
    ap.add_argument("--results-dir", type=Path, default=DEFAULT_DIR,
                    help="where references are recorded (default: %(default)s)")  # fmt: skip
    ap.add_argument("--no-record", action="store_true", help="do not record the references")
    ap.add_argument("--out", type=Path, help="write every run's summary and history here (JSON)")
    ap.add_argument("--save-model", type=Path, help="write the best epoch's state_dict here")
    add_debug_flag(ap)
    ap.add_argument("overrides", nargs="*", help="dotted key=value overrides")
    args = ap.parse_intermixed_args(argv)
    return run_cli(lambda: run(args), args.debug)


def build_config(args: argparse.Namespace) -> SimulationConfig:
    """The validated config: YAML, its data section replaced by --data, then the flags
    (as centralized.* keys) and the dotted overrides."""
    flags = {"epochs": args.epochs, "num_workers": args.workers, "select": args.select,
             "val_fraction": args.val_fraction}  # fmt: skip
    overrides = [f"centralized.{k}={v}" for k, v in flags.items() if v is not None]
    raw = read_yaml_mapping(args.config, "config file") if args.config else {}
    if (args.compare is None) != (args.method is None):
        raise ConfigError("--compare and --method go together")
    if args.compare is not None:
        raw = compare_method_config(args.compare, args.method)
    if args.data:
        raw = {**raw, "data": read_yaml_mapping(args.data, "data file")}
    return parse_config(merge(raw, parse_overrides([*overrides, *args.overrides])))


def compare_method_config(path: Path, method: str) -> dict[str, Any]:
    """The config `experiments/se_compare.py --config path` runs for `method` (seed 0;
    `--seeds` sets others), as a plain mapping."""
    from raysim.se_compare import METHODS, load_compare_config, method_config

    if method not in METHODS:
        raise ConfigError(f"--method {method!r}: one of {', '.join(METHODS)}")
    configs = Path(__file__).resolve().parent / "configs"
    return method_config(method, load_compare_config(path), 0, configs).model_dump(mode="json")


def run(args: argparse.Namespace) -> int:
    config = build_config(args)
    check_inputs(config)
    if args.sklearn:
        return run_sklearn(args, config)
    started = False
    if args.engine == "ray":
        from raysim.ray_runtime import init_ray

        started = init_ray(address=args.address, state_api=True)  # for Ray Train
    try:
        return run_torch(args, config)
    finally:
        if started:
            from raysim.ray_runtime import shutdown_ray

            shutdown_ray()


def _runs(args: argparse.Namespace, config: SimulationConfig) -> list[SimulationConfig]:
    """One config per (seed, fold)."""
    out = []
    for seed in args.seeds or [config.seed]:
        seeded = parse_config(merge(config.model_dump(), {"seed": seed}))
        out += fold_configs(seeded, args.folds)
    return out


def _fold(config: SimulationConfig) -> int | None:
    held_out = getattr(config.data, "held_out", None)
    return getattr(held_out, "fold", None) if getattr(held_out, "folds", None) else None


def run_torch(args: argparse.Namespace, config: SimulationConfig) -> int:
    select = config.centralized.selection_metric(config.task.name)
    runs: list[dict[str, Any]] = []
    configs = _runs(args, config)
    if args.save_model and len(configs) > 1:
        raise ConfigError("--save-model: one run only (no --folds / several --seeds)")
    for run_config in configs:
        fold = _fold(run_config)
        tag = f"seed {run_config.seed}" + (f" fold {fold}" if fold is not None else "")

        def show(record: dict[str, float], tag: str = tag) -> None:
            print(f"{tag}  epoch {record['epoch']:4d}  train_loss {record['train_loss']:.4f}  "
                  f"val_{select} {record['val_' + select]:.3f}  {record['seconds']:.1f} s",
                  flush=True)  # fmt: skip

        if args.engine == "ray":
            from raysim.centralized_train import train_centralized_ray

            c = run_config.centralized
            if c.run_name and len(configs) > 1:  # one Ray Train run (and checkpoint) per run
                name = f"{c.run_name}-s{run_config.seed}" + (
                    f"-f{fold}" if fold is not None else ""
                )
                run_config = parse_config(merge(run_config.model_dump(),
                                                {"centralized": {"run_name": name}}))  # fmt: skip
            result = train_centralized_ray(run_config, resume_from=args.resume_from,
                                           on_epoch=show)  # fmt: skip
            method = "ray_train"
        else:
            device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
            result = train_centralized(run_config, device=device, on_epoch=show)
            method = "local"
        summary = {"method": method, "seed": run_config.seed, "fold": fold,
                   "best_epoch": result.best_epoch, "n_train": result.n_train,
                   "n_val": result.n_val, "n_test": result.n_test,
                   "test": result.test_metrics}  # fmt: skip
        print(json.dumps(summary), flush=True)
        runs.append({**summary, "select": select, "history": result.history})
        if not args.no_record:
            c = run_config.centralized
            extra = {"epochs": c.epochs, "best_epoch": result.best_epoch,
                     "workers": c.num_workers if method == "ray_train" else 1}  # fmt: skip
            save_reference(run_config, method, result.test_metrics, seed=run_config.seed,
                           folder=args.results_dir, extra=extra)  # fmt: skip
        if args.out:  # what has run so far survives an interrupted sweep of folds
            write_json(args.out, {"config": config.model_dump(mode="json"), "runs": runs})
        if args.save_model:
            args.save_model.parent.mkdir(parents=True, exist_ok=True)
            torch.save(result.state_dict, args.save_model)
    print(summary_table(runs, select))
    return 0


def run_sklearn(args: argparse.Namespace, config: SimulationConfig) -> int:
    from raysim.sklearn_baseline import METHODS, run_baseline

    methods = [m.strip() for m in args.sklearn.split(",") if m.strip()]
    for method in methods:
        if method not in METHODS:
            raise ConfigError(f"--sklearn {method!r}: one of {', '.join(METHODS)}")
    runs: list[dict[str, Any]] = []
    for method in methods:
        for run_config in _runs(args, config):
            result = run_baseline(run_config, method)
            summary = {"method": f"sklearn_{method}", "seed": run_config.seed,
                       "fold": _fold(run_config), "n_train": result.n_train,
                       "n_test": result.n_test, "test": result.metrics}  # fmt: skip
            print(json.dumps(summary), flush=True)
            runs.append(summary)
            if not args.no_record:
                save_reference(run_config, summary["method"], result.metrics,
                               seed=run_config.seed, folder=args.results_dir)  # fmt: skip
    if args.out:
        write_json(args.out, {"config": config.model_dump(mode="json"), "runs": runs})
    print(summary_table(runs, "uar"))
    return 0


# scores that are shares (shown in %); others (SI-SDRi, SDR in dB, losses) as they are
SHARES = ("uar", "accuracy", "recall", "f1", "stoi")


def summary_table(runs: list[dict[str, Any]], metric: str) -> str:
    """Per method and seed: the test `metric` per fold (a share in %) and its mean."""
    scale, unit = (100, " (%)") if metric.startswith(SHARES) else (1, "")
    lines = [f"method | seed | test {metric} per fold{unit} | mean", "--- | --- | --- | ---"]
    keys = dict.fromkeys((r["method"], r["seed"]) for r in runs)
    for method, seed in keys:
        values = [
            scale * r["test"][metric] for r in runs if (r["method"], r["seed"]) == (method, seed)
        ]
        cells = " ".join(f"{v:.1f}" for v in values)
        lines.append(f"{method} | {seed} | {cells} | {sum(values) / len(values):.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
