"""The engine on a real (shared, session-wide) Ray instance."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import raysim
from raysim.config import LocalConfig, parse_config
from raysim.data.clients import ArrayClients, GeneratedClients, sample_counts
from raysim.data.sources import SourceData, build_source
from raysim.dotted import merge
from raysim.engine.flat import get_flat
from raysim.engine.local import client_rng, train_client
from raysim.registry import STRATEGIES, TASKS
from raysim.tasks.base import ClientContext

SMALL = {
    "seed": 3,
    "rounds": 3,
    "task": {"name": "feature_classification", "hidden": [16]},
    "data": {
        "source": "synthetic_features",
        "dim": 8,
        "n_train": 600,
        "n_test": 200,
        "partition": {"name": "dirichlet", "n_clients": 12, "alpha": 0.5},
    },
    "sampling": {"fraction": 0.5},
    "local": {"optimizer": {"name": "sgd", "lr": 0.1}, "batch_size": 16, "epochs": 2},
    "engine": {"num_workers": 2, "worker_cpus": 0.5},
    "eval": {"every": 0},
}


def config(**overrides):
    return merge(SMALL, overrides)


def run(cfg, **kw):
    """Run `cfg` on the actors the previous run kept (`reuse_actors`): what a sweep
    does between trials, and seconds of process start-up saved per test on 2 cores."""
    return raysim.Simulation(cfg, reuse_actors=True, **kw).run(progress=False)


def test_fedavg_is_the_weighted_mean_of_client_models(ray_session):
    cfg = parse_config(config(rounds=1, sampling={"fraction": 1.0}))
    result = run(cfg)
    # the same round, client by client, in this process
    data = build_source(cfg.data, cfg.seed)
    task = TASKS.build(cfg.task, data.info)
    torch.manual_seed(cfg.seed)
    model = task.build_model()
    x0 = get_flat(model)
    strategy = STRATEGIES.build(STRATEGIES.parse(), len(x0), len(data.clients))
    total, weights = np.zeros_like(x0, np.float64), 0.0
    for cid in range(len(data.clients)):
        ctx = ClientContext(cid, 0, cfg.seed, client_rng(cfg.seed, 0, cid))
        res = train_client(
            task, model, strategy, cfg.local, cfg.local.optimizer.lr, x0, {},
            data.clients.get(cid), None, ctx,
        )  # fmt: skip
        total += res.n_samples * (x0 + res.delta).astype(np.float64)
        weights += res.n_samples
    np.testing.assert_allclose(result.weights, total / weights, atol=1e-6)
    assert not np.allclose(result.weights, x0)  # training moved the model


def test_final_weights_bit_identical_for_1_2_and_4_workers(ray_session):
    # SCAFFOLD with sample weighting: client-state routing and weighted sums both covered
    strategy = {"name": "scaffold", "weighting": "samples"}
    finals = [
        run(config(strategy=strategy, engine={"num_workers": n, "worker_cpus": 0.5})).weights
        for n in (1, 2, 4)
    ]
    assert np.array_equal(finals[0], finals[1])
    assert np.array_equal(finals[0], finals[2])


@pytest.mark.parametrize(
    "system",
    [
        {"mode": "deadline", "over_commit": 0.5},
        {"mode": "fedbuff", "concurrency": 5, "buffer_size": 2},
    ],
)
def test_system_modes_bit_identical_for_1_2_and_4_workers(ray_session, system):
    # heavy-tailed speeds: stragglers, stale arrivals; sample weighting
    speeds = {"speed": {"median": 100.0, "sigma": 1.0}, **system}
    runs = [
        run(config(system=speeds, engine={"num_workers": n, "worker_cpus": 0.5})) for n in (1, 2, 4)
    ]
    assert all(np.array_equal(runs[0].weights, r.weights) for r in runs[1:])
    times = [[h["sys_virtual_time"] for h in r.history] for r in runs]
    assert times[0] == times[1] == times[2]


def test_resume_from_mid_run_checkpoint_gives_identical_weights(ray_session, tmp_path):
    base = config(
        rounds=6,
        strategy={"name": "scaffold"},
        server_optimizer={"name": "adam"},
        local={"lr_schedule": {"name": "step", "step_size": 2, "gamma": 0.5}},
    )
    straight = run(base)
    ckpt = tmp_path / "ck"
    with pytest.raises(KeyboardInterrupt):  # interrupted after round 3
        sim = raysim.Simulation(merge(base, {"checkpoint": {"dir": str(ckpt), "every": 3}}))
        try:
            for _ in range(4):
                sim.run_round()
            raise KeyboardInterrupt
        finally:
            sim.shutdown()
    assert sorted(p.name for p in ckpt.iterdir()) == ["federation.json", "round-00003.pt"]
    resumed = raysim.Simulation(merge(base, {"checkpoint": {"dir": str(ckpt), "every": 3}}))
    result = resumed.run(progress=False, resume=True)
    assert [r["round"] for r in result.history] == [1, 2, 3, 4, 5, 6]
    assert np.array_equal(result.weights, straight.weights)


def test_worker_killed_mid_round_loses_no_client_and_changes_no_weight(ray_session):
    # enough local work that the round lasts about a second, so the kill lands inside it
    cfg = config(rounds=1, sampling={"fraction": 1.0}, local={"epochs": 600})
    reference = run(cfg)
    sim = raysim.Simulation(cfg).wait_ready()
    try:
        victim = sim.worker_handles()[0]  # asked before: the aggregator is busy in the round
        pending = sim.submit_round()
        time.sleep(0.3)
        ready, _ = ray_session.wait([pending], timeout=0)
        assert not ready, "round ended before the kill: give it more local work"
        ray_session.kill(victim, no_restart=True)
        record = ray_session.get(pending)
        weights = sim.weights()
        restarts = sim.stats()["worker_restarts"]
    finally:
        sim.shutdown()
    assert record["reporting"] == record["sampled"] == 12
    assert record["rejected"] == 0
    assert restarts == 1
    assert np.array_equal(weights, reference.weights)


def test_kept_actors_run_the_next_simulation_bit_identically(ray_session):
    """A sweep trial's actors serve the next trial (`raysim.engine.warm`): re-initialised
    in place, they must leave nothing of the earlier run in the later one, whatever
    worker count each needs."""
    from raysim.engine import warm

    first_cfg = config(seed=5, rounds=2)  # 2 workers
    later_cfg = config(seed=7, strategy={"name": "scaffold"}, sampling={"fraction": 0.75},
                       engine={"num_workers": 3, "worker_cpus": 0.5})  # fmt: skip
    warm.clear()
    fresh = raysim.Simulation(later_cfg).run(progress=False)
    try:
        first = raysim.Simulation(first_cfg, reuse_actors=True)
        first.run(progress=False, shutdown=False)
        started = {h._actor_id for h in first.worker_handles()}
        first.shutdown()
        later = raysim.Simulation(later_cfg, reuse_actors=True)
        result = later.run(progress=False, shutdown=False)
        workers = {h._actor_id for h in later.worker_handles()}
        assert started < workers and len(workers) == 3  # 2 kept, 1 started
        # a kept worker that died meanwhile: new actors, the same result
        victim = later.worker_handles()[0]
        later.shutdown()
        ray_session.kill(victim, no_restart=True)
        again = raysim.Simulation(later_cfg, reuse_actors=True)
        retried = again.run(progress=False, shutdown=False)
        assert not {h._actor_id for h in again.worker_handles()} & workers
        again.shutdown()
    finally:
        warm.clear()  # kept actors hold CPUs the rest of the session needs
    for reused in (result, retried):
        assert np.array_equal(reused.weights, fresh.weights)
        assert [r["train_loss"] for r in reused.history] == [r["train_loss"] for r in fresh.history]


def test_nan_client_update_is_rejected_and_counted(ray_session):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype(np.float32)
    y = rng.integers(0, 2, 40)
    x[10:20] = np.nan  # client 1's features are broken
    clients = ArrayClients({"x": x, "y": y}, np.array([0, 10, 20, 30, 40]))
    data = SourceData(clients, {"x": x[:10], "y": y[:10]}, {"input_dim": 4, "num_classes": 2})
    cfg = config(rounds=2, sampling={"fraction": 1.0}, engine={"num_workers": 2})
    result = raysim.Simulation(cfg, data=data).run(progress=False)
    assert [r["rejected"] for r in result.history] == [1, 1]
    assert [r["reporting"] for r in result.history] == [3, 3]
    assert np.isfinite(result.weights).all()


def test_scaffold_beats_fedavg_on_dirichlet_0_1(ray_session):
    cfg = config(
        rounds=15,
        seed=0,
        data={"n_train": 1200, "separation": 1.0, "partition": {"n_clients": 10, "alpha": 0.1}},
        sampling={"fraction": 0.5},
        local={"optimizer": {"lr": 0.05}, "epochs": 5},
    )
    losses = {}
    for name in ("fedavg", "scaffold"):
        sim = raysim.Simulation(config(**cfg, strategy={"name": name, "weighting": "uniform"}))
        result = sim.run(progress=False, shutdown=False)
        losses[name] = sim.evaluate_on_clients()["loss"]
        sim.shutdown()
        assert result.history[-1]["train_loss"] is not None
    assert losses["scaffold"] < losses["fedavg"]


def test_availability_drops_clients_deterministically(ray_session):
    cfg = config(rounds=3, sampling={"fraction": 1.0, "availability": 0.5})
    a, b = run(cfg), run(cfg)
    dropped = [r["dropped"] for r in a.history]
    assert dropped == [r["dropped"] for r in b.history]
    assert 0 < sum(dropped) < 36
    assert all(r["reporting"] == r["sampled"] - r["dropped"] for r in a.history)
    assert np.array_equal(a.weights, b.weights)


def test_actor_per_client_mode_matches_pool_mode(ray_session):
    cfg = config(
        rounds=2,
        data={"partition": {"n_clients": 4}},
        engine={"mode": "actor_per_client", "num_workers": None, "worker_cpus": 0.25},
    )
    pooled = merge(cfg, {"engine": {"mode": "pool", "num_workers": 2}})
    assert np.array_equal(run(cfg).weights, run(pooled).weights)


def test_more_workers_than_clients_is_rejected(ray_session):
    cfg = config(data={"partition": {"n_clients": 3}}, engine={"num_workers": 5})
    with pytest.raises(raysim.ConfigError, match="engine.num_workers"):
        raysim.Simulation(cfg).start()


def test_local_config_round_trips():
    cfg = LocalConfig.model_validate(
        {"optimizer": {"name": "adam", "lr": 1e-3, "kwargs": {"betas": [0.9, 0.98]}}}
    )
    assert LocalConfig.model_validate(cfg.model_dump()) == cfg


def test_sample_counts_match_num_samples_for_every_kind_of_population():
    def make(c: int) -> dict:
        return {"x": np.zeros((c % 3 + 1, 2), np.float32)}

    populations = [
        ArrayClients({"x": np.zeros((7, 2))}, np.array([0, 3, 3, 7])),
        GeneratedClients(5, make, samples_per_client=4),
        GeneratedClients(5, make, samples_per_client=lambda c: c % 3 + 1),
    ]
    for clients in populations:
        expected = [clients.num_samples(c) for c in range(len(clients))]
        assert sample_counts(clients).tolist() == expected


def test_driver_and_aggregator_code_never_import_torch():
    # each process importing torch pays ~1.5 s of CPU at start-up; the driver and the
    # aggregator (its module, server rules, lr schedule, round summaries) must not
    code = """
