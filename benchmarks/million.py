"""One million clients: W3's shape (WORKLOADS.md) on clients stored in Parquet shards.

W1's model and local work, N clients of 20 samples each, 1,000 sampled a round (the
reference schedule), 5 rounds, 2 workers, through `raysim.Simulation` as w3.py runs it,
but the clients' data is written once to Parquet shards (`raysim.data.parquet_clients`)
from the reference generator and read by the workers, a client's row group at a time:
the driver and the aggregator hold only the per-client sample counts.

usage: python benchmarks/million.py [--n-clients 1000000] [--shards DIR] [--workers 2]
           [--compare [--repeat K] [--page-cache]] [--delete] [--workloads DIR]

Shards are cached in DIR/w3-n{N}-seed{seed} (written once, in a child process, with the
write time and disk size, the held-out set and the schedule kept beside them: the
measured driver never imports the reference workloads, nor torch with them). A run
prints one JSON line: the write time and size, each round's wall seconds and their
median, and per process (driver, aggregator, workers) the peak RSS and PSS in MB,
sampled every 0.25 s from process start (the driver) or actor start. --compare runs
N=100,000 and N=1,000,000 one after the other, each in a fresh process (one Ray at a
time), and prints one JSON line with both runs and the ratios 10^6/10^5 of driver and
aggregator peak memory and of the median round time (the issue's bar: memory <= 1.1x,
round time independent of N); --repeat K alternates K such pairs (medians over them).
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from _harness import WORKLOADS_HELP, emit, reference_workloads

MB = 2**20
COMPARE = (100_000, 1_000_000)
WRITE_STATS = "bench_write.json"
#: W3's held-out set, schedule and local-work numbers, saved beside the shards so that a
#: run never imports the reference workloads (and torch with them) into the driver
RUN_DATA = "w3_run.npz"


def shard_dir(root: Path, n: int, seed: int) -> Path:
    return root / f"w3-n{n}-seed{seed}"


def cached(folder: Path, n: int) -> bool:
    """Whether `folder` holds a complete write of n clients (and its write stats)."""
    from raysim.data.parquet_clients import MANIFEST

    manifest = folder / MANIFEST
    if not all((folder / f).is_file() for f in (MANIFEST, WRITE_STATS, RUN_DATA)):
        return False
    return json.loads(manifest.read_text())["n_clients"] == n


def write_shards(folder: Path, n: int, seed: int) -> dict:
    """Write W3's n clients (generated from (seed, c) by the reference generator)."""
    from raysim.data.clients import GeneratedClients
    from raysim.data.parquet_clients import write_parquet_clients

    W = reference_workloads()
    spec = W.W3
    generator, (x_test, y_test) = W.make_w3(seed, n, spec["per_client"])
    schedule = W.round_schedule(seed, n, spec["per_round"], spec["rounds"])

    def make(c: int) -> dict:
        x, y = generator[c]
        return {"x": x, "y": y}

    t0 = time.perf_counter()
    clients = write_parquet_clients(folder, GeneratedClients(n, make, spec["per_client"]))
    stats = {
        "n_clients": n,
        "write_s": round(time.perf_counter() - t0, 1),
        "disk_mb": round(sum(f.stat().st_size for f in folder.iterdir()) / MB, 1),
        "shards": len(clients.files),
        "row_groups": len(clients.group_first),
    }
    np.savez(
        folder / RUN_DATA, x_test=x_test, y_test=y_test, schedule=np.asarray(schedule),
        **{k: spec[k] for k in ("lr", "batch", "epochs")},
    )  # fmt: skip
    (folder / WRITE_STATS).write_text(json.dumps(stats))
    return stats


def ensure_shards(folder: Path, n: int, seed: int, workloads: str | None) -> dict:
    """The shards' write stats; written first, in a child process, when not cached (so
    that the writer's memory never counts in a measured driver)."""
    if not cached(folder, n):
        cmd = [sys.executable, __file__, "--write", "--n-clients", str(n), "--seed", str(seed)]
        cmd += ["--shards", str(folder.parent)] + (["--workloads", workloads] if workloads else [])
        subprocess.run(cmd, check=True, timeout=3600)
        stats = json.loads((folder / WRITE_STATS).read_text())
        return {**stats, "cached": False}
    return {**json.loads((folder / WRITE_STATS).read_text()), "cached": True}


