"""FedBuff's event order in virtual time (Nguyen et al., AISTATS 2022).

M clients train at once. Each starts from the model version current when it starts and
arrives after its profile's duration; the server buffers arrivals and applies an update
every K of them, weighting each by its staleness s(τ) = 1/√(1+τ), τ the updates applied
since the client started. Every arrival frees a slot, and a new client starts at once.

Which client trains when, from which version, and in which update it lands follows from
the virtual clock and the seed alone: the durations come from the profiles, never from
training. So :class:`FedBuffSchedule` runs ahead of the training: when version v exists,
it knows every client that starts from v and the update each will land in, and the
engine trains those clients as one batch on the worker pool.

Draws: a slot is filled uniformly among the clients neither in flight nor already
started from the current version (a client trains at most once per version), from
(seed, start number). A client unavailable when drawn (``sampling.availability``) is
counted and another drawn; with a behaviour trace, a client drawn offline checks in
when it next comes online (holding the slot), and one that goes offline before it
finishes fails then: counted, never trained, and its slot refilled.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from raysim.rng import Stream, stream
from raysim.system.traces import Behaviour


def staleness_weight(tau: int, rule: str = "sqrt") -> float:
    """s(τ): 1/√(1+τ) (``sqrt``, the paper's) or 1 (``none``)."""
    if tau < 0:
        raise ValueError(f"staleness {tau} < 0")
    return 1.0 / math.sqrt(1.0 + tau) if rule == "sqrt" else 1.0


@dataclass
class VersionStarts:
    """The clients that started from one model version."""

    trained: dict[int, int] = field(default_factory=dict)  # client → update it lands in
    drawn: int = 0  # clients drawn while this version was current
    unavailable: int = 0  # of them, unavailable when drawn
    failed: int = 0  # started from this version, went offline before finishing
    unresolved: int = 0  # started, not yet arrived or failed


class FedBuffSchedule:
    """The FedBuff event simulation (pure bookkeeping: nothing here trains).

    Args:
        concurrency: M. buffer_size: K. population: clients to draw from (≥ M + K).
        seed: the run's seed.
        duration: a client's virtual seconds for one local update.
        behaviour: a client's availability pattern (None: always online).
        availability: a client's probability of reporting when drawn.
    """

    def __init__(
        self,
        concurrency: int,
        buffer_size: int,
        population: int,
        seed: int,
        duration: Callable[[int], float],
        behaviour: Callable[[int], Behaviour | None],
        availability: Callable[[int], float],
    ):
        if population < concurrency + buffer_size:
            raise ValueError(
                f"system.concurrency + system.buffer_size = {concurrency + buffer_size} "
                f"exceeds the population of {population} clients"
            )
        self.k = buffer_size
        self.population = population
        self.seed = seed
        self.duration = duration
        self.behaviour = behaviour
        self.availability = availability
        self.version = 0  # updates applied so far, in virtual time
        self.buffered = 0
        self.update_times: list[float] = []
        self.arrivals: dict[int, list[int]] = {}  # update → staleness of each arrival
        self.starts: dict[int, VersionStarts] = {}
        self._start_of: dict[int, int] = {}  # client in flight → version it started from
        self._heap: list[tuple[float, int, str, int]] = []  # (time, seq, kind, client)
        self._seq = 0
        self._draws = 0
        for _ in range(concurrency):
            self._fill(0.0)

    def plan(self, version: int) -> VersionStarts:
        """The clients that start from `version`, each with the update it lands in; runs
        the simulation until all of them have arrived or failed. Called once per version,
        in order."""
        while self.version <= version or self.starts[version].unresolved:
            self._step()
        return self.starts.pop(version)

    def update_time(self, update: int) -> float:
        """The virtual time at which update `update` is applied (after :meth:`plan`)."""
        return self.update_times[update]

    # -- the simulation -----------------------------------------------------------
    def _push(self, t: float, kind: str, client: int) -> None:
        heapq.heappush(self._heap, (t, self._seq, kind, client))
        self._seq += 1

    def _fill(self, t: float) -> None:
        """Fill a free slot at time t: draw a client and start it (or its check-in)."""
        starts = self.starts.setdefault(self.version, VersionStarts())
        while True:
            rng = stream(self.seed, self._draws, Stream.FEDBUFF_DRAW)
            self._draws += 1
            client = int(rng.integers(self.population))
            while client in self._start_of or client in starts.trained:
                client = int(rng.integers(self.population))
            starts.drawn += 1
            if rng.random() < self.availability(client):
                break
            starts.unavailable += 1
        behaviour = self.behaviour(client)
        self._start_of[client] = -1  # reserved (checking in)
        if behaviour is not None and not behaviour.online_at(t):
            self._push(behaviour.next_online(t), "checkin", client)
        else:
            self._begin(t, client)

    def _begin(self, t: float, client: int) -> None:
        starts = self.starts.setdefault(self.version, VersionStarts())
        self._start_of[client] = self.version
        starts.unresolved += 1
        end = t + self.duration(client)
        behaviour = self.behaviour(client)
        if behaviour is not None and behaviour.online_until(t) < end:
            self._push(behaviour.online_until(t), "fail", client)
        else:
            starts.trained[client] = -1  # the update it lands in, set on arrival
            self._push(end, "arrive", client)

    def _step(self) -> None:
        t, _, kind, client = heapq.heappop(self._heap)
        if kind == "checkin":
            if client in self.starts.setdefault(self.version, VersionStarts()).trained:
                self._start_of.pop(client)  # already trained from this version: redraw
                self._fill(t)
            else:
                self._begin(t, client)
            return
        started = self._start_of.pop(client)
        starts = self.starts[started]
        starts.unresolved -= 1
        if kind == "fail":
            starts.failed += 1
        else:
            starts.trained[client] = self.version
            self.arrivals.setdefault(self.version, []).append(self.version - started)
            self.buffered += 1
            if self.buffered == self.k:
                self.update_times.append(t)
                self.version += 1
                self.buffered = 0
        self._fill(t)
