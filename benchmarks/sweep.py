"""Sweep overhead: how much of a sweep's machine time is not trials' rounds.

usage: python benchmarks/sweep.py [--sweeps default asha64] [--cpus N] [overrides ...]

    overhead = (sweep wall × concurrent trial slots − Σ trial compute) ÷ Σ trial compute

where a trial's compute is its rounds-only time (the sum of its rounds' `wall_s`), the
sweep wall is `experiments/sweep.py` from launch to exit (Ray's start, the shared data,
Tune, every trial, the results), and the slots are how many trials run at once: the
trials' placement groups that fit in --cpus, capped by `tune.max_concurrent_trials`.
`default` is experiments/configs/sweep_default.yaml (16 trials); `asha64` is the same
sweep repeated 4 times (`tune.num_samples=4`: 64 trials) under ASHA. Overrides (dotted
keys of the sweep file, e.g. `config.rounds=10`) apply to both.

Where the rest goes: `startup_s` is Σ over trials of (Tune's time of the first report −
the first round's wall), i.e. the simulation's start inside the trial (actors, data),
and `outside_trials_s` the sweep wall × slots not inside any trial's Tune time (Ray's
start, data preparation, Tune's scheduling and bookkeeping, idle slots, the results).
Fixed costs, paid once per sweep whatever its size: `launch_to_first_trial_s` (the
command's imports, Ray's start, the shared data, Tune's set-up) and
`first_wave_startup_s` (the first `slots` trials start their processes: trial actor,
aggregator, workers importing torch; later trials reuse them). What every further
trial costs is `later_trials_in_trial_overhead`: Σ (Tune's time − rounds' time) ÷
Σ rounds' time over the trials after the first wave (their start and reports).

Where the machine's CPU went: `cpu_s` is the CPU time (user + system) of every
process of the sweep's tree by role, sampled every 0.5 s (a process's last half
second before it exits is missed): the sweep driver (Tune's loop and loggers), the
trials' own processes, the engine's aggregators and workers, the raylet (the object
store's and Ray's RPCs), the GCS and the rest of Ray. `cpu_busy` is their sum ÷
(wall × CPUs): near 1, the sweep is CPU-bound, and every CPU-second outside the
rounds (driver, trials, raylet) lengthens it.

Prints one JSON line per sweep.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import psutil
import yaml
from _harness import process_tree

REPO = Path(__file__).resolve().parents[1]
SWEEP_CLI = [sys.executable, str(REPO / "experiments" / "sweep.py")]
DEFAULT_CONFIG = REPO / "experiments" / "configs" / "sweep_default.yaml"
SWEEPS = {
    "default": [],
    "asha64": [
        "tune.num_samples=4",
        "tune.scheduler={name: asha, grace_period: 10, reduction_factor: 2}",
    ],
}


#: process roles by a fragment of their command line (Ray workers retitle themselves
#: ``ray::<Actor>.<method>``; an idle one keeps the role it had)
ROLES = (
    ("experiments/sweep.py", "driver"),
    ("ray::ImplicitFunc", "trial"),
    ("ray::Aggregator", "aggregator"),
    ("ray::WorkerActor", "worker"),
    ("raylet", "raylet"),
    ("gcs_server", "gcs"),
)


class CpuByRole:
    """CPU seconds of a process and its descendants, summed by role (`ROLES`, else
    "other Ray"), sampled every `interval` seconds until :meth:`stop`."""

    def __init__(self, pid: int, interval: float = 0.5):
        self.root, self.interval = psutil.Process(pid), interval
        self.cpu: dict[int, float] = {}
        self.role: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _classify(self, proc: psutil.Process) -> str | None:
        command = " ".join(proc.cmdline())
        return next((role for key, role in ROLES if key in command), None)

    def _sample(self) -> None:
        for proc in process_tree(self.root):
            try:
                with proc.oneshot():
                    times, role = proc.cpu_times(), self._classify(proc)
            except psutil.Error:
                continue
            self.cpu[proc.pid] = times.user + times.system
            if role is not None or proc.pid not in self.role:
                self.role[proc.pid] = role or "other Ray"

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def stop(self) -> dict[str, float]:
        """Stop sampling; CPU seconds per role."""
        self._stop.set()
        self._thread.join()
        totals: Counter[str] = Counter()
        for pid, seconds in self.cpu.items():
            totals[self.role[pid]] += seconds
        return {role: round(seconds, 1) for role, seconds in totals.most_common()}


def _rows(trial: Path) -> list[dict]:
    """The trial's reports, the latest per round (a retried round counts once)."""
    text = (trial / "result.json").read_text() if (trial / "result.json").exists() else ""
    rows = {}
    for line in filter(str.strip, text.splitlines()):
        row = json.loads(line)
        rows[row["round"]] = row
    return [rows[r] for r in sorted(rows)]


