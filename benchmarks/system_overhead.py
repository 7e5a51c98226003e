"""Wall cost per aggregated client update: FedBuff vs sync, in one session.

usage: python benchmarks/system_overhead.py [--data w1.npz] [--workers 2] [--rounds 30]
           [--concurrency 200] [--buffer 100] [--repeats 1] [--workloads DIR]

W1's data, model and local work (WORKLOADS.md), 100 clients a round drawn uniformly,
log-normal client speeds (σ = 1). Both modes run in the same Ray session, alternating
(sync, fedbuff, sync, ...), each after its actors have started: `run_s` is the rounds
alone. Sync aggregates 100 updates a round; FedBuff `--buffer` a server update over
rounds × 100 / buffer updates, so both aggregate the same number of client updates. The
clients FedBuff trains that are still in flight at the end count against it. Prints one
JSON line: each mode's seconds per aggregated update (median over repeats) and the
ratio fedbuff / sync.
"""

# first: start the clock early
from _harness import WORKLOADS_HELP, TreeMonitor, emit, workload_file

MON = TreeMonitor()

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import raysim  # noqa: E402
from raysim.data.sources import NpzParams, npz  # noqa: E402
from raysim.ray_runtime import init_ray, shutdown_ray  # noqa: E402


def per_update_s(config: dict, data, rounds: int) -> tuple[float, int, float]:
    """(seconds per aggregated client update, updates aggregated, final accuracy)."""
    config = {**config, "rounds": rounds}
    with raysim.Simulation(config, data=data) as sim:
        sim.wait_ready()
        t0 = time.perf_counter()
        history = [sim.run_round() for _ in range(rounds)]
        run_s = time.perf_counter() - t0
        accuracy = sim.evaluate()["accuracy"]
    aggregated = sum(h["reporting"] for h in history)
    return run_s / aggregated, aggregated, accuracy


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", help="W1 .npz from workloads.py dump w1 (default: dump it once)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=30, help="sync rounds of 100 clients")
    ap.add_argument("--concurrency", type=int, default=200, help="FedBuff's M")
    ap.add_argument("--buffer", type=int, default=100, help="FedBuff's K")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--workloads", help=WORKLOADS_HELP)
    a = ap.parse_args()
    path = workload_file("w1", a.data)
    with np.load(path) as f:
        lr, batch, epochs = float(f["lr"]), int(f["batch"]), int(f["epochs"])
    base = {
        "seed": 0,
        "task": {"name": "feature_classification", "hidden": [128, 128]},
        "data": {"source": "npz", "path": str(path)},
        "sampling": {"clients_per_round": 100},
        "local": {
            "optimizer": {"name": "sgd", "lr": lr},
            "batch_size": batch,
            "epochs": epochs,
            "shuffle": False,
        },
        "strategy": {"name": "fedavg", "weighting": "samples"},
        "engine": {"num_workers": a.workers},
        "eval": {"every": 0},
    }
    speeds = {"speed": {"median": 100.0, "sigma": 1.0}}
    sync = {**base, "system": {**speeds, "mode": "sync"}}
    fedbuff = {
        **base,
        "system": {**speeds, "mode": "fedbuff", "concurrency": a.concurrency,
                   "buffer_size": a.buffer},
    }  # fmt: skip
    data = npz(NpzParams(source="npz", path=str(path)), seed=0)
    updates = a.rounds * 100 // a.buffer
    init_ray(num_cpus=a.workers)
    cost: dict[str, list[float]] = {"sync": [], "fedbuff": []}
    accuracy: dict[str, float] = {}
    for _ in range(a.repeats):
        for mode, config, rounds in (("sync", sync, a.rounds), ("fedbuff", fedbuff, updates)):
            seconds, _, accuracy[mode] = per_update_s(config, data, rounds)
            cost[mode].append(seconds)
    shutdown_ray()
    MON.sample()
    MON.stop()
    sync_s, fedbuff_s = (statistics.median(cost[m]) for m in ("sync", "fedbuff"))
    emit({
        "system": "raysim", "benchmark": "system_overhead", "workload": "w1",
        "workers": a.workers, "rounds": a.rounds, "concurrency": a.concurrency,
        "buffer": a.buffer, "repeats": a.repeats,
        "sync_ms_per_update": round(1e3 * sync_s, 4),
        "fedbuff_ms_per_update": round(1e3 * fedbuff_s, 4),
        "ratio": round(fedbuff_s / sync_s, 3),
        "sync_accuracy": round(accuracy["sync"], 4),
        "fedbuff_accuracy": round(accuracy["fedbuff"], 4),
        "wall_s": round(MON.wall_s(), 3),
        "peak_pss_mb": round(MON.peak_pss / 2**20, 1),
    })  # fmt: skip


if __name__ == "__main__":
    main()
