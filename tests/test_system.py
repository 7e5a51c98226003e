"""System heterogeneity (`raysim.system`): traces, profiles, the FedBuff event order, and
the deadline and FedBuff modes on the real engine (shared Ray instance)."""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import numpy as np
import pytest
from test_engine import config, run

import raysim
from raysim.config import ConfigError, parse_config
from raysim.data.clients import ArrayClients
from raysim.dotted import merge
from raysim.input_checks import input_problems
from raysim.system.compare import time_to_reach
from raysim.system.config import SystemConfig
from raysim.system.fedbuff import FedBuffSchedule, staleness_weight
from raysim.system.profiles import SystemProfiles
from raysim.system.traces import (
    Behaviour,
    TraceError,
    read_behaviour_trace,
    read_capacity_trace,
)
from raysim.user_errors import is_user_error

REPO_TRACES = Path(__file__).resolve().parents[1] / "experiments" / "traces"
CAPACITY = REPO_TRACES / "device_capacity.jsonl"
BEHAVIOUR = REPO_TRACES / "client_behaviour.jsonl"


# -- traces -------------------------------------------------------------------------------
def test_example_traces_parse_into_raysim_units():
    capacity = read_capacity_trace(CAPACITY)
    behaviour = read_behaviour_trace(BEHAVIOUR)
    assert len(capacity) == len(behaviour) == 24
    # first record: computation 6.48 ms/sample, communication 5713.8 kbit/s
    assert capacity[0].speed == pytest.approx(1000 / 6.48)
    assert capacity[0].bandwidth == pytest.approx(5713.8 * 125)
    assert all(b.period == 3600 for b in behaviour)


def test_fedscale_pickle_is_read_and_a_pickled_class_is_refused(tmp_path):
    table = {"432802": {"computation": 162.0, "communication": 5648.1}, "7": {
        "computation": 20.0, "communication": 100.0}}  # fmt: skip
    good = tmp_path / "client_device_capacity"
    good.write_bytes(pickle.dumps(table, protocol=4))
    assert [c.speed for c in read_capacity_trace(good)] == pytest.approx([1000 / 162, 50.0])
    evil = tmp_path / "evil"
    evil.write_bytes(pickle.dumps({"1": {"computation": 1.0, "communication": np.float64(2)}}))
    with pytest.raises(TraceError, match=r"evil: not a FedScale trace pickle .*numpy"):
        read_capacity_trace(evil)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"client_id": 3, "computation": -1, "communication": 10}', "computation must be > 0"),
        ('{"client_id": 3, "computation": 5}', "communication must be a finite number"),
        ('{"client_id": 3, "computation": 5, "communication": 10', "not JSON"),
        ('[5, 10]', "expected a JSON object with a client_id"),
    ],
)  # fmt: skip
def test_malformed_capacity_trace_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "capacity.jsonl"
    path.write_text('# header\n{"client_id": 1, "computation": 5, "communication": 10}\n' + line)
    with pytest.raises(TraceError, match=rf"capacity\.jsonl, line 3: {message}") as err:
        read_capacity_trace(path)
    assert is_user_error(err.value)  # one line on stderr, exit status 2


def test_malformed_behaviour_trace_names_file_and_line(tmp_path):
    path = tmp_path / "behave.jsonl"
    record = {"client_id": 9, "active": [0, 50], "inactive": [60, 40], "finish_time": 100}
    path.write_text(f"{BEHAVIOUR.read_text()}\n{json.dumps(record)}\n")
    with pytest.raises(TraceError, match=r"behave\.jsonl, line 28: .*must alternate"):
        read_behaviour_trace(path)


def test_malformed_trace_fails_before_ray_starts(tmp_path):
    bad = tmp_path / "cap.jsonl"
    bad.write_text('{"client_id": 1, "computation": "fast", "communication": 1}\n')
    cfg = config(system={"capacity_trace": str(bad)})
    with pytest.raises(TraceError, match=r"cap\.jsonl, line 1: computation"):
        raysim.Simulation(cfg).start()
    missing = parse_config(config(system={"behaviour_trace": str(tmp_path / "nope.jsonl")}))
    assert any(line.startswith("system.behaviour_trace:") for line in input_problems(missing))