def slots(spec: dict, cpus: int, n_trials: int) -> int:
    """Trials that run at once: placement groups fitting in `cpus`, capped by Tune's limit."""
    trial = spec.get("trial", {})
    per_trial = trial.get("driver_cpus", 0.25) + trial.get("workers", 1) * trial.get(
        "worker_cpus", 0.25
    )
    fit = math.floor(cpus / per_trial + 1e-9)
    cap = spec.get("tune", {}).get("max_concurrent_trials") or fit
    return max(1, min(fit, cap, n_trials))


def measure(name: str, overrides: list[str], cpus: int, storage: Path) -> dict:
    """Run one sweep (on a local Ray of `cpus` CPUs, Ray's own count) and compute its
    overhead."""
    cmd = [*SWEEP_CLI, "--storage", str(storage), "--name", name, "--no-report", *overrides]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # a local Ray
    t0, launched = time.perf_counter(), time.time()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, text=True, env=env)
        cpu = CpuByRole(proc.pid)
        returncode = proc.wait()
        wall = time.perf_counter() - t0
        cpu_s = cpu.stop()
        if returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{name}: sweep failed: {err.read()[-3000:]}")
    path = storage / name
    spec = yaml.safe_load((path / "raysim_sweep.yaml").read_text())
    trials = [_rows(t) for t in sorted(path.glob("trial_*"))]
    compute = sum(r["wall_s"] for rows in trials for r in rows)
    tune_time = sum(rows[-1]["time_total_s"] for rows in trials if rows)
    startup = sum(rows[0]["time_this_iter_s"] - rows[0]["wall_s"] for rows in trials if rows)
    n_slots = slots(spec, cpus, len(trials))
    # the first wave of trials starts every process; later trials reuse them
    warm = [rows for rows in trials[n_slots:] if rows]
    warm_compute = sum(r["wall_s"] for rows in warm for r in rows)
    warm_tune = sum(rows[-1]["time_total_s"] for rows in warm)
    first_start = min(rows[0]["timestamp"] - rows[0]["time_total_s"] for rows in trials if rows)
    return {
        "benchmark": "sweep_overhead",
        "sweep": name,
        "trials": len(trials),
        "rounds_run": sum(len(rows) for rows in trials),
        "cpus": cpus,
        "slots": n_slots,
        "wall_s": round(wall, 2),
        "compute_s": round(compute, 2),
        "overhead": round((wall * n_slots - compute) / compute, 3),
        "startup_s": round(startup, 2),
        "in_trials_not_rounds_s": round(tune_time - compute, 2),
        "outside_trials_s": round(wall * n_slots - tune_time, 2),
        "launch_to_first_trial_s": round(first_start - launched, 1),
        "first_wave_startup_s": round(
            sum(rows[0]["time_this_iter_s"] - rows[0]["wall_s"] for rows in trials[:n_slots]), 2
        ),
        "later_trials_in_trial_overhead": round((warm_tune - warm_compute) / warm_compute, 3)
        if warm_compute
        else None,
        "cpu_s": cpu_s,
        "cpu_busy": round(sum(cpu_s.values()) / (wall * cpus), 3),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sweeps", nargs="+", choices=list(SWEEPS), default=list(SWEEPS))
    ap.add_argument("--cpus", type=int, help="CPUs the local Ray has (default: Ray's count)")
    ap.add_argument("--config", default=str(DEFAULT_CONFIG), help="sweep YAML file")
    ap.add_argument("overrides", nargs="*", help="dotted overrides of the sweep file")
    args = ap.parse_args(argv)
    if args.cpus is None:
        from ray._private.utils import get_num_cpus

        args.cpus = int(get_num_cpus())
    with tempfile.TemporaryDirectory(prefix="raysim-sweep-bench-") as storage:
        for name in args.sweeps:
            overrides = ["--config", args.config, *SWEEPS[name], *args.overrides]
            print(json.dumps(measure(name, overrides, args.cpus, Path(storage))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