import sys
import numpy as np
import raysim, raysim.engine.aggregator, raysim.engine.pool
from raysim.config import parse_config
from raysim.engine.lr_schedule import RoundLR
from raysim.registry import SERVER_OPTIMIZERS, STRATEGIES
for name in STRATEGIES.names():
    cfg = parse_config({"strategy": {"name": name}, "server_optimizer": {"name": "adam"}})
    STRATEGIES.build(cfg.strategy, 4, 10).state_dict()
SERVER_OPTIMIZERS.build(cfg.server_optimizer, 4).step(np.zeros(4, np.float32), np.ones(4))
RoundLR(cfg.local.lr_schedule, cfg.local.optimizer.lr, 5).end_round({})
counters = {"pseudo_labels": 2.0, "pseudo_correct": 1.0}
for task in ("semi_ser", "speech_enhancement"):
    parse_config({"task": {"name": task}}).task.summarize_round(counters)
assert "torch" not in sys.modules, sorted(m for m in sys.modules if m.startswith("torch"))[:5]
"""
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)


def test_client_with_nothing_to_train_on_is_idle_not_aggregated():
    # SCAFFOLD would otherwise derive c_i⁺ = c_i − c from a zero update and the
    # client's zero delta would dilute the others' at full (uniform) weight
    from raysim.engine.worker import ClientWorker
    from raysim.engine.worker_spec import WorkerSpec

    x = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    clients = ArrayClients({"x": x, "y": np.arange(6) % 2}, np.array([0, 0, 6]))  # client 0: empty
    cfg = parse_config({"task": {"name": "feature_classification", "hidden": [4]},
                        "strategy": {"name": "scaffold"}, "local": {"batch_size": 3}})  # fmt: skip
    spec = WorkerSpec(cfg.task, {"input_dim": 3, "num_classes": 2}, cfg.local, cfg.strategy,
                      clients=None, seed=0)  # fmt: skip
    worker = ClientWorker(spec, clients)
    start, _ = worker.initial_state()
    payload = worker.strategy.broadcast()
    both = worker.train(0, 0.1, start, payload, [0, 1], {})
    alone = worker.train(0, 0.1, start, payload, [1], {})
    assert both.idle == 1 and alone.idle == 0 and set(both.states) == {1}
    for key in ("delta", "dc", "stats"):
        np.testing.assert_array_equal(both.sums[key].value(), alone.sums[key].value())
