"""Faults during a sweep, on a real two-node cluster, each with a verdict.

usage: python benchmarks/sweep_faults.py [--faults worker aggregator driver node]
           [--rounds 60] [--timeout 600]

On a :class:`cluster.LocalCluster` (two raylets of 1 CPU each; one trial fills a node),
a small sweep (3 seeds, `--rounds` rounds, a Tune checkpoint every 3) runs once without
faults, then once per fault:

- worker: SIGKILL the engine worker actor of a trial past its first checkpoint; the
  aggregator replaces it and re-runs its share of the round;
- aggregator: SIGKILL the aggregator actor of a trial past its first checkpoint; the
  trial fails and Tune restarts it from its last checkpoint (not from round 1);
- driver: SIGKILL `experiments/sweep.py` once a trial has finished and another has a
  checkpoint, then `--resume`: the finished trial is not run again, the interrupted one
  continues from its checkpoint;
- node: SIGKILL the whole second node (raylet, workers, everything) while a trial runs
  there; Tune restarts the trial from its checkpoint on the surviving node.

Verdict per fault: every trial ends TERMINATED with the final global weights (the last
checkpoint's) bit-identical to the fault-free run's trial of the same seed, and the same
per-round history (losses and evaluations). Prints one JSON line; exit status 0 when
every verdict passes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from cluster import SWEEP_CLI, LocalCluster, local_cluster

FAULTS = ("worker", "aggregator", "driver", "node")
#: round-record keys compared between runs (wall_s and the node differ by design)
COMPARED = ("train_loss", "sampled", "reporting", "eval_accuracy", "eval_loss")

# pids of the alive actors of class argv[1] on the node argv[2] ("" for any node)
_ALIVE_PIDS = """
import json, sys
import ray
from ray._private import state
ray.init(log_to_driver=False, configure_logging=False)
pids = [
    a["Pid"] for a in state.actors().values()
    if a.get("ActorClassName") == sys.argv[1] and a.get("State") == "ALIVE" and a.get("Pid")
    and (not sys.argv[2] or (a.get("Address") or {}).get("NodeID") == sys.argv[2])
]
ray.shutdown()
print(json.dumps(pids))
"""


def sweep_spec(rounds: int) -> dict:
    """Three seeds of a small federation; one trial (1 CPU) fills a node."""
    return {
        "name": "faults",
        "config": {
            "rounds": rounds,
            "task": {"name": "feature_classification", "hidden": [16]},
            "data": {
                "source": "synthetic_features",
                "dim": 8,
                "n_train": 800,
                "n_test": 200,
                "partition": {"name": "iid", "n_clients": 8},
            },
            "sampling": {"fraction": 0.5},
            "local": {"optimizer": {"name": "sgd", "lr": 0.05}, "batch_size": 16},
            "eval": {"every": 3},
        },
        "space": {"seed": {"grid": [0, 1, 2]}},
        "tune": {"metric": "eval_accuracy", "mode": "max"},
        "trial": {"workers": 1, "worker_cpus": 0.5, "driver_cpus": 0.5,
                  "checkpoint_every": 3, "max_failures": 3},
        "logging": {"tensorboard": False},
    }  # fmt: skip


def _rows(trial: Path) -> list[dict]:
    file = trial / "result.json"
    text = file.read_text() if file.exists() else ""
    rows = []
    for line in filter(str.strip, text.splitlines()):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # the line Tune is writing now
            break
    return rows


def _final_weights(trial: Path) -> str:
    """sha256 of the global weights in the trial's newest checkpoint."""
    import numpy as np

    from raysim.engine.checkpoint import load_checkpoint

    newest = max(trial.glob("checkpoint_*"), key=lambda p: int(p.name.split("_")[1]))
    vec = np.asarray(load_checkpoint(newest / "simulation.pt")["global"], dtype=np.float32)
    return hashlib.sha256(vec.tobytes()).hexdigest()


def outcome(path: Path) -> dict[int, dict]:
    """Seed -> the trial's status, node ids, final weights' hash and per-round history."""
    from raysim.sweep.results import load_experiment

    trials = load_experiment(path).trials.set_index("trial_id")
    found = {}
    for trial in sorted(path.glob("trial_*")):
        rows = {r["round"]: r for r in _rows(trial)}  # a repeated round: its latest report
        seed = int(rows[max(rows)]["config"]["seed"])
        history = [
            [None if isinstance(r.get(k), float) and math.isnan(r[k]) else r.get(k)
             for k in COMPARED]
            for _, r in sorted(rows.items())
        ]  # fmt: skip
        found[seed] = {
            "trial": trial.name,
            "status": trials.loc[trial.name.removeprefix("trial_"), "status"],
            "nodes": sorted({r["node_id"][:8] for r in rows.values()}),
            "rounds": max(rows),
            "weights": _final_weights(trial),
            "history": history,
        }
    return found