class Peaks:
    """Peak RSS and PSS (MB) of named processes, sampled every `interval` seconds;
    the engine's actors are added as they appear."""

    def __init__(self, interval: float = 0.25):
        self.pids = {"driver": psutil.Process().pid}
        self.peak: dict[str, dict[str, float]] = {}
        self.interval = interval
        self._want_workers = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def watch_engine(self, n_workers: int) -> None:
        """Look for the aggregator and `n_workers` workers from now on."""
        self._want_workers = n_workers

    def _find_engine(self) -> None:
        from soak import engine_pids

        if self._want_workers and len(self.pids) < self._want_workers + 2:
            try:
                found = engine_pids()
            except Exception:  # GCS not answering yet
                return
            with self._lock:
                self.pids.update(found)

    def sample(self) -> dict[str, dict[str, float]]:
        self._find_engine()
        now = {}
        with self._lock:
            pids = dict(self.pids)
        for name, pid in pids.items():
            try:
                mem = psutil.Process(pid).memory_full_info()
            except psutil.Error:
                continue
            now[name] = {"rss": mem.rss / MB, "pss": mem.pss / MB}
            top = self.peak.setdefault(name, {"rss": 0.0, "pss": 0.0})
            for k in top:
                top[k] = max(top[k], now[name][k])
        return now

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def stop(self) -> dict[str, dict[str, float]]:
        """The last sample (taken now)."""
        self._stop.set()
        self._thread.join()
        return self.sample()


