"""The worker pool: a bounded set of Ray actors that train whichever clients a
round assigns them, balanced by work, and replaced when they die."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

import ray

from raysim.engine.actors import WORKER_CONCURRENCY, WorkerActor


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


@dataclass
class WorkerPool:
    """Handles to the worker actors plus what is needed to start a replacement."""

    init_args: tuple
    init_kwargs: dict[str, Any]
    options: dict[str, Any]
    size: int
    handles: list[Any] = field(default_factory=list)

    def start(self) -> WorkerPool:
        """Create the actors (asynchronously: construction overlaps other start-up work)."""
        self.handles = [self._spawn(i) for i in range(self.size)]
        return self

    def _spawn(self, index: int):
        actor = ray.remote(concurrency_groups=WORKER_CONCURRENCY)(WorkerActor)
        actor = actor.options(**self.options)
        return actor.remote(*self.init_args, **self.init_kwargs)

    def wait_ready(self) -> None:
        ray.get([h.ready.remote() for h in self.handles])

    def replace(self, index: int) -> Any:
        """Kill (if still alive) and respawn worker `index`; returns the new handle."""
        try:
            ray.kill(self.handles[index], no_restart=True)
        except Exception:  # already gone: nothing to clean up
            pass
        self.handles[index] = self._spawn(index)
        return self.handles[index]

    def shutdown(self) -> None:
        for h in self.handles:
            try:
                ray.kill(h, no_restart=True)
            except Exception:
                pass
        self.handles = []
