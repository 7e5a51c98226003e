"""The aggregator: holds the global model and server state and runs the rounds.

Per round: sample clients (seeded by round), drop unavailable ones, put the
global weights in the object store once, send each worker its balanced share
of client ids, merge the workers' exact partial sums, apply the strategy and
the server optimizer, evaluate. Work on the server grows with the cohort,
never with the population.

The server state is a flat numpy vector and the rules are numpy, so this
process never imports torch (about 1.5 s of CPU per process on a small machine,
paid while the workers start). The initial model and the evaluations come from
worker 0, which has the model anyway. The aggregator owns the worker pool:
replacements of dead workers happen here and nowhere else.

The driver runs it as ``ray.remote(Aggregator)`` and calls its methods directly.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import ray
from ray.actor import ActorHandle

from raysim.config import SimulationConfig
from raysim.engine.checkpoint import load_checkpoint, load_initial_weights, save_checkpoint
from raysim.engine.client_state import ClientStateStore
from raysim.engine.clock import VirtualClock
from raysim.engine.dp import CentralNoise
from raysim.engine.exact_sum import merge_sums
from raysim.engine.lr_schedule import RoundLR
from raysim.engine.partial import STATS
from raysim.engine.pool import WorkerPool, balance
from raysim.engine.sampling import ClientSampler, UniformSampler
from raysim.engine.worker_spec import WorkerSpec
from raysim.registry import SERVER_OPTIMIZERS, STRATEGIES
from raysim.round_record import RoundRecord
from raysim.system.profiles import SystemProfiles


class Aggregator:
    """Server side of a simulation (a Ray actor: ``ray.remote(Aggregator)``)."""

    def __init__(
        self,
        config: SimulationConfig,
        sample_counts: np.ndarray,
        eval_data: list[ray.ObjectRef],
        worker_spec: WorkerSpec,
        worker_options: dict[str, Any],
        workers: list[ActorHandle],
        sampler: ClientSampler | None = None,
        privacy: dict[str, Any] | None = None,
        profiles: SystemProfiles | None = None,
    ):
        """`sample_counts[c]` is client c's sample count (the population is never
        loaded here); `eval_data` is a one-element list holding the held-out data's
        object ref (wrapped so that Ray hands over the reference, not the arrays);
        `workers` are the first worker actors, started from `worker_spec` with
        `worker_options`, which the aggregator's pool takes over. `privacy` is the run's
        resolved privacy plan (`raysim.privacy.PrivacyPlan`, as a dict), None without DP.
        `profiles` are the clients' system profiles of a run with a ``system:`` section
        (`raysim.system`): rounds then run on its virtual clock."""
        self.cfg = cfg = config
        self.sample_counts = sample_counts
        population = len(sample_counts)
        self.eval_ref = eval_data[0]
        self.pool = WorkerPool(worker_spec, worker_options, workers)
        first = self.pool.started()[0]
        self.global_vec, n_params = self.pool.call(first, lambda w: w.initial_state.remote())
        if cfg.init_checkpoint:
            self.global_vec = load_initial_weights(cfg.init_checkpoint, len(self.global_vec))
        self.strategy = STRATEGIES.build(cfg.strategy, n_params, population)
        self.server_opt = SERVER_OPTIMIZERS.build(cfg.server_optimizer, len(self.global_vec))
        self.round_lr = RoundLR(cfg.local.lr_schedule, cfg.local.optimizer.lr, cfg.rounds)
        self.sampler = sampler or UniformSampler(cfg.sampling, population, cfg.seed)
        self.client_states = ClientStateStore()
        self.privacy = privacy
        self.dp = None
        if privacy is not None:
            adaptive = cfg.privacy.adaptive_clip
            self.dp = CentralNoise(privacy, adaptive and adaptive.model_dump(), cfg.seed)
        self.clock = None
        if profiles is not None:
            traffic = self._traffic(1)
            self.clock = VirtualClock(
                cfg, profiles, sample_counts, traffic["bytes_down"], traffic["bytes_up"],
                self.sampler, self.client_states,
            )  # fmt: skip
        self.round = 0
        self.history: list[dict[str, Any]] = []

    def reinit(self, *args: Any, **kwargs: Any) -> None:
        """Become a new aggregator in this process, as if just constructed with these
        arguments (nothing of the previous run is kept): how a sweep reuses the
        process for its next trial (`raysim.engine.warm`)."""
        self.__dict__.clear()
        self.__init__(*args, **kwargs)

    # -- rounds ---------------------------------------------------------------
    def run_round(self) -> dict[str, Any]:
        """Run the next round and return its record."""
        t0 = time.perf_counter()
        cfg, r = self.cfg, self.round
        lr = self.round_lr.lr
        system: dict[str, float] = {}
        if self.clock is None:
            sampled, reporting = self.sampler.sample(r)
            partials = self._dispatch(r, lr, reporting) if reporting else []
            n_sampled, n_dropped = len(sampled), len(sampled) - len(reporting)
        else:  # virtual time (raysim.system): who trains, and into which update
            step = self.clock.round(r, lr, self._dispatch)
            reporting, partials, system = step.trained, step.partials, step.record
            n_sampled, n_dropped = step.sampled, step.dropped
        sums = merge_sums([p.sums for p in partials])
        rejected = [rej for p in partials for rej in p.rejected]
        for p in partials:
            for cid, state in p.states.items():
                self.client_states.put(cid, state)
        stats = dict(zip(STATS, sums["stats"].value(), strict=True)) if "stats" in sums else {}
        n_ok = int(round(stats.get("count", 0)))
        privacy: dict[str, Any] = {}
        if self.dp is not None and reporting:
            # noised even when no client trained: whether one did is the clients' data
            size = len(self.global_vec)
            noised, denominator, privacy = self.dp.apply(sums, r, len(reporting), size)
            delta = self.strategy.pseudo_gradient(noised, denominator, max(n_ok, 1))
            self.global_vec = self.server_opt.step(self.global_vec, delta)
        elif n_ok and self.dp is None:
            delta = self.strategy.pseudo_gradient(sums, stats["weight"], n_ok)
            self.global_vec = self.server_opt.step(self.global_vec, delta)
        if self.privacy is not None:
            plan = self.privacy
            spent = plan["epsilons"][r] if r < len(plan["epsilons"]) else float("nan")
            privacy = {"epsilon": spent, "delta": plan["delta"], "unit": plan["unit"], **privacy}
        counters = {k.split("/", 1)[1]: float(v.value()[0]) for k, v in sums.items() if "/" in k}
        record = RoundRecord(
            round=r + 1,
            sampled=n_sampled,
            reporting=n_ok,
            dropped=n_dropped,
            rejected=len(rejected),
            idle=sum(p.idle for p in partials),
            lr=lr,
            train_loss=float(stats["loss"] / stats["samples"]) if n_ok else None,
            **self._traffic(len(reporting)),
            wall_s=0.0,
            task=cfg.task.summarize_round(counters),
            privacy=privacy,
            system=system,
            eval=self.evaluate() if self._eval_due(r + 1) else {},
        )
        self.round += 1
        flat = record.to_dict()
        self.round_lr.end_round(flat)
        flat["wall_s"] = time.perf_counter() - t0
        self.history.append(flat)
        ck = cfg.checkpoint
        if ck.dir and ck.every and self.round % ck.every == 0:
            self.save(Path(ck.dir) / f"round-{self.round:05d}.pt", keep=ck.keep)
        return flat

    def _eval_due(self, done: int) -> bool:
        every = self.cfg.eval.every
        return done == self.cfg.rounds or (every > 0 and done % every == 0)

    def _traffic(self, n_clients: int) -> dict[str, int]:
        """Simulated FL communication: model (+ strategy state) down, update (+ extras) up."""
        model_bytes = self.global_vec.nbytes
        extra = sum(v.nbytes for v in self.strategy.broadcast().values())
        return {
            "bytes_down": n_clients * (model_bytes + extra),
            "bytes_up": n_clients * (model_bytes + extra),
        }

    def _dispatch(
        self,
        r: int,
        lr: float,
        clients: list[int],
        buckets: dict[int, tuple[int, float]] | None = None,
    ) -> list[Any]:
        """Send each started worker its share (a client's own actor in actor-per-client
        mode); a dead worker's share re-runs on its replacement. Which worker trains
        which client never changes the result: partial sums are exact. With `buckets`
        (FedBuff: each client's update and staleness weight) each worker returns one
        Partial per update, else one Partial."""
        work = [int(self.sample_counts[c]) for c in clients]
        if self.cfg.engine.mode == "actor_per_client":
            shares = {c: [c] for c in clients}
        else:
            if self.cfg.engine.balance == "count":
                work = [1] * len(work)
            workers = self.pool.started()
            parts = balance(clients, work, len(workers))
            shares = {w: part for w, part in zip(workers, parts, strict=True) if part}
        global_ref = ray.put(self.global_vec)
        dp_payload = self.dp.broadcast() if self.dp is not None else {}
        payload_ref = ray.put({**self.strategy.broadcast(), **dp_payload})

        def job(ids: list[int]):
            states = self.client_states.get_many(ids)
            if buckets is not None:
                mine = {c: buckets[c] for c in ids}
                return lambda w: w.train_buckets.remote(
                    r, lr, global_ref, payload_ref, ids, states, mine
                )
            return lambda w: w.train.remote(r, lr, global_ref, payload_ref, ids, states)

        results = self.pool.run({i: job(ids) for i, ids in shares.items()})
        return [results[i] for i in sorted(results)]

    def wait_ready(self) -> None:
        """Returns once the aggregator and every worker are constructed (the driver
        waits on it before timing rounds)."""
        self.pool.wait_ready()

    def worker_handles(self) -> list[ActorHandle]:
        """The live worker actors (fault-injection tests kill one)."""
        return list(self.pool.handles)

    # -- evaluation and state ---------------------------------------------------
    def evaluate(self) -> dict[str, float]:
        """Metrics of the current global model on the server's held-out data."""
        vec, data = self.global_vec, self.eval_ref
        return self.pool.call(0, lambda w: w.evaluate.remote(vec, data))

    def evaluate_on_clients(self, client_ids: list[int] | None = None) -> dict[str, float]:
        """Metrics of the global model on clients' training data (all clients by
        default): the federated training objective. A diagnostic that reads every
        listed client, so its cost grows with the population."""
        ids = list(range(len(self.sample_counts))) if client_ids is None else list(client_ids)
        vec = self.global_vec
        return self.pool.call(0, lambda w: w.evaluate_clients.remote(vec, ids))

    def stats(self) -> dict[str, int]:
        """Engine counters: rounds done, worker restarts, clients holding state."""
        return {
            "round": self.round,
            "worker_restarts": self.pool.restarts,
            "clients_with_state": len(self.client_states),
        }

    def weights(self) -> np.ndarray:
        """The current global flat state (float32)."""
        return self.global_vec.copy()

    def get_history(self) -> list[dict[str, Any]]:
        return list(self.history)

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue to the identical result."""
        return {
            "round": self.round,
            "global": self.global_vec.copy(),
            "strategy": self.strategy.state_dict(),
            "server_optimizer": self.server_opt.state_dict(),
            "round_lr": self.round_lr.state_dict(),
            "client_states": self.client_states.state_dict(),
            "history": self.history,
            **({"dp": self.dp.state_dict()} if self.dp is not None else {}),
            **({"clock": self.clock.state_dict()} if self.clock is not None else {}),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.round = int(state["round"])
        self.global_vec = np.asarray(state["global"], dtype=np.float32)
        self.strategy.load_state_dict(state["strategy"])
        self.server_opt.load_state_dict(state["server_optimizer"])
        self.round_lr.load_state_dict(state["round_lr"])
        self.client_states.load_state_dict(state["client_states"])
        self.history = list(state["history"])
        if self.dp is not None and "dp" in state:
            self.dp.load_state_dict(state["dp"])
        if self.clock is not None:
            self.clock.load_state_dict(state["clock"], self.round, self.cfg.seed)

    def save(self, path: str | Path, keep: int | None = None) -> str:
        """Write a checkpoint (arrays and plain values only: `raysim.engine.checkpoint`)."""
        return str(save_checkpoint(self.state_dict(), self.cfg, path, keep))

    def restore(self, path: str | Path) -> int:
        """Load a checkpoint; returns the round it continues from."""
        self.load_state_dict(load_checkpoint(path, self.cfg))
        return self.round

    def shutdown(self) -> None:
        self.pool.shutdown()
