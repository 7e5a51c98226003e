"""Engine actors kept warm between simulations run by one process (sweep trials).

Starting a simulation's actors is most of a short sweep trial's cost: each worker
is a new Python process that imports torch, and the aggregator one more process.
Tune reuses a trial's actor (and its placement group) for the next trial of the
same resources; a simulation run inside it hands its actors here when it ends,
and the next one re-initialises them in place (`reset` / `reinit`: nothing of the
previous run is kept) instead of starting new processes.

The cache is per process and holds one set: a trial runs one simulation at a
time. Actors are keyed by what they were started with (worker resources, placement
group), so a simulation that needs others never gets them; one that needs more or
fewer workers takes what is kept and starts or stops the difference.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import ray
from ray.actor import ActorHandle

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WarmActors:
    """An idle aggregator actor and the worker actors its pool held last."""

    key: tuple
    aggregator: ActorHandle
    workers: list[ActorHandle]


_kept: WarmActors | None = None


def actor_key(options: dict[str, Any]) -> tuple:
    """What a set of engine actors must match to be reused: the workers' resources
    and the placement group they live in (None outside one)."""
    strategy = options.get("scheduling_strategy")
    group = getattr(getattr(strategy, "placement_group", None), "id", None)
    return (options.get("num_cpus"), options.get("num_gpus"), group and group.hex())


def keep(actors: WarmActors) -> None:
    """Keep `actors` for the next simulation of this process (any set kept before
    is stopped: one simulation runs at a time)."""
    global _kept
    if _kept is not None and _kept.aggregator != actors.aggregator:
        discard(_kept)
    _kept = actors


def take(key: tuple) -> WarmActors | None:
    """The kept actors if they match `key` (they are then no longer kept); a set
    that does not match is stopped."""
    global _kept
    kept, _kept = _kept, None
    if kept is None:
        return None
    if kept.key != key:
        discard(kept)
        return None
    return kept


def discard(actors: WarmActors) -> None:
    """Stop a set of engine actors."""
    stop([*actors.workers, actors.aggregator])


def stop(handles: list[ActorHandle]) -> None:
    """Stop these actors (dead ones are skipped)."""
    for handle in handles:
        try:
            ray.kill(handle, no_restart=True)
        except Exception:  # already gone: nothing to stop
            log.debug("engine actor already gone", exc_info=True)


def clear() -> None:
    """Stop the kept actors, if any (they hold their CPUs while kept)."""
    global _kept
    kept, _kept = _kept, None
    if kept is not None:
        discard(kept)
