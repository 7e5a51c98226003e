"""W2 of the reference workloads (WORKLOADS.md) through raysim's public API.

usage: python benchmarks/w2.py [--data w2.npz] [--workers 2] [--workloads DIR]
prints one JSON line: system, workload, wall_s (process start → after Ray
shutdown), run_s (the rounds alone), peak_rss_mb / peak_pss_mb (whole process
tree, Ray's processes included), metric (final test SI-SNRi, dB, oracle slot),
workers.
"""

# first: start the clock early
from _harness import WORKLOADS_HELP, TreeMonitor, run_workload, workload_file

MON = TreeMonitor()

import argparse  # noqa: E402

import numpy as np  # noqa: E402

from raysim.data.se_sources import NpzW2Params, npz_w2  # noqa: E402
from raysim.engine.sampling import FixedSchedule  # noqa: E402


def w2_config(path: str, rounds: int, lr: float, batch: int, epochs: int, workers: int) -> dict:
    """W2 as a raysim config: workloads.W2Separator (= ConvTasNet defaults), MixIT over
    all 16 assignments with −SI-SNR, Adam, MoMs of consecutive mixtures in stored
    order, FedAvg by mixtures, oracle-slot SI-SNRi at the end only."""
    return {
        "seed": 0,
        "rounds": rounds,
        "task": {
            "name": "speech_enhancement",
            "model": "convtasnet",
            "standardize": False,
            "objectives": {"unsupervised": "mixit_general"},
            "mixit": {"pair_loss": "neg_si_snr"},
            "eval": {"metrics": ["si_snri"], "slot": "oracle", "batch_size": 16},
        },
        "data": {"source": "npz_w2", "path": path},
        "local": {
            "optimizer": {"name": "adam", "lr": lr},
            "batch_size": batch,  # mixtures of mixtures
            "epochs": epochs,
            "shuffle": False,  # WORKLOADS.md: one epoch walks the stored order
        },
        "strategy": {"name": "fedavg", "weighting": "samples"},
        "engine": {"num_workers": workers, "torch_threads": 1},
        "eval": {"every": 0},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", help="W2 .npz from workloads.py dump w2 (default: dump it once)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--workloads", help=WORKLOADS_HELP)
    a = ap.parse_args()
    path = workload_file("w2", a.data)
    with np.load(path) as f:
        schedule, rounds = f["schedule"], int(f["rounds"])
        lr, batch, epochs = float(f["lr"]), int(f["batch"]), int(f["epochs"])
    config = w2_config(str(path), rounds, lr, batch, epochs, a.workers)
    data = npz_w2(NpzW2Params(source="npz_w2", path=str(path)), seed=0)
    run_workload(MON, "w2", config, data, FixedSchedule(schedule), a.workers, "si_snri")


if __name__ == "__main__":
    main()
