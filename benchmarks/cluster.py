"""A real two-node Ray cluster on one machine, and the default sweep run on it.

usage: python benchmarks/cluster.py [--cpus-per-node 1] [--timeout 900]
           [--config experiments/configs/sweep_default.yaml] [sweep overrides ...]

Starts a head with `ray start --head` and a second node with `ray start --address`
(two raylets, each with its own CPUs), both in a private temporary folder and on free
ports, so that no other Ray on the machine is joined or disturbed. It then runs
`experiments/sweep.py --address auto` against that cluster (RAY_ADDRESS names it),
checks that the trials and the worker actors ran on both nodes, and stops every
process it started (by process id; never `ray stop`). Everything is bounded by
--timeout. Prints one JSON line: the node ids, each trial's node id, status and
rounds, the engine actors per node, the timings and `ok`; exit status 0 when every
check holds, 1 when one fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
RAY = Path(sys.executable).with_name("ray")
SWEEP_CLI = [sys.executable, str(REPO / "experiments" / "sweep.py")]
DEFAULT_CONFIG = REPO / "experiments" / "configs" / "sweep_default.yaml"
#: the engine's actor classes, as Ray names them
ENGINE_ACTORS = ("Aggregator", "WorkerActor")
#: the default sweep, kept short: its 16 trials of 2 rounds, evaluated at the end
DEFAULT_OVERRIDES = ["config.rounds=2", "config.eval.every=2", "trial.checkpoint_every=2"]


def free_ports(n: int) -> list[int]:
    """`n` distinct TCP ports free on this machine now."""
    with contextlib.ExitStack() as held:
        socks = [held.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


# The id of the alive node whose raylet listens on port argv[1], once it has registered
# with the GCS at $RAY_ADDRESS (within argv[2] seconds).
_NODE_ID = """
import json, os, socket, sys, time
from ray._raylet import GcsClient
address, port = os.environ["RAY_ADDRESS"], int(sys.argv[1])
deadline = time.monotonic() + float(sys.argv[2])
host, gcs_port = address.rsplit(":", 1)
while time.monotonic() < deadline:
    try:
        socket.create_connection((host, int(gcs_port)), timeout=1).close()
        infos = GcsClient(address=address).get_all_node_info(timeout=5)
    except Exception:
        time.sleep(0.2)
        continue
    alive = [i.hex() for i, n in infos.items() if n.node_manager_port == port and n.state == 0]
    if alive:
        print(json.dumps(alive[0]))
        sys.exit(0)
    time.sleep(0.2)
sys.exit("not registered in time")
"""
# {node id: {actor class: count}} of every actor (alive or dead) of the classes in argv
_ENGINE_ACTORS = """
import json, sys
import ray
from ray._private import state
ray.init(log_to_driver=False, configure_logging=False)
found = {}
for actor in state.actors().values():
    node_id = (actor.get("Address") or {}).get("NodeID", "")
    if actor.get("ActorClassName") in sys.argv[1:] and node_id:
        per = found.setdefault(node_id, {})
        per[actor["ActorClassName"]] = per.get(actor["ActorClassName"], 0) + 1
