"""Shared benchmark plumbing: process-tree memory sampling, wall clock from
process start, the reference workloads' data, and the one-line JSON result."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
WORKLOADS_ENV = "RAYSIM_SHARED_BENCH"
WORKLOADS_HELP = f"folder holding the reference workloads.py (default: ${WORKLOADS_ENV})"


def process_start_time() -> float:
    """Epoch time at which this process was created (from /proc, 10 ms exact)."""
    with open("/proc/self/stat") as f:
        start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    return time.time() - (uptime - start_ticks / os.sysconf("SC_CLK_TCK"))


def process_tree(root: psutil.Process) -> list[psutil.Process]:
    """`root` and all its descendants (Ray's GCS, raylet and workers included when
    `root` started Ray); empty once `root` has exited."""
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


class TreeMonitor:
    """Samples RSS and PSS summed over this process and all descendants (Ray's
    GCS, raylet and workers included) every `interval` seconds; keeps the peaks."""

    def __init__(self, interval: float = 0.2):
        self.t0 = process_start_time()
        self.proc = psutil.Process()
        self.interval = interval
        self.peak_rss = self.peak_pss = 0
        self._stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def sample(self) -> None:
        rss = pss = 0
        for p in process_tree(self.proc):
            try:
                mem = p.memory_full_info()
            except (psutil.Error, OSError):
                continue
            rss += mem.rss
            pss += getattr(mem, "pss", mem.rss)
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()

    def wall_s(self) -> float:
        return time.time() - self.t0


def workloads_dir() -> Path:
    """The reference workloads' folder, from `--workloads DIR` or $RAYSIM_SHARED_BENCH.

    Read before the benchmark's own arguments are parsed, since W3 builds its data at
    import; each benchmark also declares the flag (`WORKLOADS_HELP`) for its --help.
    """
    from raysim.data.roots import DataRootError, resolve_root  # after the clock has started

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--workloads")
    given = pre.parse_known_args()[0].workloads
    try:
        return resolve_root(given, WORKLOADS_ENV, flag="--workloads", needs=("workloads.py",))
    except DataRootError as err:
        sys.exit(f"benchmarks need the reference workloads: {err}")


def reference_workloads():
    """The reference workloads module (workloads.py in `workloads_dir()`)."""
    sys.path.insert(0, str(workloads_dir()))
    import workloads

    return workloads


def workload_file(name: str, given: str | None) -> Path:
    """The workload's .npz data file; dumped once with workloads.py if not given."""
    if given:
        return Path(given)
    path = REPO / "benchmarks" / "data" / f"{name}.npz"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, str(workloads_dir() / "workloads.py"), "dump", name, str(path)],
            check=True,
        )
    return path


def emit(result: dict) -> None:
    """Print the result as one JSON line."""
    print(json.dumps(result), flush=True)


def run_workload(
    monitor: TreeMonitor, workload: str, config: dict, data, sampler, workers: int, metric: str,
    **fields,
) -> None:  # fmt: skip
    """Start Ray, run the simulation, shut everything down, and emit the JSON line:
    wall_s (process start → after Ray shutdown), run_s (the rounds alone, actors
    started), peak memory of the whole process tree, the final metric."""
    import raysim
    from raysim.ray_runtime import init_ray, shutdown_ray

    init_ray(num_cpus=workers)
    sim = raysim.Simulation(config, data=data, sampler=sampler).wait_ready()
    t0 = time.perf_counter()
    result = sim.run(progress=False, shutdown=False)
    run_s = time.perf_counter() - t0
    sim.shutdown()
    shutdown_ray()
    monitor.sample()
    monitor.stop()
    emit({
        "system": "raysim", "workload": workload, **fields,
        "wall_s": round(monitor.wall_s(), 3), "run_s": round(run_s, 3),
        "peak_rss_mb": round(monitor.peak_rss / 2**20, 1),
        "peak_pss_mb": round(monitor.peak_pss / 2**20, 1),
        "metric": round(result.metrics[metric], 4), "workers": workers,
    })  # fmt: skip
