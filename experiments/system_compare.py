"""Sync vs deadline vs FedBuff in virtual time: the grid of a sweep config, run one after
the other in one Ray session (no Tune), and the comparison table.

usage: python experiments/system_compare.py
           [--config experiments/configs/sweep_system_heterogeneity.yaml]
           [--workers 2] [--out runs/system_compare.json] [--mode-rounds MODE=N]...
           [key=value ...]

Every combination of the sweep's grid keys runs once; overrides (``rounds=10``) apply to
all of them, ``--mode-rounds deadline=90`` to one mode's runs (a mode that is faster in
virtual time may need more rounds to reach sync's final accuracy). Prints the table of
:func:`raysim.system.compare.comparison_table` and writes every run's history to
``--out`` (JSON), the table beside it (``.md``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import raysim
from raysim.config import parse_overrides, read_yaml_mapping
from raysim.dotted import merge
from raysim.ray_runtime import init_ray
from raysim.sweep.space import apply
from raysim.sweep.spec import parse_sweep
from raysim.system.compare import ModeRun, comparison_table
from raysim.user_errors import add_debug_flag, run_cli

DEFAULT = Path(__file__).parent / "configs" / "sweep_system_heterogeneity.yaml"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=str(DEFAULT), help="a sweep YAML with grid keys")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="runs/system_compare.json")
    ap.add_argument("--mode-rounds", action="append", default=[], help="MODE=N (repeatable)")
    ap.add_argument("overrides", nargs="*", help="dotted key=value for every run")
    add_debug_flag(ap)
    a = ap.parse_args(argv)
    return run_cli(lambda: _run(a), a.debug)


def _run(a: argparse.Namespace) -> int:
    sweep = parse_sweep(read_yaml_mapping(a.config, "sweep config"), Path(a.config).stem)
    engine = {"engine": {"num_workers": a.workers, "worker_cpus": 0.5}}
    base = merge(merge(sweep.spec.config, parse_overrides(a.overrides)), engine)
    grid = [[(d.key, v) for v in d.values] for d in sweep.dims if d.kind == "grid"]
    mode_rounds = {m: int(n) for m, n in (pair.split("=", 1) for pair in a.mode_rounds)}
    init_ray(log_to_driver=False)
    runs: list[ModeRun] = []
    for combo in itertools.product(*grid):
        params = dict(combo)
        config = apply(base, params)
        label = config["system"]["mode"]
        if label in mode_rounds:
            config["rounds"] = mode_rounds[label]
        t0 = time.perf_counter()
        result = raysim.Simulation(config).run(progress=False)
        wall = time.perf_counter() - t0
        runs.append(ModeRun(label, int(config.get("seed", 0)), result.history, wall))
        print(f"{label} seed {config.get('seed', 0)}: {result.metrics} ({wall:.1f} s)", flush=True)
    table = comparison_table(runs, "accuracy")
    print(table)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps([vars(r) for r in runs], default=float))
    out.with_suffix(".md").write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
