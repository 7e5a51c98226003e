"""FedNova: the strategy added as one file, checked against its update rule."""

from __future__ import annotations

import numpy as np

from raysim.config import parse_config
from raysim.data.clients import ArrayClients
from raysim.engine.worker import ClientWorker
from raysim.engine.worker_spec import WorkerSpec
from raysim.registry import STRATEGIES


def _worker(strategy: dict, clients: ArrayClients) -> ClientWorker:
    cfg = parse_config(
        {
            "task": {"name": "feature_classification", "hidden": [4]},
            "strategy": strategy,
            "local": {"batch_size": 2, "shuffle": False, "optimizer": {"lr": 0.1}},
        }
    )
    info = {"input_dim": 3, "num_classes": 2}
    return ClientWorker(WorkerSpec(cfg.task, info, cfg.local, cfg.strategy, None, 0), clients)


def test_fednova_averages_updates_per_local_step():
    # client 0: 2 rows → 1 step; client 1: 8 rows → 4 steps (batch 2, one epoch)
    x = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    clients = ArrayClients({"x": x, "y": np.arange(10) % 2}, np.array([0, 2, 10]))
    nova = _worker({"name": "fednova"}, clients)
    start, _ = nova.initial_state()
    partial = nova.train(0, 0.1, start, {}, [0, 1], {})

    # the same clients one at a time, combined by hand: τ_eff Σ p_i Δ_i/τ_i
    deltas, steps, weights = [], [2 // 2, 8 // 2], [2.0, 8.0]
    for cid in (0, 1):
        alone = nova.train(0, 0.1, start, {}, [cid], {})
        deltas.append(alone.sums["delta"].value() / weights[cid])
    p = np.array(weights) / sum(weights)
    tau_eff = float(p @ steps)
    expected = tau_eff * sum(p[i] * deltas[i] / steps[i] for i in (0, 1))

    got = nova.strategy.pseudo_gradient(partial.sums, sum(weights), 2)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
    fedavg = sum(p[i] * deltas[i] for i in (0, 1))
    assert not np.allclose(got, fedavg)  # unequal steps: not FedAvg


def test_fednova_equals_fedavg_when_every_client_takes_the_same_steps():
    x = np.random.default_rng(1).normal(size=(8, 3)).astype(np.float32)
    clients = ArrayClients({"x": x, "y": np.arange(8) % 2}, np.array([0, 4, 8]))
    results = {}
    for name in ("fednova", "fedavg"):
        worker = _worker({"name": name}, clients)
        start, _ = worker.initial_state()
        partial = worker.train(0, 0.1, start, {}, [0, 1], {})
        results[name] = worker.strategy.pseudo_gradient(partial.sums, 8.0, 2)
    np.testing.assert_allclose(results["fednova"], results["fedavg"], rtol=1e-6, atol=1e-9)


def test_fednova_is_registered_without_a_config_section_of_its_own():
    cfg = parse_config({"strategy": {"name": "fednova", "weighting": "uniform"}})
    assert type(cfg.strategy).__module__ == "raysim.engine.strategies.fednova"
    assert STRATEGIES.build(cfg.strategy, 4, 10).weighting == "uniform"
