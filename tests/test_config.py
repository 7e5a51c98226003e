"""Bad configs fail at start with a message naming the key (no Ray needed)."""

from __future__ import annotations

import pytest

from raysim.config import ConfigError, load_config, parse_config, parse_overrides


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"rounds": 0}, "rounds"),
        ({"sampling": {"fraction": 0.0}}, "sampling.fraction"),
        ({"sampling": {"fraction": 1.5}}, "sampling.fraction"),
        ({"sampling": {"availability": 0}}, "sampling.availability"),
        ({"local": {"optimizer": {"lr": -0.1}}}, "local.optimizer.lr"),
        ({"local": {"optimizer": {"name": "lbfgs"}}}, "local.optimizer.name"),
        ({"local": {"optimzer": {"lr": 0.1}}}, "local.optimzer"),
        ({"local": {"batch_size": 0}}, "local.batch_size"),
        ({"strategy": {"name": "fedsgd"}}, "strategy.name"),
        ({"server_optimizer": {"tau": 0}}, "server_optimizer.tau"),
        ({"engine": {"num_workers": 0}}, "engine.num_workers"),
        ({"learning_rate": 0.1}, "learning_rate"),
        ({"task": {"name": "no_such_task"}}, "no_such_task"),
        ({"task": {"hiden": [8]}}, "task.hiden"),
        ({"task": {"dropout": 1.5}}, "task.dropout"),
        ({"data": {"source": "nowhere"}}, "nowhere"),
        ({"data": {"partition": {"alpha": 0}}}, "data.partition.alpha"),
        ({"data": {"partition": {"alpha": -1.0}}}, "data.partition.alpha"),
        ({"data": {"n_trian": 10}}, "data.n_trian"),
        ({"local": {"lr_schedule": {"name": "step", "gamma": 2.0}}}, "local.lr_schedule.gamma"),
    ],
)
def test_bad_config_is_rejected_naming_the_key(config, key):
    with pytest.raises(ConfigError) as err:
        parse_config(config)
    assert key in str(err.value)


def test_typo_gets_a_suggestion():
    with pytest.raises(ConfigError, match="did you mean 'optimizer'"):
        parse_config({"local": {"optimzer": {}}})


def test_yaml_and_dotted_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("rounds: 7\nlocal:\n  optimizer: {name: adam, lr: 0.01}\n")
    cfg = load_config(path, ["local.optimizer.lr=0.002", "sampling.clients_per_round=3"])
    assert cfg.rounds == 7
    assert cfg.local.optimizer.name == "adam"
    assert cfg.local.optimizer.lr == 0.002
    assert cfg.sampling.clients_per_round == 3 and cfg.sampling.fraction is None


def test_override_needs_key_and_value():
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["rounds"])


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")
