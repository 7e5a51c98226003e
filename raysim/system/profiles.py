"""Client system profiles: compute speed, bandwidths and availability over virtual time.

A profile is a function of (seed, client) or of a trace record, computed when the
client is first asked for, so the cost grows with the clients that take part, never
with the population.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from raysim.rng import Stream, stream
from raysim.system.config import SystemConfig
from raysim.system.traces import (
    Behaviour,
    Capacity,
    read_behaviour_trace,
    read_capacity_trace,
)


@dataclass(frozen=True)
class ClientProfile:
    """One client's system: work units per second, bytes per second each way, and its
    availability (None: always online)."""

    speed: float
    bandwidth_down: float
    bandwidth_up: float
    behaviour: Behaviour | None = None

    def duration(self, work: float, bytes_down: float, bytes_up: float) -> float:
        """Virtual seconds of one local update: download, compute, upload."""
        return bytes_down / self.bandwidth_down + work / self.speed + bytes_up / self.bandwidth_up


class SystemProfiles:
    """Every client's :class:`ClientProfile`, from the config's distributions or traces.

    Build it with :meth:`load` on the driver: a malformed trace then fails before Ray
    starts, naming the file and the line. It travels to the aggregator as plain data.
    """

    def __init__(
        self,
        cfg: SystemConfig,
        seed: int,
        capacity: list[Capacity] | None = None,
        behaviour: list[Behaviour] | None = None,
    ):
        self.cfg = cfg
        self.seed = seed
        self.capacity = capacity
        self.behaviour = behaviour
        self._cache: dict[int, ClientProfile] = {}

    @classmethod
    def load(cls, cfg: SystemConfig, seed: int) -> SystemProfiles:
        """The profiles `cfg` describes, its trace files read (TraceError if malformed)."""
        capacity = read_capacity_trace(cfg.capacity_trace) if cfg.capacity_trace else None
        behaviour = read_behaviour_trace(cfg.behaviour_trace) if cfg.behaviour_trace else None
        return cls(cfg, seed, capacity, behaviour)

    def of(self, client: int) -> ClientProfile:
        """Client `client`'s profile."""
        profile = self._cache.get(client)
        if profile is None:
            profile = self._cache[client] = self._make(client)
        return profile

    def _make(self, client: int) -> ClientProfile:
        behaviour = self.behaviour[client % len(self.behaviour)] if self.behaviour else None
        if self.capacity:
            cap = self.capacity[client % len(self.capacity)]
            return ClientProfile(cap.speed, cap.bandwidth, cap.bandwidth, behaviour)
        # three draws in a fixed order from the client's own stream
        z = stream(self.seed, client, Stream.SYSTEM_PROFILE).standard_normal(3)
        c = self.cfg
        speed, down, up = (
            d.median * float(np.exp(d.sigma * zi))
            for d, zi in zip((c.speed, c.bandwidth_down, c.bandwidth_up), z, strict=True)
        )
        return ClientProfile(speed, down, up, behaviour)
