"""Centralized training on Ray Train (raysim.centralized_train): DDP workers, resume.

Ray Train starts a controller and a worker group per fit (seconds on 2 cores): three
tiny fits in all, on the shared Ray session.
"""

from __future__ import annotations

import pytest

from raysim.config import parse_config

CONFIG = {
    "seed": 3,
    "data": {"source": "synthetic_features", "n_train": 256, "n_test": 128, "dim": 8,
             "num_classes": 3, "separation": 1.0},
    "task": {"name": "feature_classification", "hidden": [16]},
    "local": {"optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 32},
}  # fmt: skip


def _config(tmp_path, workers: int, epochs: int, name: str):
    section = {"epochs": epochs, "num_workers": workers, "cpus_per_worker": 0.5,
               "storage_path": str(tmp_path / "train"), "run_name": name}  # fmt: skip
    return parse_config({**CONFIG, "centralized": section})


def test_two_ddp_workers_match_one_and_a_rerun_resumes(ray_session, tmp_path):
    from raysim.centralized_train import train_centralized_ray

    one = train_centralized_ray(_config(tmp_path, 1, 1, "one"))
    two = train_centralized_ray(_config(tmp_path, 2, 1, "two"))
    # the two workers' shards of a global batch are the one worker's batch
    assert two.history[0]["train_loss"] == pytest.approx(one.history[0]["train_loss"], rel=1e-4)
    assert two.test_metrics["uar"] == pytest.approx(one.test_metrics["uar"], abs=0.02)
    assert two.n_train == 256 and two.n_val + two.n_test == 128
    # the same run name, now for 2 epochs: Ray Train hands back epoch 1's checkpoint
    more = train_centralized_ray(_config(tmp_path, 2, 2, "two"))
    assert [r["epoch"] for r in more.history] == [1, 2]
    assert more.history[0] == two.history[0]
