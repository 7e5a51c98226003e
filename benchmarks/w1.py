"""W1 of the reference workloads (WORKLOADS.md) through raysim's public API.

usage: python benchmarks/w1.py [--data w1.npz] [--workers 2] [--workloads DIR]
prints one JSON line: system, workload, wall_s (process start → after Ray
shutdown), run_s (the rounds alone), peak_rss_mb / peak_pss_mb (whole process
tree, Ray's processes included), metric (final test accuracy), workers.
"""

# first: start the clock early
from _harness import WORKLOADS_HELP, TreeMonitor, run_workload, workload_file

MON = TreeMonitor()

import argparse  # noqa: E402

import numpy as np  # noqa: E402

from raysim.data.sources import NpzParams, npz  # noqa: E402
from raysim.engine.sampling import FixedSchedule  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", help="W1 .npz from workloads.py dump w1 (default: dump it once)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--workloads", help=WORKLOADS_HELP)
    a = ap.parse_args()
    path = workload_file("w1", a.data)
    with np.load(path) as f:
        schedule, rounds = f["schedule"], int(f["rounds"])
        lr, batch, epochs = float(f["lr"]), int(f["batch"]), int(f["epochs"])
    config = {
        "seed": 0,
        "rounds": rounds,
        "task": {"name": "feature_classification", "hidden": [128, 128]},
        "data": {"source": "npz", "path": str(path)},
        "local": {
            "optimizer": {"name": "sgd", "lr": lr},
            "batch_size": batch,
            "epochs": epochs,
            "shuffle": False,  # WORKLOADS.md: one epoch walks the stored order
        },
        "strategy": {"name": "fedavg", "weighting": "samples"},
        "engine": {"num_workers": a.workers},
        "eval": {"every": 0},
    }
    data = npz(NpzParams(source="npz", path=str(path)), seed=0)
    run_workload(MON, "w1", config, data, FixedSchedule(schedule), a.workers, "accuracy")


if __name__ == "__main__":
    main()
