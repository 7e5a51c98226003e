"""Differential privacy: accounting against dp-accounting, clipping, the aggregator's
noise, bit-identity across worker counts, and the configs DP rejects."""

from __future__ import annotations

import math
from pathlib import Path

import dp_accounting as dpa
import numpy as np
import pytest
from dp_accounting import rdp
from test_engine import config, run

from raysim.config import ConfigError, parse_config
from raysim.engine.dp import CentralNoise, clip_update, privatize_client
from raysim.engine.exact_sum import ExactSum
from raysim.engine.sampling import UnitSampler
from raysim.privacy import (
    delta_for,
    epsilon_curve,
    epsilon_for,
    noise_for,
    plan_privacy,
    speaker_units,
)

REPO = Path(__file__).resolve().parents[1]
DP = {"epsilon": 3.0, "delta": 1e-3, "clip": 0.5}


# -- accounting ---------------------------------------------------------------------------
def test_epsilon_equals_dp_accountings_reference_value():
    q, sigma, rounds, delta = 0.05, 1.1, 200, 1e-5
    reference = rdp.RdpAccountant()
    reference.compose(
        dpa.SelfComposedDpEvent(dpa.PoissonSampledDpEvent(q, dpa.GaussianDpEvent(sigma)), rounds)
    )
    assert epsilon_for("rdp", sigma, q, rounds, delta) == reference.get_epsilon(delta)
    pld = dpa.pld.PLDAccountant()
    pld.compose(
        dpa.SelfComposedDpEvent(dpa.PoissonSampledDpEvent(q, dpa.GaussianDpEvent(sigma)), rounds)
    )
    assert epsilon_for("pld", sigma, q, rounds, delta) == pytest.approx(
        pld.get_epsilon(delta), rel=1e-3
    )


@pytest.mark.parametrize("kind", ["rdp", "pld"])
def test_solving_sigma_then_epsilon_round_trips(kind):
    q, rounds, eps, delta = 0.1, 50, 2.0, 1e-5
    sigma = noise_for(kind, eps, delta, q, rounds)
    assert epsilon_for(kind, sigma, q, rounds, delta) == pytest.approx(eps, rel=1e-3)
    assert delta_for(kind, sigma, q, rounds, eps) == pytest.approx(delta, rel=2e-2)


def test_epsilon_curve_grows_to_the_runs_epsilon_and_bounds_every_round():
    curve = epsilon_curve("rdp", 1.0, 0.2, 100, 1e-5)
    assert len(curve) == 100 and curve == sorted(curve)
    assert curve[-1] == epsilon_for("rdp", 1.0, 0.2, 100, 1e-5)
    for t in (1, 7, 55):  # between accounted rounds: an upper bound
        assert curve[t - 1] >= epsilon_for("rdp", 1.0, 0.2, t, 1e-5) - 1e-12
    assert epsilon_curve("rdp", 0.0, 0.2, 3, 1e-5) == [math.inf] * 3


def test_speaker_units_join_clients_sharing_a_speaker():
    speakers = [["a"], ["a"], ["b"], ["c", "d"], ["d"], ["e"]]
    assert speaker_units(speakers) == [[0, 1], [2], [3, 4], [5]]


def test_speaker_level_plan_counts_a_speakers_clients_as_one_unit():
    cfg = parse_config(
        config(rounds=10, sampling={"fraction": 0.25}, privacy={**DP, "unit": "speaker"})
    )
    speakers = [[f"s{c // 4}"] for c in range(16)]  # Semi-FedSER: 4 clients a speaker
    speaker, units = plan_privacy(cfg, 16, speakers)
    client, _ = plan_privacy(cfg.model_copy(update={"privacy": cfg.privacy.model_copy(
        update={"unit": "client"})}), 16, speakers)  # fmt: skip
    assert units is None  # sampled by client
    assert speaker.group_size == 4 and client.group_size == 1
    # P(any of a speaker's 4 clients among 4 of 16) and 4x the sensitivity: 4x+ the noise
    assert speaker.sampling_rate == pytest.approx(1 - (12 * 11 * 10 * 9) / (16 * 15 * 14 * 13))
    assert speaker.noise_multiplier > 4 * client.noise_multiplier
    assert speaker.epsilons[-1] == pytest.approx(3.0, rel=1e-3)
    z_unit = speaker.noise_multiplier / 4
    assert epsilon_for("rdp", z_unit, speaker.sampling_rate, 10, 1e-3) == pytest.approx(3.0, 1e-3)