ray.shutdown()
print(json.dumps(found))
"""


@dataclass
class Node:
    """One `ray start --block` process (and the raylet, workers, ... it started)."""

    proc: subprocess.Popen
    node_manager_port: int
    log: Path
    node_id: str = ""


@dataclass
class LocalCluster:
    """A Ray cluster of separate raylets on this machine, in its own temporary folder.

    Every port a node opens is chosen free, so several such clusters (and local Rays)
    coexist on one machine. Each node is a `ray start --block` process in a session of
    its own: stopping it (or killing its process tree, :meth:`kill_node`) stops that
    node and nothing else.
    """

    root: Path
    nodes: list[Node] = field(default_factory=list)
    address: str = ""
    #: the cluster's own token (Ray's token authentication), not the user's ~/.ray one
    token: str = field(default_factory=lambda: secrets.token_hex(32))

    def auth_env(self) -> dict[str, str]:
        """What a process needs to talk to this cluster."""
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token}

    @property
    def temp_dir(self) -> Path:
        return self.root / "ray"

    def env(self) -> dict[str, str]:
        """The environment of a driver that joins this cluster with `--address auto`."""
        env = {**os.environ, "RAY_ADDRESS": self.address, "RAY_TMPDIR": str(self.root)}
        env.update(self.auth_env())
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        return env

    def add_node(self, num_cpus: int, timeout_s: float = 120.0) -> Node:
        """Start a node (the head if it is the first) with `num_cpus` CPUs; wait until it
        has registered with the cluster."""
        head = not self.nodes
        gcs, nm, om, agent, agent_grpc, env_agent, metrics, dashboard = free_ports(8)
        cmd = [str(RAY), "start", "--block", f"--num-cpus={num_cpus}", "--num-gpus=0"]
        cmd += ["--node-ip-address=127.0.0.1"]
        cmd += [
            f"--node-manager-port={nm}",
            f"--object-manager-port={om}",
            f"--dashboard-agent-listen-port={agent}",
            f"--dashboard-agent-grpc-port={agent_grpc}",
            f"--runtime-env-agent-port={env_agent}",
            f"--metrics-export-port={metrics}",
            "--min-worker-port=0",
            "--max-worker-port=0",
            "--object-store-memory=200000000",
            "--disable-usage-stats",
            "--include-log-monitor=false",  # drivers here do not print the workers' logs
        ]
        if head:
            self.temp_dir.mkdir(parents=True, exist_ok=True)
            self.address = f"127.0.0.1:{gcs}"
            cmd += ["--head", f"--port={gcs}"]
            # (without the dashboard, its process still serves Ray's API on this port)
            cmd += ["--include-dashboard=false", f"--dashboard-port={dashboard}"]
            cmd += [f"--temp-dir={self.temp_dir}"]
        else:
            cmd += [f"--address={self.address}"]
        log = self.root / f"node{len(self.nodes)}.log"
        env = {**os.environ, "RAY_TMPDIR": str(self.root), **self.auth_env()}
        env.pop("RAY_ADDRESS", None)
        # Ray's memory monitor kills workers when the *machine* is nearly full: on a shared
        # machine others' processes would kill this cluster's (the kernel's OOM killer stays)
        env["RAY_memory_monitor_refresh_ms"] = "0"
        with log.open("w") as out:
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        node = Node(proc, nm, log)
        self.nodes.append(node)
        node.node_id = self._wait_registered(node, timeout_s)
        return node

    def query(self, script: str, *args: str, timeout_s: float = 120.0) -> object:
        """Run a Python `script` (printing one JSON value) as a client of this cluster.

        Queries run in a process of their own, with the cluster's address and token:
        this process never joins the cluster (nor takes on its token).
        """
        proc = subprocess.run(
            [sys.executable, "-c", script, *args],
            env=self.env(), capture_output=True, text=True, timeout=timeout_s,
        )  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"cluster query failed: {proc.stderr[-3000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def _wait_registered(self, node: Node, timeout_s: float) -> str:
        try:
            return str(self.query(_NODE_ID, str(node.node_manager_port), str(timeout_s)))
        except (RuntimeError, subprocess.TimeoutExpired) as err:
            tail = node.log.read_text()[-3000:]
            raise RuntimeError(f"node not registered ({err}); its log ends:\n{tail}") from None

    def kill_node(self, node: Node, sig: int = signal.SIGKILL) -> None:
        """Kill a node's whole process tree at once (SIGKILL: as if the machine died)."""
        with contextlib.suppress(psutil.Error):
            procs = [psutil.Process(node.proc.pid)]
            procs += procs[0].children(recursive=True)
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    p.send_signal(sig)
        node.proc.wait(timeout=30)

    def _leftovers(self) -> list[psutil.Process]:
        """Processes still running from this cluster (their command line names its folder)."""
        mine = []
        for p in psutil.process_iter(["cmdline"]):
            with contextlib.suppress(psutil.Error):
                if any(str(self.root) in arg for arg in p.info["cmdline"] or ()):
                    mine.append(p)
        return mine

    def shutdown(self) -> None:
        """Stop every node: workers first, the head last; then kill what is left."""
        for node in reversed(self.nodes):
            if node.proc.poll() is None:
                tree = psutil.Process(node.proc.pid).children(recursive=True)
                node.proc.send_signal(signal.SIGTERM)  # ray start --block stops its node
                try:
                    node.proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    node.proc.kill()
                    node.proc.wait(timeout=10)
                for p in tree:
                    with contextlib.suppress(psutil.Error):
                        p.kill()
        for p in self._leftovers():
            with contextlib.suppress(psutil.Error):
                p.kill()