def run(folder: Path, n: int, seed: int, workers: int, write: dict, peaks: Peaks) -> dict:
    """W3 on the shards in `folder`; the result line."""
    import raysim
    from raysim.data.parquet_clients import ParquetClients
    from raysim.data.sources import SourceData
    from raysim.engine.sampling import FixedSchedule
    from raysim.ray_runtime import init_ray, shutdown_ray

    with np.load(folder / RUN_DATA) as f:
        held_out = {"x": f["x_test"], "y": f["y_test"]}
        schedule = f["schedule"]
        lr, batch, epochs = float(f["lr"]), int(f["batch"]), int(f["epochs"])
    clients = ParquetClients.open(folder)
    data = SourceData(clients, held_out, {"input_dim": 88, "num_classes": 4})
    config = {
        "seed": seed,
        "rounds": len(schedule),
        "task": {"name": "feature_classification", "hidden": [128, 128]},
        "local": {
            "optimizer": {"name": "sgd", "lr": lr},
            "batch_size": batch,
            "epochs": epochs,
            "shuffle": False,  # WORKLOADS.md: stored order
        },
        "strategy": {"name": "fedavg", "weighting": "samples"},
        "engine": {"num_workers": workers},
        "eval": {"every": 0},
    }
    init_ray(num_cpus=workers)
    peaks.watch_engine(workers)
    t0 = time.perf_counter()
    sim = raysim.Simulation(config, data=data, sampler=FixedSchedule(schedule)).wait_ready()
    start_s = time.perf_counter() - t0
    ready = peaks.sample()
    rounds, records = [], []
    for _ in range(len(schedule)):
        t = time.perf_counter()
        records.append(sim.run_round())
        rounds.append(time.perf_counter() - t)
    end = peaks.stop()
    sim.shutdown()
    shutdown_ray()

    def mb(per: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        return {k: {m: round(v, 1) for m, v in d.items()} for k, d in sorted(per.items())}

    return {
        "system": "raysim", "workload": "w3-parquet", "n_clients": n, "workers": workers,
        "write": write, "start_s": round(start_s, 2),
        "round_s": [round(s, 3) for s in rounds],
        "median_round_s": round(statistics.median(rounds), 3),
        "aggregator_round_s": [round(r["wall_s"], 3) for r in records],
        "peak_mb": mb(peaks.peak), "ready_mb": mb(ready), "end_mb": mb(end),
        "metric": round(records[-1]["eval_accuracy"], 4),  # the last round evaluates
        "driver_has_torch": "torch" in sys.modules,
    }  # fmt: skip


def read_through(folder: Path) -> float:
    """Read every file of `folder` once (into the OS page cache); the seconds it took."""
    t0 = time.perf_counter()
    for f in sorted(folder.iterdir()):
        with f.open("rb", buffering=0) as stream:
            while stream.read(16 * MB):
                pass
    return time.perf_counter() - t0


def compare(a: argparse.Namespace) -> None:
    """N=10^5 then N=10^6 (`--repeat` times, alternating), each run in a fresh process;
    one line with every run and the ratios 10^6/10^5: of the median over repeats of each
    peak, and of the median of all rounds."""
    root = Path(a.shards)
    for n in COMPARE:
        ensure_shards(shard_dir(root, n, a.seed), n, a.seed, a.workloads)
    runs: dict[int, list[dict]] = {n: [] for n in COMPARE}
    for _ in range(a.repeat):
        for n in COMPARE:
            if a.page_cache:  # both populations start from shards the OS has cached
                seconds = read_through(shard_dir(root, n, a.seed))
                print(f"shards of {n} read into the page cache in {seconds:.1f} s", file=sys.stderr)
            cmd = [sys.executable, __file__, "--n-clients", str(n), "--shards", str(root)]
            cmd += ["--seed", str(a.seed), "--workers", str(a.workers)]
            cmd += ["--workloads", a.workloads] if a.workloads else []
            out = subprocess.run(cmd, check=True, timeout=1800, stdout=subprocess.PIPE, text=True)
            runs[n].append(json.loads([ln for ln in out.stdout.splitlines() if ln[:1] == "{"][-1]))

    def peak(n: int, proc: str, m: str) -> float:
        return statistics.median(r["peak_mb"][proc][m] for r in runs[n])

    def rounds(n: int) -> float:
        return statistics.median(s for r in runs[n] for s in r["round_s"])

    small, big = COMPARE
    ratios = {
        f"{proc}_{m}": round(peak(big, proc, m) / peak(small, proc, m), 3)
        for proc in ("driver", "aggregator") for m in ("rss", "pss")
    }  # fmt: skip
    emit({
        "benchmark": "million", "repeat": a.repeat,
        "runs": {str(n): r for n, r in runs.items()},
        "median_round_s": {str(n): round(rounds(n), 3) for n in COMPARE},
        "ratios": {**ratios, "median_round_s": round(rounds(big) / rounds(small), 3)},
    })  # fmt: skip
    if a.delete:
        for n in COMPARE:
            shutil.rmtree(shard_dir(root, n, a.seed), ignore_errors=True)


def main() -> None:
    peaks = Peaks()  # from process start: the driver's peak includes building the data
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-clients", type=int, default=1_000_000)
    ap.add_argument("--shards", default="/tmp/raysim-million", help="shard cache folder")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--compare", action="store_true", help="N=10^5 and 10^6, and the ratios")
    ap.add_argument("--repeat", type=int, default=1, help="--compare: pairs of runs")
    ap.add_argument("--delete", action="store_true", help="delete the shards at the end")
    ap.add_argument(
        "--page-cache", action="store_true",
        help="--compare: read each population's shards once before its run, so that "
        "neither run waits on the disk (separates the page cache from raysim's reads)",
    )  # fmt: skip
    ap.add_argument("--write", action="store_true", help=argparse.SUPPRESS)  # child: write only
    ap.add_argument("--workloads", help=WORKLOADS_HELP)
    a = ap.parse_args()
    if a.compare:
        peaks.stop()
        compare(a)
        return
    folder = shard_dir(Path(a.shards), a.n_clients, a.seed)
    if a.write:
        peaks.stop()
        print(json.dumps(write_shards(folder, a.n_clients, a.seed)), file=sys.stderr)
        return
    write = ensure_shards(folder, a.n_clients, a.seed, a.workloads)
    emit(run(folder, a.n_clients, a.seed, a.workers, write, peaks))
    if a.delete:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
