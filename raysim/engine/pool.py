"""The worker pool: a bounded set of Ray actors that train whichever clients a
round assigns them, balanced by work, and replaced when they die.

The pool is owned by the aggregator: it alone starts replacements, so there is one
list of live handles. The driver only spawns the first actors (their start-up then
overlaps the aggregator's) and hands them over.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import ray
from ray.actor import ActorHandle
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError

from raysim.engine.partial import Partial
from raysim.engine.worker_spec import WorkerSpec

log = logging.getLogger(__name__)

DEAD_WORKER = (RayActorError, ActorDiedError, ActorUnavailableError)
T = TypeVar("T")


class WorkerActor:
    """The Ray actor around :class:`raysim.engine.worker.ClientWorker`, which is
    imported inside the actor process only: the driver and the aggregator never
    import torch."""

    def __init__(self, spec: WorkerSpec):
        self.reset(spec)

    def reset(self, spec: WorkerSpec) -> None:
        """Become a fresh worker of `spec` in this process (torch already imported):
        how a sweep reuses the process for its next trial (`raysim.engine.warm`)."""
        from raysim.engine.worker import ClientWorker

        self.impl = ClientWorker(spec, ray.get(spec.clients))

    # answers from its own thread: "constructed", even while the evaluator worker is
    # still importing evaluation libraries; all work runs in the default group
    @ray.method(concurrency_group="control")
    def ready(self) -> bool:
        return True

    def train(
        self,
        round_idx: int,
        lr: float,
        global_vec: np.ndarray,
        payload: dict[str, np.ndarray],
        client_ids: list[int],
        states: dict[int, dict[str, np.ndarray]],
    ) -> Partial:
        return self.impl.train(round_idx, lr, global_vec, payload, client_ids, states)

    def train_buckets(
        self,
        round_idx: int,
        lr: float,
        global_vec: np.ndarray,
        payload: dict[str, np.ndarray],
        client_ids: list[int],
        states: dict[int, dict[str, np.ndarray]],
        buckets: dict[int, tuple[int, float]],
    ) -> dict[int, Partial]:
        return self.impl.train_buckets(
            round_idx, lr, global_vec, payload, client_ids, states, buckets
        )

    def initial_state(self) -> tuple[np.ndarray, int]:
        return self.impl.initial_state()

    def preload_evaluation(self) -> None:
        self.impl.preload_evaluation()

    def evaluate(self, global_vec: np.ndarray, data: dict[str, np.ndarray]) -> dict[str, float]:
        return self.impl.evaluate(global_vec, data)

    def evaluate_clients(self, global_vec: np.ndarray, client_ids: list[int]) -> dict[str, float]:
        return self.impl.evaluate_clients(global_vec, client_ids)


def spawn_worker(spec: WorkerSpec, options: dict[str, Any]) -> ActorHandle:
    """Start one worker actor (asynchronously: construction overlaps other work)."""
    actor = ray.remote(concurrency_groups={"control": 1})(WorkerActor)
    return actor.options(**options).remote(spec)


def balance(client_ids: list[int], work: list[int], n_workers: int) -> list[list[int]]:
    """Longest-processing-time-first assignment of clients to workers.

    Deterministic (ties broken by client id, then worker index); each worker's
    list comes back sorted. Work is e.g. sample count or audio seconds.
    """
    order = sorted(range(len(client_ids)), key=lambda i: (-work[i], client_ids[i]))
    heap = [(0, w) for w in range(n_workers)]
    out: list[list[int]] = [[] for _ in range(n_workers)]
    for i in order:
        load, w = heapq.heappop(heap)
        out[w].append(client_ids[i])
        heapq.heappush(heap, (load + max(work[i], 1), w))
    return [sorted(c) for c in out]


class WorkerPool:
    """Live worker handles, which of them have finished starting, and replacements.

    Worker 0 is the evaluator: it also imports what evaluation needs before it
    counts as started.
    """

    def __init__(self, spec: WorkerSpec, options: dict[str, Any], handles: list[ActorHandle]):
        self.spec = spec
        self.options = options
        self.handles = list(handles)
        self.restarts = 0
        # index → ref resolved once the worker can take work; rounds go to started
        # workers only, so a slow starter does not hold the first rounds back
        self._starting = {i: h.ready.remote() for i, h in enumerate(self.handles)}
        self._starting[0] = self.handles[0].preload_evaluation.remote()

    @property
    def size(self) -> int:
        return len(self.handles)

    def started(self) -> list[int]:
        """Indices of the workers that have finished starting; waits for one if none has."""
        while True:
            if self._starting:
                refs = list(self._starting.values())
                done = set(ray.wait(refs, num_returns=len(refs), timeout=0)[0])
                for i, ref in list(self._starting.items()):
                    if ref in done:
                        del self._starting[i]
                        try:
                            ray.get(ref)
                        except DEAD_WORKER as err:
                            log.warning("worker %d died while starting (%s); replacing it", i, err)
                            self.replace(i)
            started = [i for i in range(self.size) if i not in self._starting]
            if started:
                return started
            ray.wait(list(self._starting.values()), num_returns=1)

    def wait_ready(self) -> None:
        """Block until every worker is constructed."""
        ray.get([h.ready.remote() for h in self.handles])

    def replace(self, i: int) -> None:
        """Kill (if still alive) and respawn worker `i`."""
        self.restarts += 1
        try:
            ray.kill(self.handles[i], no_restart=True)
        except Exception:  # already gone: nothing to clean up
            pass
        self.handles[i] = spawn_worker(self.spec, self.options)
        self._starting[i] = self.handles[i].ready.remote()

    def call(self, i: int, submit: Callable[[ActorHandle], ray.ObjectRef]) -> Any:
        """``ray.get(submit(worker i))``; a dead worker is replaced and the call repeated."""
        while True:
            try:
                return ray.get(submit(self.handles[i]))
            except DEAD_WORKER as err:
                log.warning("worker %d died (%s); replacing it", i, err)
                self.replace(i)

    def run(self, jobs: dict[int, Callable[[ActorHandle], ray.ObjectRef]]) -> dict[int, Any]:
        """Submit every worker's job at once and collect the results; a job whose
        worker dies is re-run on its replacement."""
        pending = {submit(self.handles[i]): i for i, submit in jobs.items()}
        results: dict[int, Any] = {}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            i = pending.pop(ready[0])
            try:
                results[i] = ray.get(ready[0])
            except DEAD_WORKER as err:
                log.warning("worker %d died (%s); re-running its job", i, err)
                self.replace(i)
                pending[jobs[i](self.handles[i])] = i
        return results

    def shutdown(self) -> None:
        for h in self.handles:
            try:
                ray.kill(h, no_restart=True)
            except Exception:
                pass
        self.handles = []