def test_sampling_by_speaker_takes_all_of_a_speakers_clients():
    by_speaker = {**DP, "unit": "speaker", "sample_by": "speaker"}
    cfg = parse_config(config(sampling={"fraction": 0.5}, privacy=by_speaker))
    speakers = [[f"s{c // 3}"] for c in range(12)]
    plan, units = plan_privacy(cfg, 12, speakers)
    assert plan.sampling_rate == 0.5 and plan.group_size == 3
    sampler = UnitSampler(cfg.sampling, units, seed=0)
    for r in range(5):
        sampled, reporting = sampler.sample(r)
        assert sampled == reporting and len(sampled) == 6
        for unit in {c // 3 for c in sampled}:
            assert {3 * unit, 3 * unit + 1, 3 * unit + 2} <= set(sampled)


def test_local_dp_costs_far_more_epsilon_for_the_same_noise():
    base = config(rounds=20, sampling={"fraction": 0.1})
    central = parse_config({**base, "privacy": {"noise_multiplier": 1.0, "delta": 1e-5}})
    local = parse_config(
        {**base, "privacy": {"noise_multiplier": 1.0, "delta": 1e-5, "mechanism": "local"}}
    )
    eps_central = plan_privacy(central, 100, None)[0].epsilon
    eps_local = plan_privacy(local, 100, None)[0].epsilon
    assert eps_local > 10 * eps_central


# -- clipping and noise -------------------------------------------------------------------
def test_clipping_bounds_every_update_norm():
    rng = np.random.default_rng(0)
    for scale in (1e-3, 0.1, 1.0, 30.0):
        delta = rng.normal(0, scale, 500).astype(np.float32)
        clipped, unclipped = clip_update(delta, 0.7)
        assert np.linalg.norm(clipped) <= 0.7 * (1 + 1e-12)
        assert unclipped == (np.linalg.norm(delta.astype(np.float64)) <= 0.7)
        if unclipped:
            assert np.array_equal(clipped, delta.astype(np.float64))
        else:  # direction kept
            cos = clipped @ delta / (np.linalg.norm(clipped) * np.linalg.norm(delta))
            assert cos == pytest.approx(1.0)


def test_central_noise_on_a_zero_update_has_std_sigma_c():
    sigma, clip, size, n = 1.3, 0.5, 200_000, 10
    plan = {"mechanism": "central", "update_noise": sigma, "clip": clip, "count_noise": None}
    sums = {"delta": ExactSum.zeros(size)}
    noised, denominator, record = CentralNoise(plan, None, seed=4).apply(sums, 0, n, size)
    noise = noised["delta"].value()
    assert denominator == n
    # the std of a normal sample's std estimate is std / sqrt(2 size): 5 of them
    assert np.std(noise) == pytest.approx(sigma * clip, abs=5 * sigma * clip / math.sqrt(2 * size))
    assert abs(np.mean(noise)) < 5 * sigma * clip / math.sqrt(size)
    assert record["noise_std"] == pytest.approx(sigma * clip / n)
    # seeded by (seed, round): the same draws again, others in the next round
    again = CentralNoise(plan, None, seed=4).apply(sums, 0, n, size)[0]["delta"].value()
    assert np.array_equal(noise, again)
    other = CentralNoise(plan, None, seed=4).apply(sums, 1, n, size)[0]["delta"].value()
    assert not np.array_equal(noise, other)


def test_local_noise_is_per_client_and_clipped_first():
    plan = {"mechanism": "local", "update_noise": 2.0}
    delta = np.full(50_000, 10.0)
    out, extra = privatize_client(delta, plan, 1.0, seed=0, round_idx=3, cid=7)
    assert extra["dp_unclipped"][0] == 0.0
    assert np.std(out) == pytest.approx(2.0, rel=0.02)
    assert np.mean(out) == pytest.approx(1.0 / math.sqrt(50_000), abs=0.05)
    again, _ = privatize_client(delta, plan, 1.0, seed=0, round_idx=3, cid=7)
    other, _ = privatize_client(delta, plan, 1.0, seed=0, round_idx=3, cid=8)
    assert np.array_equal(out, again) and not np.array_equal(out, other)


def test_adaptive_clip_moves_towards_the_target_quantile():
    plan = {"mechanism": "central", "update_noise": 0.0, "clip": 1.0, "count_noise": 0.0}
    adaptive = {"target_quantile": 0.5, "learning_rate": 0.2}
    dp = CentralNoise(plan, adaptive, seed=0)
    all_clipped = {"delta": ExactSum.zeros(3), "dp_unclipped": ExactSum.of(np.array([0.0]))}
    dp.apply(all_clipped, 0, 10, 3)
    assert dp.clip == pytest.approx(math.exp(0.2 * 0.5))  # grows when most are clipped
    none_clipped = {"delta": ExactSum.zeros(3), "dp_unclipped": ExactSum.of(np.array([10.0]))}
    dp.apply(none_clipped, 1, 10, 3)
    assert dp.clip == pytest.approx(1.0)


# -- rejected configs ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "overrides, keys",
    [
        ({"strategy": {"name": "scaffold"}}, ["strategy.name", "control variates"]),
        ({"strategy": {"name": "fednova"}}, ["strategy.name", "step counts"]),
        (
            {"strategy": {"name": "fedavg", "weighting": "samples"}},
            ["strategy.weighting", "privacy.clip", "uniform"],
        ),
        ({"privacy": {"epsilon": 1.0}}, ["privacy.epsilon", "privacy.delta", "noise_multiplier"]),
        (
            {"privacy": {**DP, "noise_multiplier": 1.0}},
            ["privacy.epsilon", "exactly two"],
        ),
        (
            {"privacy": {**DP, "mechanism": "local", "adaptive_clip": {}}},
            ["privacy.adaptive_clip", "mechanism=central"],
        ),
    ],
)
def test_rejected_combinations_name_their_keys(overrides, keys):
    cfg = config(privacy=DP)
    cfg.update(overrides)
    with pytest.raises(ConfigError) as err:
        parse_config(cfg)
    for key in keys:
        assert key in str(err.value)