class Sweep:
    """One `experiments/sweep.py` run on the cluster, as a process to watch and hurt."""

    def __init__(self, cluster: LocalCluster, config: Path, name: str):
        self.cluster, self.config, self.name = cluster, config, name
        self.path = cluster.root / "sweeps" / name
        self.log = cluster.root / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, *extra: str) -> None:
        cmd = [*SWEEP_CLI, "--address", "auto", "--storage", str(self.path.parent)]
        cmd += ["--name", self.name, "--no-report", *extra]
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, env=self.cluster.env()
            )

    def wait(self, timeout_s: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout_s)

    def stop(self) -> None:
        """Kill the sweep's driver if it still runs (its trials end with its job)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=60)

    def trials(self) -> dict[str, list[dict]]:
        return {t.name: _rows(t) for t in self.path.glob("trial_*")}

    def until(self, ready, timeout_s: float, what: str) -> dict[str, list[dict]]:
        """Poll the trials' results until `ready(trials)`; fail if the sweep ends first."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"sweep ended before {what}: {self.log.read_text()[-2000:]}")
            trials = self.trials()
            if ready(trials):
                return trials
            time.sleep(0.2)
        raise TimeoutError(f"no {what} within {timeout_s:.0f} s")


def _running_with_checkpoint(trials: dict[str, list[dict]], rounds: int) -> list[str]:
    """Trials past their first checkpoint (round 3) and not finished."""
    return [t for t, rows in trials.items() if rows and 4 <= rows[-1]["round"] < rounds]


def _finished(trials: dict[str, list[dict]], rounds: int) -> list[str]:
    return [t for t, rows in trials.items() if rows and rows[-1]["round"] == rounds]


def _kill_actor(cluster: LocalCluster, cls: str, node_id: str = "") -> int:
    # the actor table lags: a process listed alive may have exited since
    for pid in cluster.query(_ALIVE_PIDS, cls, node_id):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        return pid
    raise RuntimeError(f"no alive {cls} to kill")


def run_fault(fault: str, cluster: LocalCluster, config: Path, rounds: int, budget: float) -> dict:
    """Run the sweep with `fault` injected; what was done and the experiment's path."""
    sweep = Sweep(cluster, config, fault)
    sweep.start("--config", str(config))
    try:
        return _inject(fault, sweep, cluster, rounds, budget)
    finally:
        sweep.stop()


def _inject(fault: str, sweep: Sweep, cluster: LocalCluster, rounds: int, budget: float) -> dict:
    done: dict = {}

    def mid(trials: dict[str, list[dict]]) -> bool:
        return bool(_running_with_checkpoint(trials, rounds))

    if fault in ("worker", "aggregator"):
        trials = sweep.until(mid, budget, "trial past a checkpoint")
        hit = _running_with_checkpoint(trials, rounds)[0]
        cls = "WorkerActor" if fault == "worker" else "Aggregator"
        # one trial fills a node: the actor of that class on the trial's node is its own
        done["killed_pid"] = _kill_actor(cluster, cls, trials[hit][-1]["node_id"])
        done["hit"] = {hit: f"after round {trials[hit][-1]['round']}"}
    elif fault == "driver":

        def ready(trials: dict[str, list[dict]]) -> bool:
            return bool(_finished(trials, rounds)) and mid(trials)

        trials = sweep.until(ready, budget, "finished trial beside one past a checkpoint")
        sweep.proc.send_signal(signal.SIGKILL)
        sweep.wait(60)
        done["finished_before"] = {
            t: (sweep.path / t / "result.json").read_bytes().hex()
            for t in _finished(trials, rounds)
        }
        done["interrupted_at"] = {t: trials[t][-1]["round"] for t in _running_with_checkpoint(
            trials, rounds)}  # fmt: skip
        time.sleep(3)  # the dead driver's job and its actors are cleaned up
        sweep.start("--resume")
    elif fault == "node":
        second = cluster.nodes[1]

        def on_second(trials: dict[str, list[dict]]) -> bool:
            return any(
                rows[-1]["node_id"] == second.node_id
                for t, rows in trials.items()
                if t in _running_with_checkpoint(trials, rounds)
            )

        sweep.until(on_second, budget, "trial past a checkpoint on the second node")
        cluster.kill_node(second)
        done["killed_node"] = second.node_id[:8]
    status = sweep.wait(budget)
    done["exit_status"] = status
    done["path"] = sweep.path
    return done