@contextlib.contextmanager
def local_cluster(nodes: int, cpus_per_node: int) -> Iterator[LocalCluster]:
    """A :class:`LocalCluster` of `nodes` nodes, stopped on exit whatever happens."""
    # short: Ray's socket paths live under it (at most 107 characters)
    with tempfile.TemporaryDirectory(prefix="rc", dir="/tmp") as root:
        cluster = LocalCluster(Path(root))
        try:
            for _ in range(nodes):
                cluster.add_node(cpus_per_node)
            yield cluster
        finally:
            cluster.shutdown()


def engine_actors(cluster: LocalCluster) -> dict[str, Counter]:
    """Node id -> how many actors of each engine class (alive or dead) ran there."""
    found = cluster.query(_ENGINE_ACTORS, *ENGINE_ACTORS)
    return {node_id: Counter(counts) for node_id, counts in found.items()}


def check(nodes: list[str], trials: list[dict], actors: dict[str, Counter]) -> list[str]:
    """What the run failed to show (empty: every check holds)."""
    problems = []
    if len(nodes) != 2:
        problems.append(f"{len(nodes)} nodes registered, not 2")
    bad = [t for t in trials if t["status"] != "TERMINATED"]
    if not trials or bad:
        problems.append(f"{len(bad)} of {len(trials)} trials did not finish")
    if {t["node_id"] for t in trials} != set(nodes):
        problems.append("trials did not run on both nodes")
    if not all(actors.get(n, {}).get("WorkerActor") for n in nodes):
        problems.append("worker actors did not run on both nodes")
    per_node = Counter(t["node_id"] for t in trials)
    for n in nodes:  # trials' aggregators beside them (their placement groups' bundle 0);
        # a trial may run on the aggregator an earlier trial of its slot kept
        if not 1 <= actors.get(n, {}).get("Aggregator", 0) <= per_node[n]:
            problems.append(f"node {n[:8]}: aggregators not between 1 and its trials")
    return problems


def run(args: argparse.Namespace) -> dict:
    """Start the cluster, run the sweep on it, collect and check where things ran."""
    from raysim.sweep.results import load_experiment

    t0 = time.monotonic()
    with local_cluster(2, args.cpus_per_node) as cluster:
        started_s = time.monotonic() - t0
        nodes = [n.node_id for n in cluster.nodes]
        storage = cluster.root / "sweeps"
        cmd = [*SWEEP_CLI, "--config", args.config, "--address", "auto"]
        cmd += ["--storage", str(storage), "--name", "cluster", "--no-report"]
        cmd += args.overrides or DEFAULT_OVERRIDES
        left = args.timeout - (time.monotonic() - t0)
        t1 = time.monotonic()
        proc = subprocess.run(
            cmd, env=cluster.env(), capture_output=True, text=True, timeout=max(left, 1)
        )
        sweep_s = time.monotonic() - t1
        if proc.returncode != 0:
            raise RuntimeError(f"sweep failed ({proc.returncode}): {proc.stderr[-3000:]}")
        table = load_experiment(storage / "cluster").trials
        trials = [
            {"trial_id": r["trial_id"], "node_id": r["node_id"], "status": r["status"],
             "rounds": int(r["rounds"])}
            for r in table.to_dict("records")
        ]  # fmt: skip
        actors = engine_actors(cluster)
    problems = check(nodes, trials, actors)
    return {
        "benchmark": "cluster",
        "nodes": nodes,
        "cpus_per_node": args.cpus_per_node,
        "trials": trials,
        "actors": {n: dict(c) for n, c in actors.items()},
        "cluster_start_s": round(started_s, 2),
        "sweep_s": round(sweep_s, 2),
        "wall_s": round(time.monotonic() - t0, 2),
        "problems": problems,
        "ok": not problems,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cpus-per-node", type=int, default=1)
    ap.add_argument("--config", default=str(DEFAULT_CONFIG), help="sweep YAML file")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds for the whole run")
    ap.add_argument(
        "overrides", nargs="*", help=f"sweep overrides (default: {' '.join(DEFAULT_OVERRIDES)})"
    )
    args = ap.parse_args(argv)
    result = run(args)
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