def test_dp_defaults_to_uniform_weighting_and_works_with_fedprox_and_server_optimizers():
    cfg = parse_config(config(privacy=DP, strategy="fedprox", server_optimizer="adam"))
    assert cfg.strategy.weighting == "uniform"


def test_speaker_unit_needs_data_with_speakers():
    cfg = parse_config(config(privacy={**DP, "unit": "speaker"}))
    with pytest.raises(ValueError, match="privacy.unit=speaker"):
        plan_privacy(cfg, 12, None)


def test_adaptive_count_noise_too_small_for_the_noise_is_rejected():
    cfg = parse_config(config(privacy={**DP, "adaptive_clip": {"count_noise": 0.1}}))
    with pytest.raises(ValueError, match="privacy.adaptive_clip.count_noise"):
        plan_privacy(cfg, 12, None)


# -- runs -----------------------------------------------------------------------------------
def test_dp_run_is_bit_identical_for_1_2_and_4_workers_and_records_epsilon(ray_session):
    privacy = {**DP, "adaptive_clip": {"count_noise": 2.0}}
    results = [
        run(config(privacy=privacy, engine={"num_workers": n, "worker_cpus": 0.5}))
        for n in (1, 2, 4)
    ]
    assert np.array_equal(results[0].weights, results[1].weights)
    assert np.array_equal(results[0].weights, results[2].weights)
    history = results[0].history
    eps = [h["dp_epsilon"] for h in history]
    assert eps == sorted(eps) and eps[-1] == pytest.approx(3.0, rel=1e-3)
    assert all(h["dp_unit"] == "client" and h["dp_delta"] == 1e-3 for h in history)
    assert history[0]["dp_clip"] == 0.5 and history[1]["dp_clip"] != 0.5  # adaptive
    assert results[0].privacy.epsilon == 3.0
    # without noise the same run differs: the noise was added
    plain = run(config(privacy={**privacy, "epsilon": math.inf}))
    assert not np.array_equal(plain.weights, results[0].weights)
    assert plain.history[-1]["dp_epsilon"] == math.inf


def test_dp_sweep_config_validates_and_its_saved_copy_keeps_epsilon_inf():
    import yaml

    from raysim.sweep.spec import load_sweep, parse_sweep

    sweep = load_sweep(REPO / "experiments" / "configs" / "sweep_dp_ser.yaml")
    saved = parse_sweep(yaml.safe_load(yaml.safe_dump(sweep.to_dict(), sort_keys=False)))
    assert saved.to_dict()["space"]["privacy.epsilon"]["grid"] == [1.0, 3.0, 8.0, math.inf]
