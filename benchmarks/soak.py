"""Soak: memory of every process over a long run of a W1-sized federation.

usage: python benchmarks/soak.py [--rounds 2000] [--every 100] [--warmup 200]
           [--workers 2] [--workloads DIR] [--sweep-trial] [--eval-every N]

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

With --sweep-trial the same federation runs as one Ray Tune trial of a sweep (the
sweep's own trainable, reporting every round and checkpointing every 50): the trial's
process (``trial``, which drives the simulation) is recorded beside the others, each
time a round that is a multiple of --every reaches Tune.
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


def run_simulation(config: dict, rounds: int, every: int) -> tuple[list[dict], dict[str, int]]:
    """Run `config` as a plain simulation, sampling memory every `every` rounds; returns
    the samples and the processes sampled (name -> pid)."""
    import raysim

    t0, samples = time.perf_counter(), []
    with raysim.Simulation(config) as sim:
        sim.wait_ready()
        pids = {"driver": psutil.Process().pid, **engine_pids(), **ray_pids()}
        for r in range(1, rounds + 1):
            sim.run_round()
            if r % every == 0:
                samples.append({
                    "round": r, "s": round(time.perf_counter() - t0, 1),
                    "mb": {k: {m: round(v, 2) for m, v in mem.items()}
                           for k, mem in sample(pids).items()},
                })  # fmt: skip
    return samples, pids


def run_sweep_trial(config: dict, workers: int, every: int) -> tuple[list[dict], list[str]]:
    """Run `config` as one trial of a sweep, sampling memory every `every` rounds;
    returns the samples and the names of the processes sampled."""
    import tempfile

    from ray import tune

    from raysim.sweep.spec import TrialSpec
    from raysim.sweep.trainable import make_trainable

    t0, samples, names = time.perf_counter(), [], set()

    class Sampler(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            if result["round"] % every:
                return
            pids = {**engine_pids(), **ray_pids()}
            pids["trial"], pids["driver"] = trial_pid(), psutil.Process().pid
            names.update(pids)
            samples.append({
                "round": result["round"], "s": round(time.perf_counter() - t0, 1),
                "mb": {k: {m: round(v, 2) for m, v in mem.items()}
                       for k, mem in sample(pids).items()},
            })  # fmt: skip

    spec = TrialSpec(workers=workers, worker_cpus=0.5, driver_cpus=0.5, checkpoint_every=50)
    with tempfile.TemporaryDirectory(prefix="raysim-soak-") as storage:
        tune.Tuner(
            make_trainable(config, "train_loss", spec),
            run_config=tune.RunConfig(
                name="soak", storage_path=storage, callbacks=[Sampler()], verbose=0
            ),
        ).fit()
    return samples, sorted(names)


def trial_pid() -> int:
    """The pid of the (single) alive Tune trial actor."""
    from ray._private import state

    for actor in state.actors().values():
        if actor.get("State") == "ALIVE" and actor.get("ActorClassName") == "ImplicitFunc":
            return actor["Pid"]
    raise RuntimeError("no alive Tune trial actor")


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
    ap.add_argument("--sweep-trial", action="store_true", help="run it as one sweep trial")
    ap.add_argument(
        "--eval-every", type=int, default=0,
        help="rounds between evaluations (0: the last round only, whose first evaluation "
        "then allocates its buffers after the warm-up)",
    )  # fmt: skip
    a = ap.parse_args()

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
        "eval": {"every": a.eval_every},
    }
    init_ray(num_cpus=a.workers)
    if a.sweep_trial:
        samples, names = run_sweep_trial(config, a.workers, a.every)
        pids = dict.fromkeys(names, 0)
    else:
        samples, pids = run_simulation(config, a.rounds, a.every)
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
