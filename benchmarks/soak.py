"""Soak: memory of every process over a long run of a W1-sized federation.

usage: python benchmarks/soak.py [--rounds 2000] [--every 100] [--warmup 200]
           [--workers 2] [--workloads DIR]

W1's data, model and local work (WORKLOADS.md: 1,000 clients, 100 a round, MLP
88-128-128-4), its clients sampled by raysim (fraction 0.1) for `--rounds` rounds. Every
`--every` rounds it records the RSS and PSS of each process (this driver, the
aggregator, each worker, the raylet, the GCS), then fits a line to each series after
`--warmup` rounds. The object store lives in the raylet (its pages in use count in the
raylet's RSS); Ray's own object-store statistics need grpcio, which a minimal Ray
lacks. Prints one JSON line: the samples, the slope of each process in MB per 100
rounds, and `ok` when no process grows by `--bar` or more (default 1 MB per 100 rounds).
On a machine short of memory, read PSS: RSS counts every shared page (torch's libraries)
in full in each process, and falls by that much whenever the kernel drops them.
"""

import argparse
import json
import time

import numpy as np
import psutil
from _harness import WORKLOADS_HELP, workload_file

MB = 2**20


def engine_pids() -> dict[str, int]:
    """Process name -> pid of the engine's alive actors (aggregator, workers)."""
    from ray._private import state

    found, n = {}, 0
    for actor in state.actors().values():
        if actor.get("State") != "ALIVE" or not actor.get("Pid"):
            continue
        if actor.get("ActorClassName") == "Aggregator":
            found["aggregator"] = actor["Pid"]
        elif actor.get("ActorClassName") == "WorkerActor":
            found[f"worker{n}"] = actor["Pid"]
            n += 1
    return found


def ray_pids() -> dict[str, int]:
    """The raylet and GCS this process started."""
    found = {}
    for child in psutil.Process().children(recursive=True):
        try:
            name = child.name()
        except psutil.Error:
            continue
        if name in ("raylet", "gcs_server"):
            found[name] = child.pid
    return found


def sample(pids: dict[str, int]) -> dict[str, dict[str, float]]:
    """RSS and PSS (MB) of each named process."""
    out = {}
    for name, pid in pids.items():
        try:
            mem = psutil.Process(pid).memory_full_info()
        except psutil.Error:
            continue
        out[name] = {"rss": mem.rss / MB, "pss": getattr(mem, "pss", mem.rss) / MB}
    return out


def slope_per_100(rounds: list[int], values: list[float]) -> float:
    """Least-squares growth of `values` per 100 rounds."""
    if len(rounds) < 2:
        return float("nan")
    return float(np.polyfit(np.asarray(rounds, float), np.asarray(values, float), 1)[0] * 100)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2000)
    ap.add_argument("--every", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=200, help="rounds left out of the fit")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--bar", type=float, default=1.0, help="MB per 100 rounds per process")
    ap.add_argument("--data", help="W1 .npz from workloads.py dump w1 (default: dump it once)")
    ap.add_argument("--workloads", help=WORKLOADS_HELP)
    a = ap.parse_args()

    import raysim
    from raysim.ray_runtime import init_ray, shutdown_ray

    path = workload_file("w1", a.data)
    with np.load(path) as f:
        lr, batch, epochs = float(f["lr"]), int(f["batch"]), int(f["epochs"])
    config = {
        "seed": 0,
        "rounds": a.rounds,
        "task": {"name": "feature_classification", "hidden": [128, 128]},
        "data": {"source": "npz", "path": str(path)},
        "sampling": {"fraction": 0.1},
        "local": {"optimizer": {"name": "sgd", "lr": lr}, "batch_size": batch, "epochs": epochs},
        "strategy": {"name": "fedavg", "weighting": "samples"},
        "engine": {"num_workers": a.workers},
        "eval": {"every": 0},
    }
    init_ray(num_cpus=a.workers)
    samples: list[dict] = []
    t0 = time.perf_counter()
    with raysim.Simulation(config) as sim:
        sim.wait_ready()
        pids = {"driver": psutil.Process().pid, **engine_pids(), **ray_pids()}
        for r in range(1, a.rounds + 1):
            sim.run_round()
            if r % a.every == 0:
                samples.append({
                    "round": r, "s": round(time.perf_counter() - t0, 1),
                    "mb": {k: {m: round(v, 2) for m, v in mem.items()}
                           for k, mem in sample(pids).items()},
                })  # fmt: skip
    shutdown_ray()
    fit = [s for s in samples if s["round"] > a.warmup]
    rounds = [s["round"] for s in fit]
    slopes = {
        name: {m: round(slope_per_100(rounds, [s["mb"][name][m] for s in fit]), 3)
               for m in ("rss", "pss")}
        for name in pids if all(name in s["mb"] for s in fit)
    }  # fmt: skip
    worst = max(v for per in slopes.values() for v in per.values())  # growth; shrinking is fine
    print(json.dumps({
        "benchmark": "soak", "rounds": a.rounds, "every": a.every, "warmup": a.warmup,
        "workers": a.workers, "samples": samples, "slope_mb_per_100_rounds": slopes,
        "worst_slope": worst, "bar": a.bar, "ok": worst < a.bar,
    }), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
