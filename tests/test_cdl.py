"""Collaborative deep learning (issue #17): the moderator sees clean speech only, the
selection rule, and a bank of two specialists end to end on tiny synthetic data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from raysim.cdl.config import ModeratorParams, parse_cdl_config
from raysim.config import ConfigError

FAST_AE = {"n_fft": 128, "hop": 64, "hidden": [16, 4], "epochs": 2, "batch_size": 128}


def _config(corpus_root: Path, **kw) -> dict:
    cfg = {
        "data": {
            "speech": {"corpus": "fsdd", "root": str(corpus_root / "fsdd"), "max_files": 120},
            "noise": {"corpus": "esc10", "root": str(corpus_root / "esc10")},
            "held_out": {"by": "split", "fraction": 0.2},
            "partition": {"name": "iid", "n_clients": 6},
            "noise_partition": "classes",
            "classes_per_client": 1,
            "snr_range_db": [-5.0, 5.0],
            "chunk_seconds": 0.5,
            "sample_rate": 8000,
            "test_snrs_db": [0.0],
            "noise_clip": "noise_only",
        },
        "seen_classes": ["dog", "rain"],
        "unseen_classes": ["rooster"],
        "simulation": {
            "rounds": 2,
            "task": {
                "name": "speech_enhancement",
                "model": {
                    "name": "pulse_cnn",
                    "channels": 2,
                    "blocks": 0,
                    "dropout": 0.0,
                    "n_fft": 128,
                    "hop": 64,
                },  # fmt: skip
                "standardize": False,
                "objectives": {"supervised": "pn"},
                "eval": {"metrics": ["si_sdri"], "soft_mask": True},
            },
            "sampling": {"fraction": 1.0},
            "local": {"optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 16},
            "eval": {"every": 0},
        },
        "trial": {"workers": 1, "worker_cpus": 0.2, "driver_cpus": 0.2},
        "moderator": FAST_AE,
    }
    cfg.update(kw)
    return cfg


def test_selection_takes_the_least_error_and_breaks_ties_by_lowest_index():
    from raysim.cdl.moderator import select_lowest

    errors = np.array(
        [
            [0.3, 0.1, 0.2],  # clear winner
            [0.5, 0.2, 0.2],  # tie between 1 and 2: 1
            [0.7, 0.7, 0.7],  # all tied: 0
            [np.nan, 0.4, 0.4],  # NaN never wins; tie: 1
            [np.nan, np.nan, np.nan],  # nothing scored: 0
        ]
    )
    assert select_lowest(errors).tolist() == [1, 1, 0, 1, 0]
    # the order of the candidates decides ties, not their values' history
    assert select_lowest(errors[:, ::-1]).tolist() == [1, 0, 0, 0, 0]


def test_autoencoder_reconstructs_clean_speech_better_than_noise():
    from raysim.cdl.moderator import digest, train_autoencoder

    rng = np.random.default_rng(0)
    t = np.arange(4000) / 8000
    clean = np.stack([np.sin(2 * np.pi * f * t) * (1 + 0.3 * np.sin(7 * t)) for f in
                      rng.uniform(150, 400, 40)]).astype(np.float32)  # fmt: skip
    ae = train_autoencoder(clean, ModeratorParams(**{**FAST_AE, "epochs": 20}), seed=0)
    assert ae.trained_on == digest(clean) and ae.n_train == 40
    noisy = clean[:8] + 0.5 * rng.standard_normal((8, 4000)).astype(np.float32)
    assert (ae.errors(noisy) > ae.errors(clean[:8])).all()


def test_config_errors_name_the_key(corpus_root):
    with pytest.raises(ConfigError, match="unseen_classes"):
        parse_cdl_config(_config(corpus_root, unseen_classes=["dog"]))
    with pytest.raises(ConfigError, match="simulation"):
        parse_cdl_config(_config(corpus_root, simulation={"roundz": 2}))
    with pytest.raises(ConfigError, match="snr_bands"):
        parse_cdl_config(_config(corpus_root, condition="snr_band"))


def test_a_bank_of_two_specialists_runs_end_to_end_the_same_however_many_train_at_once(
    corpus_root, tmp_path, ray_session
):
    from raysim.cdl.bank import train_bank
    from raysim.cdl.data import build_cdl_data
    from raysim.cdl.moderator import digest
    from raysim.cdl.report import write_report
    from raysim.cdl.run import run_seed

    cfg = parse_cdl_config(_config(corpus_root))  # concurrent null: all models at once
    result = run_seed(cfg, 0, progress=False, weights_file=tmp_path / "w.npz")
    assert result["groups"] == ["dog", "rain"]
    assert all(len(c) >= 1 for c in result["group_clients"])
    for split in ("seen", "unseen"):
        s = result[split]
        assert s["n"] > 0
        assert s["sdri_oracle"] >= s["sdri_ae"] >= s["sdri_worst"]
        assert s["sdri_oracle"] >= s["sdri_random"] >= s["sdri_worst"]
    assert "ae_acc_condition" in result["seen"] and "ae_acc_condition" not in result["unseen"]
    assert set(result["ae_pick"]) <= {0, 1}

    # the moderator was given exactly the training clients' clean speech: no mixture, no
    # noise, no test audio (the data is rebuilt from the same seed)
    data = build_cdl_data(cfg, 0)
    arrays = data.train.clients.arrays
    assert result["ae_trained_on"] == digest(arrays["speech"])
    assert result["ae_trained_on"] != digest(arrays["mixture"])
    assert np.abs(arrays["noise"]).max() > 0
    np.testing.assert_allclose(arrays["speech"], arrays["mixture"] - arrays["noise"], atol=1e-5)
    # the unseen class reaches no client
    assert all(c != ["rooster"] for c in data.train.info["client_noise_classes"])

    # the weights do not depend on how many models trained at once
    one_by_one = train_bank(cfg.simulation_config(0), data, cfg.trial, generalist=False,
                            concurrent=1, progress=False)  # fmt: skip
    together = np.load(tmp_path / "w.npz")["specialists"]
    np.testing.assert_array_equal(np.stack(one_by_one.specialists), together)
    assert not np.array_equal(*together)  # the two groups trained apart

    paths = write_report([result], tmp_path / "cdl")
    assert all(p.is_file() for p in paths.values())
    assert "(a) AE pick" in paths["md"].read_text()


def test_groups_by_snr_band_and_by_clustering(corpus_root):
    from raysim.cdl.data import band_of, build_cdl_data

    assert band_of(np.array([-5.0, -0.1, 0.0, 10.0, 11.0]), [(-5, 0), (0, 10)]).tolist() == [
        0, 0, 1, 1, -1,
    ]  # fmt: skip
    snr = parse_cdl_config(
        _config(
            corpus_root,
            condition="snr_band",
            snr_bands=[[-5.0, 0.0], [0.0, 5.0]],
            data={
                **_config(corpus_root)["data"],
                "noise_partition": "iid",
                "test_snrs_db": [-2.5, 2.5],
            },
        )  # fmt: skip
    )
    data = build_cdl_data(snr, 0)
    arrays, counts = data.train.clients.arrays, data.train.clients.sample_counts()
    groups = np.repeat(data.client_group, counts)
    p = lambda x: 10 * np.log10(np.mean(x.astype(np.float64) ** 2, 1) + 1e-12)  # noqa: E731
    measured = p(arrays["speech"]) - p(arrays["noise"])
    assert (measured[groups == 0] < 0.01).all() and (measured[groups == 1] > -0.01).all()
    assert set(data.test_condition.tolist()) == {0, 1}

    clustered = build_cdl_data(parse_cdl_config(_config(corpus_root, condition="cluster")), 0)
    assert sorted(set(clustered.client_group.tolist())) == [0, 1]


def test_mixed_kinds_give_every_group_the_mix_and_the_moderator_only_clean_speech(corpus_root):
    from raysim.cdl.data import build_cdl_data

    raw = _config(corpus_root)
    raw["data"] = {**raw["data"], "p_supervised": 0.5}
    raw["simulation"]["task"]["objectives"] = {"supervised": "pn", "unsupervised": "mixit"}
    data = build_cdl_data(parse_cdl_config(raw), 0)
    kinds = data.train.info["client_kinds"]
    for g in range(data.n_groups):
        assert sorted(kinds[c] for c in data.group_clients(g)) == ["supervised", "unsupervised"]
    arrays = data.train.clients.arrays
    supervised = arrays["kind"] == 0
    assert 0 < supervised.sum() < len(supervised)
    np.testing.assert_array_equal(data.clean_training_speech(), arrays["speech"][supervised])

    with pytest.raises(ConfigError, match="p_supervised"):
        parse_cdl_config({**raw, "data": {**raw["data"], "p_supervised": 0.0}})
