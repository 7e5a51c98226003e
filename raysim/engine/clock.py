"""The virtual clock: who trains in a round (or server update) and how long it takes.

Runs inside the aggregator, torch-free. Each client's time for one local update comes
from its profile (`raysim.system.profiles`); the modes turn those times into rounds:

- ``sync``: the round waits for every sampled client that is online; its length is the
  slowest one's time.
- ``deadline``: ⌈(1+o)·k⌉ clients are sampled; the round ends when k have finished or
  at ``system.deadline``, whichever comes first. The others are stragglers: counted,
  never trained (their work would be thrown away).
- ``fedbuff``: one "round" is one server update of K arrivals
  (`raysim.system.fedbuff`); the clients that start from the current model version
  train as one batch on the worker pool, each returning into the update it lands in.

Everything is decided from the virtual clock and the seed before anything trains, so
the order never depends on wall time or on which worker finished first; the exact sums
make the grouping of clients onto workers irrelevant, so 1, 2 or 40 workers give the
same bits.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from raysim.config import SimulationConfig
from raysim.engine.client_state import ClientStateStore
from raysim.engine.exact_sum import ExactSum, merge_sums
from raysim.engine.partial import Partial
from raysim.engine.sampling import ClientSampler, UniformSampler
from raysim.system.fedbuff import FedBuffSchedule, staleness_weight
from raysim.system.profiles import SystemProfiles

#: (round or model version, lr, clients, their (update, staleness weight) or None) →
#: what the workers returned: one Partial each, or one Partial per update (buckets)
Dispatch = Callable[[int, float, list[int], "dict[int, tuple[int, float]] | None"], list]


def local_work(n_samples: int, epochs: int, steps: int | None, batch_size: int) -> float:
    """Work units one local update processes: every sample each epoch, or `steps`
    batches of at most `batch_size` samples."""
    if steps is None:
        return float(n_samples * epochs)
    return float(steps * min(batch_size, n_samples))


@dataclass
class ClockRound:
    """What the clock decided for one round, for the aggregator and its record."""

    sampled: int  # clients drawn
    dropped: int  # unavailable or offline before finishing
    trained: list[int]  # clients trained (sent the model)
    partials: list[Partial]  # what is aggregated now
    record: dict[str, float]  # the round record's ``sys_`` values


class VirtualClock:
    """Virtual time and the aggregation mode of a run with a ``system:`` section."""

    def __init__(
        self,
        cfg: SimulationConfig,
        profiles: SystemProfiles,
        sample_counts: np.ndarray,
        bytes_down: int,
        bytes_up: int,
        sampler: ClientSampler,
        client_states: ClientStateStore,
    ):
        """`bytes_down`/`bytes_up`: one client's traffic per local update."""
        self.sys = cfg.system
        self.profiles = profiles
        self.counts = sample_counts
        self.local = cfg.local
        self.bytes = (bytes_down, bytes_up)
        self.sampler = sampler
        self.client_states = client_states
        self.time = 0.0
        population = len(sample_counts)
        if self.sys.mode != "sync" and not isinstance(sampler, UniformSampler):
            raise ValueError(
                f"system.mode={self.sys.mode} draws clients itself (deadline over-commits "
                "the uniform sampler, fedbuff fills slots as clients arrive); a custom "
                f"sampler ({type(sampler).__name__}) cannot be used"
            )
        if self.sys.mode == "deadline":
            self.k = sampler.k
            # round(): (1 + 0.3) * 10 is 13.000000000000002 in floating point
            n = min(math.ceil(round((1 + self.sys.over_commit) * self.k, 9)), population)
            over = cfg.sampling.model_copy(update={"clients_per_round": n, "fraction": None})
            self.sampler = UniformSampler(over, population, cfg.seed)
        self.schedule: FedBuffSchedule | None = None
        self.pending: dict[int, Partial] = {}  # fedbuff: update → arrivals summed so far
        if self.sys.mode == "fedbuff":
            self.schedule = self._new_schedule(cfg.seed, population)

    def _new_schedule(self, seed: int, population: int) -> FedBuffSchedule:
        assert isinstance(self.sampler, UniformSampler)
        return FedBuffSchedule(
            self.sys.concurrency,
            self.sys.buffer_size,
            population,
            seed,
            self.duration,
            lambda c: self.profiles.of(c).behaviour,
            self.sampler.client_availability,
        )

    def duration(self, client: int) -> float:
        """Client `client`'s virtual seconds for one local update."""
        loc = self.local
        work = local_work(int(self.counts[client]), loc.epochs, loc.steps, loc.batch_size)
        return self.profiles.of(client).duration(work, *self.bytes)

    def round(self, r: int, lr: float, dispatch: Dispatch) -> ClockRound:
        """Run round (or server update) `r`: decide who trains, train them through
        `dispatch`, advance the clock."""
        if self.schedule is not None:
            return self._fedbuff_update(r, lr, dispatch)
        return self._cohort_round(r, lr, dispatch)

    # -- sync and deadline ------------------------------------------------------------
    def _cohort_round(self, r: int, lr: float, dispatch: Dispatch) -> ClockRound:
        sampled, available = self.sampler.sample(r)
        t0 = self.time
        finish: list[tuple[float, int]] = []  # (virtual seconds, client)
        offline, settled = 0, 0.0  # settled: when every sampled client is accounted for
        for c in available:
            d = self.duration(c)
            behaviour = self.profiles.of(c).behaviour
            if behaviour is not None:
                until = behaviour.online_until(t0)
                if until < t0 + d:  # offline now, or before it would finish
                    offline += 1
                    settled = max(settled, until - t0)
                    continue
            finish.append((d, c))
            settled = max(settled, d)
        finish.sort()
        record: dict[str, float] = {}
        if self.sys.mode == "deadline":
            limit = self.sys.deadline
            on_time = [x for x in finish if limit is None or x[0] <= limit][: self.k]
            if len(on_time) == self.k:
                length = on_time[-1][0]
            else:
                length = settled if limit is None else min(limit, settled)
            record["stragglers"] = len(finish) - len(on_time)
        else:
            on_time, length = finish, settled
        trained = sorted(c for _, c in on_time)
        partials = dispatch(r, lr, trained, None) if trained else []
        self.time += length
        dropped = len(sampled) - len(available) + offline
        record = {"virtual_s": length, "virtual_time": self.time, **record}
        return ClockRound(len(sampled), dropped, trained, partials, record)

    # -- fedbuff ----------------------------------------------------------------------
    def _fedbuff_update(self, r: int, lr: float, dispatch: Dispatch) -> ClockRound:
        assert self.schedule is not None
        starts = self.schedule.plan(r)  # the clients that start from version r
        rule = self.sys.staleness
        buckets = {c: (u, staleness_weight(u - r, rule)) for c, u in starts.trained.items()}
        trained = sorted(buckets)
        for per_update in dispatch(r, lr, trained, buckets) if trained else []:
            for u, part in per_update.items():
                for cid, state in part.states.items():  # now: the client may start again
                    self.client_states.put(cid, state)  # before its update is applied
                self._add_pending(u, part)
        update = self.pending.pop(r, None)
        taus = self.schedule.arrivals.pop(r)
        end = self.schedule.update_time(r)
        length, self.time = end - self.time, end
        record = {
            "virtual_s": length,
            "virtual_time": self.time,
            "staleness_mean": float(np.mean(taus)),
            "staleness_max": float(max(taus)),
        }
        dropped = starts.unavailable + starts.failed
        return ClockRound(starts.drawn, dropped, trained, [update] if update else [], record)

    def _add_pending(self, u: int, part: Partial) -> None:
        have = self.pending.get(u)
        parts = [part] if have is None else [have, part]
        self.pending[u] = Partial(
            sums=merge_sums([p.sums for p in parts]),  # copies: results may be read-only
            rejected=[rej for p in parts for rej in p.rejected],
            idle=sum(p.idle for p in parts),
        )

    # -- checkpoints ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The clock's time and, under fedbuff, the updates of clients still in flight."""
        pending = {
            str(u): {
                "sums": {k: [s.hi, s.lo] for k, s in p.sums.items()},
                "rejected": [list(rej) for rej in p.rejected],
                "idle": p.idle,
            }
            for u, p in self.pending.items()
        }
        return {"time": self.time, "pending": pending}

    def load_state_dict(self, state: dict[str, Any], rounds_done: int, seed: int) -> None:
        """Restore :meth:`state_dict` at `rounds_done`; the FedBuff schedule is replayed
        from the seed (it depends on nothing else)."""
        self.time = float(state["time"])
        self.pending = {
            int(u): Partial(
                sums={k: ExactSum(np.array(hi), np.array(lo)) for k, (hi, lo) in p["sums"].items()},
                rejected=[(int(c), str(why)) for c, why in p["rejected"]],
                idle=int(p["idle"]),
            )
            for u, p in state["pending"].items()
        }
        if self.schedule is not None:
            self.schedule = self._new_schedule(seed, len(self.counts))
            for v in range(rounds_done):
                self.schedule.plan(v)
                self.schedule.arrivals.pop(v)