def test_behaviour_intervals_repeat_every_period():
    b = Behaviour(active=(10.0, 50.0), inactive=(20.0, 100.0), period=100.0)
    assert not b.online_at(5) and b.online_at(10) and not b.online_at(20) and b.online_at(150)
    assert b.next_online(25) == 50 and b.next_online(105) == 110 and b.next_online(12) == 12
    assert b.online_until(12) == 20 and b.online_until(30) == 30
    wraps = Behaviour(active=(0.0, 50.0), inactive=(20.0, 100.0), period=100.0)
    assert wraps.online_until(60) == 120  # runs on into the next period's first interval


# -- profiles and config ------------------------------------------------------------------
def test_lognormal_speeds_come_from_seed_and_client_only():
    cfg = SystemConfig(speed={"median": 100.0, "sigma": 1.5})
    a, b = SystemProfiles(cfg, seed=1), SystemProfiles(cfg, seed=1)
    speeds = [a.of(c).speed for c in range(2000)]
    assert [b.of(c).speed for c in reversed(range(2000))][::-1] == speeds  # order-free
    logs = np.log(speeds)
    assert abs(np.median(speeds) / 100 - 1) < 0.15 and abs(logs.std() - 1.5) < 0.1
    p = a.of(3)
    expected = 1000 / p.bandwidth_down + 50 / p.speed + 500 / p.bandwidth_up
    assert p.duration(50, 1000, 500) == expected


def test_system_keys_are_validated_and_fedbuff_rejects_scaffold():
    with pytest.raises(ConfigError, match="system.buffer"):
        parse_config(config(system={"mode": "fedbuff", "buffer": 3}))  # buffer_size
    with pytest.raises(ConfigError, match=r"strategy.name.*fedbuff"):
        parse_config(config(system={"mode": "fedbuff"}, strategy="scaffold"))


# -- FedBuff ------------------------------------------------------------------------------
def test_staleness_weights():
    assert [staleness_weight(t) for t in (0, 1, 3, 8)] == pytest.approx(
        [1.0, 1 / math.sqrt(2), 0.5, 1 / 3]
    )
    assert staleness_weight(5, "none") == 1.0
    with pytest.raises(ValueError):
        staleness_weight(-1)


def _schedule(seed: int = 0) -> FedBuffSchedule:
    speeds = SystemProfiles(SystemConfig(speed={"median": 10.0, "sigma": 1.0}), seed)
    return FedBuffSchedule(
        concurrency=8, buffer_size=3, population=40, seed=seed,
        duration=lambda c: 20 / speeds.of(c).speed, behaviour=lambda c: None,
        availability=lambda c: 1.0,
    )  # fmt: skip


def test_fedbuff_schedule_is_a_function_of_the_seed_and_lands_k_per_update():
    a, b = _schedule(), _schedule()
    plans = [(a.plan(v), b.plan(v)) for v in range(12)]
    assert all(pa == pb for pa, pb in plans)
    assert a.update_times == b.update_times == sorted(a.update_times)
    landed: dict[int, int] = {}
    for v, (starts, _) in enumerate(plans):
        assert len(starts.trained) == (8 + 3 - 1 if v == 0 else 3)  # M+K-1, then K a version
        for update in starts.trained.values():
            assert update >= v  # lands in a later or the same update: τ = update - v ≥ 0
            landed[update] = landed.get(update, 0) + 1
    assert all(landed[u] == 3 for u in range(11))  # K arrivals per update
    assert max(a.arrivals[5]) >= 1  # slow clients arrive stale
    assert _schedule(seed=1).plan(0) != plans[0][0]


