"""The speech_enhancement task and the se_mixtures source: each client kind trains with
its own loss through the engine's loop, a mixed federation on Ray, warm start, and
the noise-class scheme on FSDD speech + ESC-10 noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import raysim
from raysim.config import LocalConfig
from raysim.data.se_sources import PU, SUPERVISED, UNSUPERVISED, SEMixturesParams, se_mixtures
from raysim.engine.flat import flat_grad, get_flat, set_flat
from raysim.engine.local import train_client
from raysim.registry import STRATEGIES, TASKS
from raysim.se import (
    fedenhance_mixit_loss,
    mixit_loss,
    neg_si_sdr,
    nnpu_loss,
    pn_loss,
    snr_max_loss,
    supervised_fedenhance_loss,
)
from raysim.tasks.base import ClientContext

TINY_SUDO = {
    "enc_kernel": 11, "enc_bases": 16, "bottleneck": 16, "ublock_channels": 32,
    "n_blocks": 1, "upsampling_depth": 2, "groups": 2,
}  # fmt: skip
TINY_PULSE = {"channels": 2, "blocks": 0, "dropout": 0.0, "n_fft": 64, "hop": 16}
T = 400


def _task(model: str, kinds=("supervised", "unsupervised", "pu"), model_extra=None, **params):
    kwargs = TINY_SUDO if model == "sudormrf" else TINY_PULSE
    config = {"model": {"name": model, **kwargs, **(model_extra or {})}, "standardize": False,
              **params}  # fmt: skip
    return TASKS.build(
        TASKS.parse({"name": "speech_enhancement", **config}),
        {"sample_rate": 8000, "client_kinds": kinds},
    )


def _client(kinds: list[int], seed: int = 0, clip_gain: float = 1.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    speech, noise = rng.normal(size=(2, len(kinds), T)).astype(np.float32)
    clip = (clip_gain * rng.normal(size=(len(kinds), T))).astype(np.float32)
    return {"mixture": speech + noise, "noise_clip": clip, "speech": speech, "noise": noise,
            "kind": np.array(kinds, np.int8)}  # fmt: skip


def _one_sgd_step(task, data, lr=0.5):
    """One full-batch SGD step through the engine's loop: returns (x0, delta, result)."""
    torch.manual_seed(0)
    model = task.build_model()
    x0 = get_flat(model)
    cfg = LocalConfig.model_validate(
        {"optimizer": {"name": "sgd", "lr": lr}, "steps": 1, "batch_size": 64, "shuffle": False}
    )
    strategy = STRATEGIES.make(None, len(x0), 1)
    ctx = ClientContext(0, 0, 0, np.random.default_rng(0))
    result = train_client(task, model, strategy, cfg, lr, x0, {}, data, None, ctx)
    return model, x0, result


def _expected_delta(model, x0, loss_fn, lr=0.5):
    """−lr ∇loss at x0 over the flat state (buffers stay), the loss computed directly
    with raysim.se functions."""
    set_flat(model, x0)
    model.zero_grad()
    loss_fn(model).backward()
    grad = flat_grad(model).numpy()
    return -lr * np.concatenate([grad, np.zeros(len(x0) - len(grad), grad.dtype)])


def _t(a):
    return torch.from_numpy(np.asarray(a))


def _mag(model, wave, like=None):
    """|STFT| of `wave` at PULSE's input level: divided by the std of `like` (default
    `wave` itself), item by item."""
    like = _t(wave if like is None else like)
    return model.stft(_t(wave)).abs() / (like.std(-1) + 1e-8)[:, None, None]


def _pu_mag(model, data):
    pair = np.concatenate([data["mixture"], data["noise_clip"]])
    return _mag(model, pair, like=np.concatenate([data["mixture"], data["mixture"]]))


