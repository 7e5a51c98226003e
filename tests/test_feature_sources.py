"""Feature-store data sources: speaker-independent server data, client partitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from raysim.data.feature_sources import FeatureStoreParams, source_from_features


def _store(n_speakers=6, per=12, seed=0):
    rng = np.random.default_rng(seed)
    meta = pd.DataFrame(
        {
            "utt_id": [f"u{i}" for i in range(n_speakers * per)],
            "speaker": np.repeat([f"spk{s}" for s in range(n_speakers)], per),
            "label": rng.choice(["ang", "hap", "neu", "sad"], n_speakers * per),
        }
    )
    return rng.normal(size=(len(meta), 5)).astype(np.float32), meta


def test_held_out_speakers_never_appear_in_clients():
    x, meta = _store()
    params = FeatureStoreParams(source="feature_store", path="mem", held_out={"fraction": 0.34})
    data = source_from_features(x, meta, params, seed=1, origin="mem")
    test_groups = set(data.eval_data["group"])
    client_groups = {g for c in range(len(data.clients)) for g in data.clients.get(c)["group"]}
    assert len(test_groups) == 2 and not test_groups & client_groups
    assert len(data.clients) == 4  # one client per remaining speaker
    assert all(len(set(data.clients.get(c)["group"])) == 1 for c in range(4))
    assert data.info["classes"] == ["ang", "hap", "neu", "sad"]
    assert len(data.eval_data["y"]) + sum(data.clients.num_samples(c) for c in range(4)) == len(x)


def test_explicit_held_out_groups_and_unknown_classes_are_checked():
    x, meta = _store()
    params = FeatureStoreParams(source="feature_store", path="mem", held_out={"groups": ["spk0"]})
    data = source_from_features(x, meta, params, seed=0, origin="mem")
    assert set(data.eval_data["group"]) == {data.info["groups"].index("spk0")}
    with pytest.raises(ValueError, match="data.held_out.groups"):
        bad = FeatureStoreParams(
            source="feature_store", path="mem", held_out={"groups": ["nobody"]}
        )
        source_from_features(x, meta, bad, seed=0, origin="mem")
    with pytest.raises(ValueError, match="data.classes: 'calm' is not a label of mem"):
        source_from_features(
            x,
            meta,
            FeatureStoreParams(source="feature_store", path="mem", classes=["ang", "calm"]),
            0,
            "mem",
        )


def test_cross_validation_folds_cover_every_speaker_once_whatever_the_seed():
    x, meta = _store(n_speakers=7)
    held = []
    for fold in range(3):
        params = FeatureStoreParams(
            source="feature_store", path="mem", held_out={"folds": 3, "fold": fold}
        )
        by_seed = [
            set(source_from_features(x, meta, params, seed=s, origin="mem").eval_data["group"])
            for s in (0, 5)
        ]
        assert by_seed[0] == by_seed[1]  # folds do not move with the run seed
        held.append(by_seed[0])
    assert sorted(len(h) for h in held) == [2, 2, 3]
    assert set().union(*held) == set(range(7)) and sum(len(h) for h in held) == 7
    with pytest.raises(ValueError, match="fold=3"):
        FeatureStoreParams(source="feature_store", path="mem", held_out={"folds": 3, "fold": 3})
    with pytest.raises(ValueError, match="folds=8"):
        params = FeatureStoreParams(source="feature_store", path="mem", held_out={"folds": 8})
        source_from_features(x, meta, params, seed=0, origin="mem")


def test_missing_label_column_is_named():
    x, meta = _store()
    with pytest.raises(ValueError, match="emotion"):
        source_from_features(
            x,
            meta,
            FeatureStoreParams(source="feature_store", path="mem", label_column="emotion"),
            0,
            "store.parquet",
        )


def test_global_standardize_uses_training_rows_only():
    x, meta = _store()
    x = x * 10 + 3
    params = FeatureStoreParams(
        source="feature_store", path="mem", standardize="global", held_out={"groups": ["spk0"]}
    )
    data = source_from_features(x, meta, params, seed=0, origin="mem")
    train_x = data.clients.arrays["x"]
    np.testing.assert_allclose(train_x.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(train_x.std(0), 1, atol=1e-4)
    assert abs(data.eval_data["x"].mean()) < 1.0  # same transform, not its own statistics