def test_worker_scales_each_update_by_its_staleness_weight():
    from raysim.engine.worker import ClientWorker
    from raysim.engine.worker_spec import WorkerSpec

    x = np.random.default_rng(0).normal(size=(12, 3)).astype(np.float32)
    clients = ArrayClients({"x": x, "y": np.arange(12) % 2}, np.array([0, 6, 12]))
    cfg = parse_config({"task": {"name": "feature_classification", "hidden": [4]},
                        "local": {"batch_size": 3}})  # fmt: skip
    spec = WorkerSpec(cfg.task, {"input_dim": 3, "num_classes": 2}, cfg.local, cfg.strategy,
                      clients=None, seed=0)  # fmt: skip
    worker = ClientWorker(spec, clients)
    start, _ = worker.initial_state()
    plain = worker.train(0, 0.1, start, {}, [0, 1], {})
    buckets = worker.train_buckets(0, 0.1, start, {}, [0, 1], {}, {0: (4, 0.5), 1: (4, 0.5)})
    assert list(buckets) == [4]
    np.testing.assert_allclose(buckets[4].sums["delta"].value(), 0.5 * plain.sums["delta"].value())
    # the weight total (the denominator) is not scaled: Σ s(τ) w Δ / Σ w, as in the paper
    np.testing.assert_array_equal(buckets[4].sums["stats"].value(), plain.sums["stats"].value())
    split = worker.train_buckets(0, 0.1, start, {}, [0, 1], {}, {0: (2, 1.0), 1: (3, 1.0)})
    assert sorted(split) == [2, 3] and split[2].sums["stats"].value()[1] == 1


# -- the modes on the engine --------------------------------------------------------------
SYSTEM = {"speed": {"median": 100.0, "sigma": 1.0}}


def test_deadline_over_commits_and_drops_stragglers(ray_session):
    cfg = config(
        rounds=2, sampling={"clients_per_round": 4},
        system={**SYSTEM, "mode": "deadline", "over_commit": 0.5},
    )  # fmt: skip
    first = run(cfg).history[0]
    assert (first["sampled"], first["reporting"], first["sys_stragglers"]) == (6, 4, 2)
    # the round ends when the 4th fastest of the 6 finishes
    parsed = parse_config(cfg)
    profiles = SystemProfiles.load(parsed.system, parsed.seed)
    from raysim.data.sources import build_source
    from raysim.engine.sampling import UniformSampler

    counts = build_source(parsed.data, parsed.seed).clients.sample_counts()
    over = parsed.sampling.model_copy(update={"clients_per_round": 6, "fraction": None})
    sampled, _ = UniformSampler(over, len(counts), parsed.seed).sample(0)
    model_bytes = first["bytes_down"] // 4
    times = sorted(
        profiles.of(c).duration(2 * counts[c], model_bytes, model_bytes) for c in sampled
    )
    assert first["sys_virtual_s"] == pytest.approx(times[3])
    # a deadline shorter than the 4th arrival: fewer aggregated, the round lasts the deadline
    tight = run(merge(cfg, {"system": {"deadline": (times[0] + times[1]) / 2}})).history[0]
    assert (tight["reporting"], tight["sys_stragglers"]) == (1, 5)
    assert tight["sys_virtual_s"] == pytest.approx((times[0] + times[1]) / 2)


def test_fedbuff_resumes_to_identical_weights(ray_session, tmp_path):
    cfg = config(
        rounds=4, system={**SYSTEM, "mode": "fedbuff", "concurrency": 5, "buffer_size": 2},
        checkpoint={"dir": str(tmp_path), "every": 2},
    )  # fmt: skip
    full = run(cfg)
    assert [h["reporting"] for h in full.history] == [2, 2, 2, 2]
    assert full.history[-1]["sys_virtual_time"] > full.history[0]["sys_virtual_time"] > 0
    with raysim.Simulation(cfg) as sim:
        sim.resume(tmp_path / "round-00002.pt")
        for _ in range(2):
            sim.run_round()
        assert np.array_equal(sim.weights(), full.weights)


def test_time_to_reach_is_the_virtual_time_of_the_first_evaluation_at_the_target():
    history = [
        {"eval_accuracy": 0.5, "sys_virtual_time": 1.0},
        {"sys_virtual_time": 2.0},  # no evaluation this round
        {"eval_accuracy": 0.8, "sys_virtual_time": 3.0},
    ]
    assert time_to_reach(history, "accuracy", 0.7) == 3.0
    assert time_to_reach(history, "accuracy", 0.9) == math.inf
