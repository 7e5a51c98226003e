"""Centralized training on the pooled client data (raysim.centralized): no Ray."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from raysim.centralized import split_held_out, train_centralized
from raysim.config import ConfigError, parse_config
from raysim.data.sources import build_source
from raysim.registry import TASKS

REPO = Path(__file__).resolve().parents[1]
CONFIG = {
    "seed": 3,
    "data": {"source": "synthetic_features", "n_train": 400, "n_test": 200, "dim": 8,
             "num_classes": 3, "separation": 1.0},
    "task": {"name": "feature_classification", "hidden": [16]},
    "local": {"optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 32},
}  # fmt: skip


def test_learns_and_reports_the_best_validation_epoch_on_the_test_rows():
    config = parse_config(CONFIG)
    result = train_centralized(config, 4, select="uar")
    assert [r["epoch"] for r in result.history] == [1, 2, 3, 4]
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.best_epoch == 1 + int(np.argmax([r["val_uar"] for r in result.history]))
    assert (result.n_train, result.n_val, result.n_test) == (400, 100, 100)
    assert result.test_metrics["uar"] > 0.6  # chance is 1/3
    # the reported metrics are the best epoch's weights on the test rows
    data = build_source(config.data, config.seed)
    _, test = split_held_out(data.eval_data, 0.5, config.seed)
    task = TASKS.build(config.task, data.info)
    model = task.build_model()
    model.load_state_dict(result.state_dict)
    assert task.evaluate(model, test) == result.test_metrics


def test_same_seed_same_run():
    config = parse_config(CONFIG)
    a, b = (train_centralized(config, 2, select="uar") for _ in range(2))
    assert [r["train_loss"] for r in a.history] == [r["train_loss"] for r in b.history]
    assert all(torch.equal(a.state_dict[k], b.state_dict[k]) for k in a.state_dict)


def test_held_out_split_is_a_seeded_partition_of_the_rows():
    data = {"x": np.arange(10)[:, None], "y": np.arange(10)}
    val, test = split_held_out(data, 0.3, seed=0)
    assert len(val["y"]) == 3
    assert sorted([*val["y"], *test["y"]]) == list(range(10))
    assert (val["x"][:, 0] == val["y"]).all()  # arrays stay aligned
    assert split_held_out(data, 0.3, seed=0)[0]["y"].tolist() == val["y"].tolist()
    for fraction in (0.05, 1.0):
        with pytest.raises(ValueError, match="no validation or no test row"):
            split_held_out(data, fraction, seed=0)


def test_an_unknown_selection_metric_is_named():
    with pytest.raises(KeyError, match="'uarr'"):
        train_centralized(parse_config(CONFIG), 1, select="uarr")


def test_imports_without_ray():
    code = "import sys; sys.modules['ray'] = None; import raysim, raysim.centralized"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_entry_point_rejects_a_config_typo_naming_the_key(capsys):
    spec = importlib.util.spec_from_file_location(
        "centralized_cli", REPO / "experiments" / "centralized.py"
    )
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    assert cli.main(["--epochs", "1", "local.batch_sise=8"]) == 2
    assert "local.batch_sise" in capsys.readouterr().err


def test_pooling_by_clients_prepares_each_client_as_itself():
    config = parse_config({**CONFIG, "centralized": {"pool": "clients", "epochs": 2}})
    result = train_centralized(config)
    assert len(result.history) == 2 and result.n_train == 400
    assert result.test_metrics["uar"] > 0.5


def test_a_bad_centralized_key_is_rejected_naming_it():
    with pytest.raises(ConfigError, match="centralized.epoch"):
        parse_config({**CONFIG, "centralized": {"epoch": 3}})
    with pytest.raises(ConfigError, match="centralized.num_workers"):
        parse_config({**CONFIG, "centralized": {"num_workers": 0}})


def test_entry_point_rejects_a_bad_centralized_key(capsys):
    assert _cli().main(["--engine", "local", "centralized.batch_sise=8"]) == 2
    assert "centralized.batch_sise" in capsys.readouterr().err


def test_sharded_order_yields_only_the_shard():
    from raysim.tasks.base import LocalData

    local = LocalData({"x": torch.arange(10)})
    batches = list(local.batches(3, np.array([8, 2, 4, 6])))
    assert [b["x"].tolist() for b in batches] == [[8, 2, 4], [6]]


def test_references_are_found_by_data_and_task(tmp_path):
    from raysim.centralized_results import find_references, reference_lines, save_reference

    config = parse_config(CONFIG)
    for seed, uar in ((0, 0.8), (1, 0.9)):
        save_reference(config, "ray_train", {"uar": uar}, seed=seed, folder=tmp_path)
    save_reference(config, "ray_train", {"uar": 0.9}, seed=0, folder=tmp_path)  # replaces
    (ref,) = find_references(parse_config({**CONFIG, "rounds": 7, "seed": 5}), tmp_path)
    assert (ref.method, ref.runs, ref.metrics["uar"]) == ("ray_train", 2, pytest.approx(0.9))
    lines = reference_lines(config, "eval_uar", tmp_path)
    assert lines == ["- IID upper bound (centralized ray_train, 2 runs): uar 0.9000"]
    other = {**CONFIG, "task": {**CONFIG["task"], "hidden": [8]}}
    assert find_references(parse_config(other), tmp_path) == []


def _cli():
    spec = importlib.util.spec_from_file_location(
        "centralized_cli", REPO / "experiments" / "centralized.py"
    )
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    return cli


def test_fold_references_average_the_folds_and_need_every_fold(tmp_path):
    from raysim.centralized_results import fold_reference_lines, save_reference

    configs = [parse_config({**CONFIG, "seed": s}) for s in (0, 1)]  # stand-ins for folds
    other = parse_config({**CONFIG, "task": {**CONFIG["task"], "hidden": [4]}})
    save_reference(configs[0], "local", {"uar": 0.8}, seed=0, folder=tmp_path)
    save_reference(other, "local", {"uar": 0.6}, seed=0, folder=tmp_path)
    lines = fold_reference_lines([configs[0], other], "uar", "x", tmp_path)
    assert lines == ["- IID upper bound [x] (centralized local, 2 runs, 2 folds): uar 0.7000"]
    assert fold_reference_lines([configs[0], parse_config({**CONFIG, "data": {
        **CONFIG["data"], "dim": 4}})], "uar", folder=tmp_path) == []  # fmt: skip
