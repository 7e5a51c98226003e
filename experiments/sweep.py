"""Run a Ray Tune sweep of federated simulations, then print the results and write the report.

    python experiments/sweep.py                                  # the default sweep
    python experiments/sweep.py --config experiments/configs/optimizer_ablation.yaml
    python experiments/sweep.py --address auto config.rounds=10 tune.scheduler.name=asha
    python experiments/sweep.py --resume                         # continue the latest one
    python experiments/sweep.py --config experiments/configs/optimizer_study_se.yaml --centralized

Overrides are dotted keys of the sweep file (`config.*` for the simulation).
Results go to STORAGE/NAME (default NAME: the sweep's name and the start time);
`--resume` continues STORAGE/NAME (default: the newest experiment of this sweep)
without repeating finished trials. A local Ray starts unless `--address` or
$RAY_ADDRESS names a running cluster. A user error (a bad key or value, a missing
data path) is one line on stderr and exit status 2; `--debug` shows its traceback.

`--centralized` trains the same grid centrally instead: each trial one Ray Train fit
(TorchTrainer inside the Tune trial) of the trial's config on the pooled client data, as
its `config.centralized` section says (`raysim.sweep.centralized`); it prints each
trial's final validation and test scores (no sweep report: `analysis/optimizer_study.py`
draws a federated and a centralized experiment side by side).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from raysim.config import ConfigError
from raysim.ray_runtime import shutdown_ray
from raysim.sweep import Sweep, experiment_path, load_sweep, run_sweep, saved_sweep
from raysim.sweep.runner import DEFAULT_STORAGE, SPEC_FILE
from raysim.user_errors import add_debug_flag, run_cli

DEFAULT_CONFIG = Path(__file__).parent / "configs" / "sweep_default.yaml"


def _latest(storage: Path, name: str) -> Path:
    found = sorted(storage.glob(f"{name}-*/{SPEC_FILE}"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise ConfigError(f"--resume: no experiment of sweep {name!r} under {storage}")
    return found[-1].parent


def _experiment(args: argparse.Namespace) -> tuple[Path, object]:
    if args.resume:
        if args.overrides:
            raise ConfigError("--resume continues the saved sweep: overrides are not allowed")
        if args.name:
            path = experiment_path(args.storage, args.name)
        else:
            path = _latest(Path(args.storage).resolve(), load_sweep(args.config).name)
        return path, saved_sweep(path)
    sweep = load_sweep(args.config, args.overrides)
    kind = "-centralized" if args.centralized else ""
    name = args.name or f"{sweep.name}{kind}-{time.strftime('%Y%m%d-%H%M%S')}"
    return experiment_path(args.storage, name), sweep


def run(args: argparse.Namespace) -> int:
    path, sweep = _experiment(args)
    if args.centralized:
        return run_centralized(sweep, path, args)
    outcome = run_sweep(sweep, path, resume=args.resume, address=args.address)
    shutdown_ray()  # the results are files from here on; Ray's own exit is ~1 s slower
    if outcome.interrupted:
        print(
            f"\ninterrupted with {outcome.unfinished} trials unfinished; continue with:\n"
            f"  python experiments/sweep.py --resume --storage {path.parent} --name {path.name}",
            file=sys.stderr,
        )
        return 130
    from raysim.analysis import print_summary, write_report
    from raysim.sweep.results import load_experiment

    experiment = load_experiment(path)
    print_summary(experiment)
    if not args.no_report:
        print(f"report: {write_report(experiment)}")
    print(f"results: {path}  (tensorboard --logdir {path})")
    return 1 if outcome.results.num_errors else 0


def run_centralized(sweep: Sweep, path: Path, args: argparse.Namespace) -> int:
    """The sweep's grid trained centrally (Ray Train in Tune trials); a table of trials."""
    from raysim.sweep.centralized import TEST_PREFIX, centralized_metric, run_centralized_sweep

    outcome = run_centralized_sweep(sweep, path, resume=args.resume, address=args.address)
    shutdown_ray()
    if outcome.interrupted:
        print(f"\ninterrupted with {outcome.unfinished} trials unfinished; continue with:\n"
              f"  python experiments/sweep.py --config {args.config} --centralized --resume "
              f"--storage {path.parent} --name {path.name}", file=sys.stderr)  # fmt: skip
        return 130
    val = centralized_metric(sweep.spec.tune.metric)
    test = TEST_PREFIX + sweep.spec.tune.metric.removeprefix("eval_")
    print(f"trial | params | epochs | final {val} | {test} (best epoch)")
    for result in outcome.results:
        m = result.metrics or {}
        print(
            f"{m.get('trial_id')} | {result.config} | {m.get('epoch')} | "
            f"{m.get(val, float('nan')):.4f} | {m.get(test, float('nan')):.4f}"
        )
    print(f"results: {path}")
    return 1 if outcome.results.num_errors else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", default=str(DEFAULT_CONFIG), help="sweep YAML file")
    ap.add_argument("--address", default=os.environ.get("RAY_ADDRESS"), help="e.g. 'auto'")
    ap.add_argument("--name", help="experiment name (directory under --storage)")
    ap.add_argument("--storage", default=str(DEFAULT_STORAGE), help="experiments directory")
    ap.add_argument("--resume", action="store_true", help="continue an interrupted sweep")
    ap.add_argument("--no-report", action="store_true", help="skip the analysis report")
    ap.add_argument(
        "--centralized", action="store_true", help="train centrally: Ray Train in Tune trials"
    )
    add_debug_flag(ap)
    ap.add_argument("overrides", nargs="*", help="dotted key=value overrides of the sweep file")
    args = ap.parse_args(argv)
    return run_cli(lambda: run(args), args.debug)


if __name__ == "__main__":
    sys.exit(main())
