"""The public entry point: ``raysim.Simulation(config).run()``.

The driver only orchestrates: it builds the data once, puts it in the object
store, starts the worker pool and the aggregator actor, then asks for rounds
and shows progress. It never imports torch (the actors do), so it starts fast.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import ray

from raysim.config import ConfigError, SimulationConfig, parse_config
from raysim.data.clients import sample_counts
from raysim.data.sources import SourceData, build_source
from raysim.engine import warm
from raysim.engine.aggregator import Aggregator
from raysim.engine.checkpoint import latest_checkpoint
from raysim.engine.pool import DEAD_WORKER, spawn_worker
from raysim.engine.sampling import ClientSampler, UnitSampler
from raysim.engine.worker_spec import WorkerSpec
from raysim.federation import Federation, federation_of
from raysim.input_checks import check_inputs
from raysim.privacy import PrivacyPlan, plan_privacy
from raysim.progress import RoundProgress
from raysim.ray_runtime import init_ray, shutdown_ray
from raysim.round_record import RoundRecord
from raysim.run_checks import StuckMetrics, warn_run
from raysim.system.profiles import SystemProfiles

log = logging.getLogger(__name__)


@dataclass
class SimulationResult:
    """What a finished simulation returns."""

    history: list[dict[str, Any]]
    weights: np.ndarray
    metrics: dict[str, float] = field(default_factory=dict)  # the last evaluation
    warnings: list[str] = field(default_factory=list)  # `raysim.run_checks`, as warned
    federation: Federation | None = None  # who held what (`raysim.federation`)
    privacy: PrivacyPlan | None = None  # the resolved DP plan (`raysim.privacy`), if any


def _current_placement_group_options() -> dict[str, Any]:
    """Keep the engine's actors inside the caller's placement group (e.g. a Tune trial)."""
    from ray.util import get_current_placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    pg = get_current_placement_group()
    if pg is None:
        return {}
    return {
        "scheduling_strategy": PlacementGroupSchedulingStrategy(
            pg, placement_group_capture_child_tasks=True
        )
    }


class Simulation:
    """A federated simulation on Ray.

    Args:
        config: a :class:`SimulationConfig` or a dict validated into one.
        data: prebuilt :class:`SourceData` (default: built from ``config.data``).
        sampler: a custom client sampler (default: uniform, from ``config.sampling``).
        address: Ray address to join ('auto' for a running cluster); default local.
        reuse_actors: start from the engine actors an earlier simulation of this
            process kept, re-initialised, when their resources match this run's (no
            process start-up: sweep trials, notebooks, test suites), and keep this
            run's actors when it ends (they hold their CPUs until
            `raysim.engine.warm.clear()` or the next simulation that does not match).
    """

    def __init__(
        self,
        config: SimulationConfig | dict[str, Any] | None = None,
        *,
        data: SourceData | None = None,
        sampler: ClientSampler | None = None,
        address: str | None = None,
        reuse_actors: bool = False,
    ):
        self.config = parse_config(config)
        self._data = data
        self._sampler = sampler
        self._address = address
        self._reuse_actors = reuse_actors
        self._actor_key: tuple = ()
        self._owns_ray = False
        self._aggregator: Any = None  # the ray.remote(Aggregator) actor
        self._stuck = StuckMetrics(self.config.eval.stuck_rounds)
        #: the clients and held-out set this run trains on, once started; saved as
        #: federation.json in checkpoint.dir when there is one
        self.federation: Federation | None = None
        #: the resolved differential-privacy plan (solved ε, δ or σ), once started
        self.privacy: PrivacyPlan | None = None

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> Simulation:
        """Check the config's inputs (ConfigError naming the key before Ray starts),
        start Ray (if needed), ship the data once, and launch the actors."""
        if self._aggregator is not None:
            return self
        cfg = self.config
        if self._data is None:
            check_inputs(cfg)
        # traces are read before Ray starts: a malformed one fails naming its file and line
        profiles = SystemProfiles.load(cfg.system, cfg.seed) if cfg.system else None
        self._owns_ray = init_ray(self._address)
        data = self._data or build_source(cfg.data, cfg.seed)
        self.federation = federation_of(cfg, data)
        if cfg.checkpoint.dir:
            self.federation.save(cfg.checkpoint.dir)
        population = len(data.clients)
        if cfg.system is not None and cfg.system.mode == "fedbuff":
            slots = cfg.system.concurrency + cfg.system.buffer_size
            if slots > population:
                raise ConfigError(
                    f"system.concurrency + system.buffer_size = {slots}: more than the "
                    f"population of {population} clients (a client trains once per version)"
                )
        sampler = self._sampler
        if cfg.privacy is not None:
            # solved before any actor starts: a target that cannot be met fails here
            try:
                self.privacy, units = plan_privacy(cfg, population, self.federation.speakers)
            except ValueError as err:
                raise ConfigError(str(err)) from None
            log.info("privacy: %s", self.privacy.describe())
            if units is not None and sampler is None:
                sampler = UnitSampler(cfg.sampling, units, cfg.seed)
        pg_options = _current_placement_group_options()
        spec = WorkerSpec(
            task=cfg.task,
            info=data.info,
            local=cfg.local,
            strategy=cfg.strategy,
            clients=ray.put(data.clients),
            seed=cfg.seed,
            torch_threads=cfg.engine.torch_threads,
            privacy=self.privacy.summary() if self.privacy is not None else None,
        )
        resources = {"num_cpus": cfg.engine.worker_cpus, "num_gpus": cfg.engine.worker_gpus}
        options = {**resources, **pg_options}
        aggregator_args = {
            "config": cfg,
            "sample_counts": sample_counts(data.clients),
            # in a list: the aggregator forwards the ref unread
            "eval_data": [ray.put(data.eval_data)],
            "worker_spec": spec,
            "worker_options": options,
            "sampler": sampler,
            "privacy": self.privacy and vars(self.privacy),
            "profiles": profiles,
        }
        n_workers = self._n_workers(population)
        self._actor_key = warm.actor_key(options)
        kept = warm.take(self._actor_key) if self._reuse_actors else None
        if kept is not None:
            self._aggregator = self._rewarm(kept, n_workers, aggregator_args)
        if self._aggregator is None:
            # spawned here so that their start-up overlaps the aggregator's; it owns them
            workers = [spawn_worker(spec, options) for _ in range(n_workers)]
            aggregator = ray.remote(Aggregator).options(num_cpus=0, **pg_options)
            self._aggregator = aggregator.remote(workers=workers, **aggregator_args)
        return self

    @staticmethod
    def _rewarm(kept: warm.WarmActors, n_workers: int, aggregator_args: dict[str, Any]) -> Any:
        """Re-initialise kept engine actors for this run, starting or stopping workers
        to make `n_workers`; None (and the set stopped) if one has died since."""
        spec, options = aggregator_args["worker_spec"], aggregator_args["worker_options"]
        reused = kept.workers[:n_workers]
        warm.stop(kept.workers[n_workers:])
        workers = reused + [spawn_worker(spec, options) for _ in range(n_workers - len(reused))]
        try:
            ray.get([w.reset.remote(spec) for w in reused])
            ray.get(kept.aggregator.reinit.remote(workers=workers, **aggregator_args))
        except DEAD_WORKER as err:
            log.warning("kept engine actors are gone (%s); starting new ones", err)
            warm.stop([*workers, kept.aggregator])
            return None
        return kept.aggregator

    def wait_ready(self) -> Simulation:
        """Block until the aggregator and every worker have finished starting."""
        self.start()
        ray.get(self._aggregator.wait_ready.remote())
        return self

    def _n_workers(self, population: int) -> int:
        eng = self.config.engine
        if eng.mode == "actor_per_client":
            return population
        if eng.num_workers is not None:
            if eng.num_workers > population:
                raise ConfigError(
                    f"engine.num_workers: {eng.num_workers} workers for only {population} clients"
                )
            return eng.num_workers
        cpus = ray.available_resources().get("CPU", 1.0)
        return max(1, min(population, int(cpus // eng.worker_cpus)))

    def shutdown(self, *, keep_actors: bool | None = None) -> None:
        """Stop the actors (and Ray, if this simulation started it).

        With `keep_actors` (default: `reuse_actors`) and a Ray this simulation did not
        start, the actors are kept idle instead, for the next simulation of this
        process made with `reuse_actors` (`raysim.engine.warm.clear` stops them).
        """
        if keep_actors is None:
            keep_actors = self._reuse_actors
        if self._aggregator is not None:
            if keep_actors and not self._owns_ray:
                workers = ray.get(self._aggregator.worker_handles.remote())
                warm.keep(warm.WarmActors(self._actor_key, self._aggregator, workers))
            else:
                ray.get(self._aggregator.shutdown.remote())
                ray.kill(self._aggregator)
            self._aggregator = None
        if self._owns_ray:
            shutdown_ray()
            self._owns_ray = False

    def __enter__(self) -> Simulation:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.shutdown()

    # -- running ------------------------------------------------------------------
    def run_round(self) -> dict[str, Any]:
        """Run one round; returns its record (and warns if its metrics are stuck)."""
        return self.collect_round(self.submit_round())

    def collect_round(self, submitted: ray.ObjectRef) -> dict[str, Any]:
        """Wait for a round `submit_round` started; returns its record (and warns if
        its metrics are stuck)."""
        record = ray.get(submitted)
        self._stuck.update(record)
        return record

    def submit_round(self) -> ray.ObjectRef:
        """Start the next round without waiting; returns a reference to its record."""
        self.start()
        return self._aggregator.run_round.remote()

    def resume(self, path: str | Path | None = None) -> int:
        """Restore from `path` or the newest checkpoint in config.checkpoint.dir.
        Returns the round the run continues from (0 if there was none)."""
        self.start()
        if path is None and self.config.checkpoint.dir:
            path = latest_checkpoint(self.config.checkpoint.dir)
        return ray.get(self._aggregator.restore.remote(str(path))) if path else 0

    def save(self, path: str | Path) -> str:
        """Write a checkpoint of the whole simulation state now."""
        return ray.get(self._aggregator.save.remote(str(path)))

    def stats(self) -> dict[str, int]:
        """Engine counters (rounds done, worker restarts, clients holding state)."""
        return ray.get(self._aggregator.stats.remote())

    def evaluate(self) -> dict[str, float]:
        """The current global model's metrics on the server's held-out data."""
        return ray.get(self._aggregator.evaluate.remote())

    def evaluate_on_clients(self, client_ids: list[int] | None = None) -> dict[str, float]:
        """The global model's metrics on clients' training data (default: all clients)."""
        return ray.get(self._aggregator.evaluate_on_clients.remote(client_ids))

    def worker_handles(self) -> list[Any]:
        """The live worker actors, as the aggregator's pool holds them now."""
        return ray.get(self._aggregator.worker_handles.remote())

    def weights(self) -> np.ndarray:
        return ray.get(self._aggregator.weights.remote())

    def run(
        self, *, progress: bool = True, resume: bool = False, shutdown: bool = True
    ) -> SimulationResult:
        """Run the remaining rounds (after resuming, if asked) and return the result."""
        try:
            self.start()
            done = self.resume() if resume else 0
            history = ray.get(self._aggregator.get_history.remote())[:done]
            for record in history:  # a resumed run's stuck stretch counts from its start
                self._stuck.update(record)
            with RoundProgress(progress, self.config.rounds, done) as advance:
                for _ in range(done, self.config.rounds):
                    record = self.run_round()
                    history.append(record)
                    advance(record)
            weights = self.weights()
        finally:
            if shutdown:
                self.shutdown()
        evals = [e for e in (RoundRecord.from_dict(r).eval for r in history) if e]
        metrics = evals[-1] if evals else {}
        ended = [warn_run(m) for m in self.config.task.run_warnings(history)]
        warnings = self._stuck.messages + ended
        return SimulationResult(history, weights, metrics, warnings, self.federation, self.privacy)
