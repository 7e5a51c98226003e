"""Which clients train in a round: seeded from (seed, round), never from history,
so a resumed run samples exactly what an uninterrupted one would."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from raysim.config import SamplingConfig
from raysim.rng import Stream, stream


class ClientSampler(Protocol):
    """Chooses the clients of a round."""

    def sample(self, round_idx: int) -> tuple[list[int], list[int]]:
        """(sampled clients, the subset that is available and reports), both sorted."""


class UniformSampler:
    """Uniform without replacement (a fraction or a count), then each sampled
    client c reports with its own probability p_c (independent draws).

    p_c = `availability` for all clients, or, with `availability_concentration` κ,
    p_c ~ Beta(μκ, (1−μ)κ) with μ = `availability`: heterogeneous devices. p_c is
    derived from (seed, c) when needed, so nothing is stored per client.
    """

    def __init__(self, cfg: SamplingConfig, population: int, seed: int):
        if cfg.clients_per_round is not None:
            k = cfg.clients_per_round
            if k > population:
                raise ValueError(
                    f"sampling.clients_per_round={k} exceeds the population of {population} clients"
                )
        else:
            k = max(1, int(round(cfg.fraction * population)))
        self.k = k
        self.population = population
        self.availability = cfg.availability
        self.concentration = cfg.availability_concentration
        self.seed = seed

    def client_availability(self, client_id: int) -> float:
        """The probability that client `client_id` reports when sampled."""
        mu, kappa = self.availability, self.concentration
        if kappa is None or mu >= 1.0:
            return mu
        rng = stream(self.seed, client_id, Stream.AVAILABILITY)
        return float(rng.beta(mu * kappa, (1 - mu) * kappa))

    def sample(self, round_idx: int) -> tuple[list[int], list[int]]:
        rng = stream(self.seed, round_idx, Stream.COHORT)
        sampled = np.sort(rng.choice(self.population, self.k, replace=False))
        if self.availability >= 1.0:
            return sampled.tolist(), sampled.tolist()
        p = np.array([self.client_availability(int(c)) for c in sampled])
        keep = rng.random(self.k) < p
        return sampled.tolist(), sampled[keep].tolist()


class FixedSchedule:
    """Clients given per round (e.g. a benchmark's shared schedule); all report."""

    def __init__(self, schedule: list[list[int]] | np.ndarray):
        self.schedule = [sorted(int(c) for c in r) for r in schedule]

    def sample(self, round_idx: int) -> tuple[list[int], list[int]]:
        if round_idx >= len(self.schedule):
            raise IndexError(f"schedule has {len(self.schedule)} rounds; round {round_idx} asked")
        clients = self.schedule[round_idx]
        return clients, clients


class UnitSampler:
    """Uniform without replacement over units (e.g. speakers: groups of clients), all
    of a sampled unit's clients taking part (privacy.sample_by=speaker); each then
    reports with its availability, as under :class:`UniformSampler`."""

    def __init__(self, cfg: SamplingConfig, units: list[list[int]], seed: int):
        self.units = [sorted(u) for u in units]
        population = sum(len(u) for u in units)
        self.clients = UniformSampler(cfg, population, seed)  # availability per client
        if cfg.clients_per_round is not None:
            self.k = cfg.clients_per_round
        else:
            self.k = max(1, int(round(cfg.fraction * len(units))))
        self.seed = seed

    def sample(self, round_idx: int) -> tuple[list[int], list[int]]:
        rng = stream(self.seed, round_idx, Stream.UNIT_COHORT)
        chosen = rng.choice(len(self.units), min(self.k, len(self.units)), replace=False)
        sampled = np.sort(np.concatenate([self.units[u] for u in chosen]))
        if self.clients.availability >= 1.0:
            return sampled.tolist(), sampled.tolist()
        p = np.array([self.clients.client_availability(int(c)) for c in sampled])
        keep = rng.random(len(sampled)) < p
        return sampled.tolist(), sampled[keep].tolist()