CASES = {
    "supervised/fedenhance": (
        "sudormrf", "supervised", "fedenhance", SUPERVISED,
        lambda m, d: supervised_fedenhance_loss(
            m(_t(d["mixture"] + d["noise_clip"])), _t(d["speech"]),
            torch.stack([_t(d["noise"]), _t(d["noise_clip"])], 1)),
    ),
    "supervised/neg_si_sdr": (
        "sudormrf", "supervised", "neg_si_sdr", SUPERVISED,
        lambda m, d: neg_si_sdr(m(_t(d["mixture"]))[:, 0], _t(d["speech"])).mean(),
    ),
    "supervised/pn": (
        "pulse_cnn", "supervised", "pn", SUPERVISED,
        lambda m, d: pn_loss(m(_mag(m, d["mixture"])), _mag(m, d["mixture"]),
                             _mag(m, d["speech"], like=d["mixture"])),
    ),
    "unsupervised/mixit": (
        "sudormrf", "unsupervised", "mixit", UNSUPERVISED,
        lambda m, d: fedenhance_mixit_loss(
            m(_t(d["mixture"] + d["noise_clip"])), _t(d["mixture"]), _t(d["noise_clip"])),
    ),
    "unsupervised/mixit_general": (
        "sudormrf", "unsupervised", "mixit_general", UNSUPERVISED,
        lambda m, d: mixit_loss(m(_t(d["mixture"] + d["noise_clip"])),
                                torch.stack([_t(d["mixture"]), _t(d["noise_clip"])], 1),
                                snr_max_loss),
    ),
    "pu/nnpu": (
        "pulse_cnn", "pu", "nnpu", PU,
        lambda m, d: nnpu_loss(  # each noise clip at its noisy recording's input level
            m(_pu_mag(m, d)), _pu_mag(m, d),
            torch.arange(2 * len(d["mixture"])) >= len(d["mixture"])).loss,
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_each_kind_trains_with_its_objective_through_train_client(case):
    model_name, kind_name, objective, kind, loss_fn = CASES[case]
    task = _task(model_name, kinds=(kind_name,), objectives={kind_name: objective})
    data = _client([kind] * 3)
    model, x0, result = _one_sgd_step(task, data)
    expected = _expected_delta(model, x0, lambda m: loss_fn(m, data))
    assert np.abs(expected).max() > 1e-4  # the step moved the model
    np.testing.assert_allclose(result.delta, expected, rtol=1e-3, atol=1e-6)
    assert result.metrics[f"rows_{kind_name}"] == 3


def test_mixed_batch_weights_each_kind_by_its_rows_and_pu_trains_a_separator():
    task = _task("sudormrf")
    data = _client([SUPERVISED, SUPERVISED, UNSUPERVISED, PU])
    local = task.local_data(None, data, None, ClientContext(0, 0, 0, np.random.default_rng(0)))
    batch = next(local.batches(4))
    torch.manual_seed(0)
    model = task.build_model()
    ctx = ClientContext(0, 0, 0, np.random.default_rng(0))
    per_kind = {}
    for kind, rows in ((SUPERVISED, [0, 1]), (UNSUPERVISED, [2]), (PU, [3])):
        sub = {k: v[rows] for k, v in batch.items()}
        per_kind[kind] = float(task.loss(model, sub, ctx).detach())
    expected = (2 * per_kind[SUPERVISED] + per_kind[UNSUPERVISED] + per_kind[PU]) / 4
    mixed = task.loss(model, batch, ClientContext(0, 0, 0, None)).detach()
    assert float(mixed) == pytest.approx(expected)
    # the PU objective reaches a waveform separator through its ratio-mask view
    z, mag = task.logits(model, batch["mixture"][3:])
    assert z.shape == mag.shape and torch.isfinite(z).all()
    summary = task.params.summarize_round(ctx.metrics)
    assert summary["train_loss_supervised"] == pytest.approx(per_kind[SUPERVISED])
    assert set(summary) >= {"train_loss_unsupervised", "train_loss_pu", "pu_gamma_frac"}


@pytest.mark.parametrize(("clip_gain", "branch_steps"), [(0.1, 0.0), (30.0, 1.0)])
def test_nnpu_gamma_branch_steps_on_minus_risk_neg(clip_gain, branch_steps):
    # loud noise-only clips make R⁻ = E_U σ(z)w − π E_P σ(z)w negative: the γ branch
    # (items kept at their level: a unit-variance clip could not be loud)
    task = _task("pulse_cnn", kinds=("pu",), model_extra={"standardize": False},
                 nnpu={"prior": 0.9, "gamma": 0.5})  # fmt: skip
    data = _client([PU] * 3, clip_gain=clip_gain)
    model, x0, result = _one_sgd_step(task, data)
    assert result.metrics["pu_gamma_steps"] == branch_steps
    x = np.concatenate([data["mixture"], data["noise_clip"]])
    positive = torch.arange(6) >= 3

    def minus_gamma_risk_neg(m):
        mag = m.stft(_t(x)).abs()
        risk = nnpu_loss(m(mag), mag, positive, prior=0.9, gamma=0.5)
        return -0.5 * risk.risk_neg if branch_steps else risk.risk_pos + risk.risk_neg

    np.testing.assert_allclose(
        result.delta, _expected_delta(model, x0, minus_gamma_risk_neg), rtol=1e-3, atol=1e-6
    )


def test_mixtures_only_clients_pair_consecutive_mixtures():
    task = _task("sudormrf", kinds=("unsupervised",), objectives={"unsupervised": "mixit"})
    x = np.arange(5 * T, dtype=np.float32).reshape(5, T)
    local = task.local_data(None, {"mixture": x}, None, None)
    assert len(local) == 2  # (0+1), (2+3); the odd fifth mixture is left out
    np.testing.assert_array_equal(local.tensors["mixture"].numpy(), x[[0, 2]])
    np.testing.assert_array_equal(local.tensors["mixture2"].numpy(), x[[1, 3]])
    assert task.num_samples({"mixture": x}) == 5  # FedAvg weight counts mixtures


def test_objective_needing_three_slots_rejects_a_mask_model():
    with pytest.raises(ValueError, match="objectives.unsupervised='mixit'"):
        _task("pulse_cnn", kinds=("unsupervised",)).build_model()


# ------------------------------------------------------------------ real audio, on Ray
@pytest.fixture(scope="module")
def source_params(corpus_root):
    return {
        "speech": {"corpus": "fsdd", "root": str(corpus_root / "fsdd"), "max_files": 120},
        "noise": {"corpus": "esc10", "root": str(corpus_root / "esc10"), "max_files": 40},
        "partition": {"name": "iid", "n_clients": 4}, "noise_partition": "classes",
        "classes_per_client": 2, "snr_range_db": [-5.0, 5.0], "chunk_seconds": 0.5,
        "sample_rate": 8000, "p_supervised": 0.25, "p_pu": 0.25, "held_out": {"by": "split"},
        "test_snrs_db": [0.0, 5.0], "max_test_examples": 8,
    }  # fmt: skip


@pytest.fixture(scope="module")
def source(source_params):
    return se_mixtures(
        SEMixturesParams.model_validate({"source": "se_mixtures", **source_params}), seed=0
    )


def test_source_clients_are_non_iid_by_noise_class_and_kind(source):
    classes = source.info["client_noise_classes"]
    assert all(len(c) <= 2 for c in classes)
    assert len({cls for c in classes for cls in c}) == 8  # 4 clients x 2 classes rotate
    assert source.info["client_kinds"] == ["supervised", "pu", "unsupervised", "unsupervised"]
    for cid, kind in enumerate([SUPERVISED, PU, UNSUPERVISED, UNSUPERVISED]):
        d = source.clients.get(cid)
        assert d["mixture"].shape[1] == 4000 and (d["kind"] == kind).all()
        assert (np.abs(d["noise_clip"]).max(1) > 0).all()
        holds_clean = np.abs(d["speech"]).max() > 0
        assert holds_clean == (kind == SUPERVISED)  # only supervised clients see clean speech
    sup = source.clients.get(0)
    np.testing.assert_allclose(sup["mixture"], sup["speech"] + sup["noise"], atol=1e-6)
    # with drawn SNRs the noise-only clip has the power of the mixture's noise
    power = {k: np.mean(sup[k].astype(np.float64) ** 2, 1) for k in ("noise", "noise_clip")}
    np.testing.assert_allclose(power["noise_clip"], power["noise"], rtol=1e-4)
    assert source.eval_data["mixture"].shape == (8, 4000)


@pytest.fixture(scope="module")
def mixed_run(ray_session, source, source_params):
    config = {
        "seed": 0,
        "rounds": 2,
        "task": {"name": "speech_enhancement", "model": {"name": "sudormrf", **TINY_SUDO}},
        "data": {"source": "se_mixtures", **source_params},
        "sampling": {"fraction": 1.0},
        "local": {"optimizer": {"name": "adam", "lr": 1e-3}, "batch_size": 4},
        "engine": {"num_workers": 2, "worker_cpus": 0.5},
    }
    return config, raysim.Simulation(config, data=source).run(progress=False)


def test_mixed_federation_on_ray_reports_si_sdri_and_per_kind_losses(mixed_run):
    _, result = mixed_run
    for record in result.history:
        assert record["reporting"] == 4 and record["rejected"] == 0
        assert np.isfinite(record["eval_si_sdri"]) and np.isfinite(record["eval_sdr"])
        for kind in ("supervised", "unsupervised", "pu"):
            assert np.isfinite(record[f"train_loss_{kind}"])
    last = result.metrics
    assert last["si_sdri"] == pytest.approx(last["si_sdr"] - last["input_si_sdr"], abs=1e-4)


def test_mixed_federation_gives_the_same_weights_on_one_worker(mixed_run, source):
    config, result = mixed_run
    one = {**config, "engine": {"num_workers": 1, "worker_cpus": 0.5}}
    assert np.array_equal(raysim.Simulation(one, data=source).run(progress=False).weights,
                          result.weights)  # fmt: skip


def test_warm_start_from_checkpoint_sets_the_initial_model(mixed_run, source, tmp_path):
    config, result = mixed_run
    path = tmp_path / "pretrained.pt"
    torch.save(torch.from_numpy(result.weights.copy()), path)
    with raysim.Simulation(config, data=source) as fresh:
        fresh_weights, fresh_sdri = fresh.weights(), fresh.evaluate()["si_sdri"]
    with raysim.Simulation({**config, "init_checkpoint": str(path)}, data=source) as warm:
        warm_weights, warm_sdri = warm.weights(), warm.evaluate()["si_sdri"]
    assert not np.array_equal(fresh_weights, result.weights)
    np.testing.assert_array_equal(warm_weights, result.weights)
    assert warm_sdri == pytest.approx(result.metrics["si_sdri"], abs=1e-4)
    assert warm_sdri != pytest.approx(fresh_sdri, abs=1e-3)


def test_evaluation_counts_the_items_a_metric_is_defined_for():
    rng = np.random.default_rng(0)
    speech = rng.normal(size=(4, 8000)).astype(np.float32)  # 1 s at 8 kHz
    speech[1:, 800:] = 0.0  # 3 of 4 references hold 0.1 s of sound: too short for STOI
    eval_data = {"mixture": speech + rng.normal(size=speech.shape).astype(np.float32),
                 "speech": speech}  # fmt: skip
    model = _task("sudormrf").build_model()
    out = _task("sudormrf", eval={"metrics": ["si_sdri", "stoi"]}).evaluate(model, eval_data)
    assert (out["n_items"], out["stoi_defined"]) == (4, 1)
    assert "si_sdri_defined" not in out  # SI-SDR is defined for every item
    assert math.isfinite(out["stoi"])


def test_evaluation_reports_the_input_baseline_of_the_metric_family_it_uses():
    data = _client([SUPERVISED] * 4)
    eval_data = {"mixture": data["mixture"], "speech": data["speech"]}
    model = _task("sudormrf").build_model()
    snr = _task("sudormrf", eval={"metrics": ["si_snri"]}).evaluate(model, eval_data)
    assert set(snr) == {"si_snri", "input_si_snr", "n_items", "unchanged_frac"}
    sdr = _task("sudormrf", eval={"metrics": ["si_sdri", "si_sdr"]}).evaluate(model, eval_data)
    assert set(sdr) == {"si_sdri", "si_sdr", "input_si_sdr", "n_items", "unchanged_frac"}
    assert sdr["si_sdri"] == pytest.approx(sdr["si_sdr"] - sdr["input_si_sdr"], abs=1e-4)


def test_evaluation_reports_input_stoi_and_the_models_gain_over_it():
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 8000
    speech = (np.sin(2 * np.pi * 300 * t) * (np.sin(2 * np.pi * 3 * t) > 0))[None].repeat(3, 0)
    eval_data = {"mixture": (speech + 0.5 * rng.normal(size=speech.shape)).astype(np.float32),
                 "speech": speech.astype(np.float32)}  # fmt: skip
    task = _task("sudormrf", eval={"metrics": ["si_sdri", "stoi", "sdr"]})
    out = task.evaluate(task.build_model(), eval_data)
    assert 0 < out["input_stoi"] < 1 and out["input_stoi_defined"] == 3
    assert out["stoi_delta"] == pytest.approx(out["stoi"] - out["input_stoi"], abs=1e-5)
    assert out["sdr_delta"] == pytest.approx(out["sdr"] - out["input_sdr"], abs=1e-4)


def test_evaluation_warns_when_the_model_returns_its_input(caplog):
    """A PULSE CNN whose logits are negative everywhere keeps every bin (mask 1[z < 0])."""
    data = _client([SUPERVISED] * 4)
    eval_data = {"mixture": data["mixture"], "speech": data["speech"]}
    task = _task("pulse_cnn", kinds=("pu",))
    model = task.build_model()
    with torch.no_grad():
        model.net[-1].bias.fill_(-10.0)
        model.net[-1].weight.zero_()
    with caplog.at_level("WARNING", logger="raysim.tasks.se"):
        out = task.evaluate(model, eval_data)
    assert out["unchanged_frac"] == 1.0 and abs(out["si_sdri"]) < 1e-3
    assert "returned its input unchanged for 4 of 4" in caplog.text
    with torch.no_grad():
        model.net[-1].bias.fill_(0.0)
        model.net[-1].weight.normal_()
    caplog.clear()
    with caplog.at_level("WARNING", logger="raysim.tasks.se"):
        assert task.evaluate(model, eval_data)["unchanged_frac"] == 0.0
    assert "unchanged" not in caplog.text