def verdict(fault: str, done: dict, base: dict[int, dict], got: dict[int, dict]) -> list[str]:
    """What the fault run failed to show (empty: it passed)."""
    problems = []
    if done["exit_status"] != 0:
        problems.append(f"sweep exited {done['exit_status']}")
    if set(got) != set(base):
        problems.append(f"seeds {sorted(got)} != {sorted(base)}")
    for seed, trial in got.items():
        if trial["status"] != "TERMINATED":
            problems.append(f"seed {seed}: {trial['status']}")
        ref = base.get(seed, {})
        if trial["weights"] != ref.get("weights"):
            problems.append(f"seed {seed}: final weights differ from the fault-free run")
        if trial["history"] != ref.get("history"):
            got, want = trial["history"], ref.get("history") or []
            pairs = zip(got, want, strict=False)
            first = next((i for i, (a, b) in enumerate(pairs) if a != b), None)
            where = (f"round {first + 1}: {got[first]} vs {want[first]} ({', '.join(COMPARED)})"
                     if first is not None else f"{len(got)} rounds vs {len(want)}")  # fmt: skip
            problems.append(f"seed {seed}: history differs from the fault-free run, {where}")
    if fault == "aggregator":  # the hit trial failed, then resumed from a checkpoint
        for name in done["hit"]:
            rounds = [r["round"] for r in _rows(done["path"] / name)]
            if not (done["path"] / name / "error.txt").exists():
                problems.append(f"{name}: did not fail when its aggregator was killed")
            if rounds.count(1) != 1:
                problems.append(f"{name}: restarted from round 1, not from its checkpoint")
    if fault == "driver":
        for name, data in done["finished_before"].items():
            if (done["path"] / name / "result.json").read_bytes().hex() != data:
                problems.append(f"{name}: finished before the kill, but run again")
        for name, at in done["interrupted_at"].items():
            rounds = [r["round"] for r in _rows(done["path"] / name)]
            if rounds.count(1) != 1:
                problems.append(f"{name}: restarted from round 1, not from its checkpoint")
            done["interrupted_at"][name] = f"round {at}"
    if fault == "node":
        moved = [s for s, t in got.items() if len(t["nodes"]) == 2]
        if not moved:
            problems.append("no trial moved from the killed node")
        done["moved_seeds"] = moved
    return problems


def check(
    fault: str, cluster: LocalCluster, config: Path, args: argparse.Namespace, base: dict
) -> dict:
    """One fault's run and verdict: PASS, FAIL (what differed) or ERROR (the run itself
    broke, e.g. the sweep ended before the moment to inject the fault)."""
    start = time.monotonic()
    try:
        done = run_fault(fault, cluster, config, args.rounds, args.timeout)
    except (RuntimeError, TimeoutError, subprocess.TimeoutExpired) as err:
        return {"verdict": "ERROR", "problems": [str(err)[-1500:]]}
    got = outcome(done["path"])
    problems = verdict(fault, done, base, got)
    done.pop("finished_before", None)
    return {
        **{k: v for k, v in done.items() if k != "path"},
        "trials": {s: {k: t[k] for k in ("trial", "status", "nodes")} for s, t in got.items()},
        "wall_s": round(time.monotonic() - start, 1),
        "problems": problems,
        "verdict": "PASS" if not problems else "FAIL",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--faults", nargs="+", choices=FAULTS, default=list(FAULTS))
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per sweep")
    args = ap.parse_args(argv)
    faults = sorted(args.faults, key=FAULTS.index)  # the node goes last
    results: dict = {"benchmark": "sweep_faults", "rounds": args.rounds}
    t0 = time.monotonic()
    with local_cluster(2, 1) as cluster:
        config = cluster.root / "faults.yaml"
        config.write_text(yaml.safe_dump(sweep_spec(args.rounds)))
        base_run = Sweep(cluster, config, "baseline")
        base_run.start("--config", str(config))
        if base_run.wait(args.timeout) != 0:
            raise RuntimeError(f"fault-free sweep failed: {base_run.log.read_text()[-3000:]}")
        base = outcome(base_run.path)
        results["baseline"] = {s: {k: t[k] for k in ("trial", "nodes", "weights")}
                               for s, t in base.items()}  # fmt: skip
        print(json.dumps(results), flush=True)
        for fault in faults:
            results[fault] = check(fault, cluster, config, args, base)
            print(json.dumps({"fault": fault, **results[fault]}), flush=True)
    summary = {f: results[f]["verdict"] for f in faults}
    ok = all(v == "PASS" for v in summary.values())
    print(json.dumps({"verdicts": summary, "wall_s": round(time.monotonic() - t0, 1), "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
