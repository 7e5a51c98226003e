"""Bad configs fail at start with a message naming the key (no Ray needed)."""

from __future__ import annotations

import warnings

import pytest

from raysim.config import ConfigError, load_config, parse_config, parse_overrides
from raysim.run_length import ScheduleWarning


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


# -- schedules as fractions of the run --------------------------------------------------------
def _lr(config) -> list[float]:
    from raysim.engine.lr_schedule import RoundLR

    sched = RoundLR(config.local.lr_schedule, config.local.optimizer.lr, config.rounds)
    lrs = []
    for _ in range(config.rounds):
        lrs.append(sched.lr)
        sched.end_round({})
    return lrs


def test_lr_steps_and_threshold_ramp_as_fractions_follow_rounds():
    for rounds in (10, 40):
        cfg = parse_config(
            {
                "rounds": rounds,
                "task": {"name": "semi_ser", "threshold_ramp": 0.6},
                "local": {
                    "optimizer": {"lr": 1.0},
                    "lr_schedule": {"name": "step", "step_size": 0.5},
                },
            }
        )
        assert cfg.task.threshold_ramp_rounds == 0.6 * rounds
        assert _lr(cfg) == [1.0] * (rounds // 2) + [0.5] * (rounds // 2)
    # the fraction survives a dump, so re-validating with other rounds re-resolves it
    again = parse_config({**cfg.model_dump(), "rounds": 100})
    assert again.task.threshold_ramp == 0.6 and again.task.threshold_ramp_rounds == 60
    cosine = parse_config({"rounds": 8, "local": {"lr_schedule": {"name": "cosine", "t_max": 0.5}}})
    assert min(_lr(cosine)) == _lr(cosine)[4] == 0.0  # period 4: lowest at round 5


def test_absolute_schedules_are_unchanged():
    cfg = parse_config(
        {
            "rounds": 500,
            "task": {"name": "semi_ser"},
            "local": {"lr_schedule": {"name": "step", "step_size": 100}},
        }
    )
    assert cfg.task.threshold_ramp_rounds == 300 and cfg.task.threshold_ramp is None
    assert isinstance(cfg.local.lr_schedule.step_size, int)


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"local": {"lr_schedule": {"name": "step", "step_size": 1.5}}}, "lr_schedule.step_size"),
        ({"local": {"lr_schedule": {"name": "step", "step_size": 0}}}, "lr_schedule.step_size"),
        ({"local": {"lr_schedule": {"name": "cosine", "t_max": 0.0}}}, "local.lr_schedule.t_max"),
        ({"task": {"name": "semi_ser", "threshold_ramp": 100.0}}, "task.threshold_ramp"),
    ],
)  # fmt: skip
def test_bad_fraction_is_rejected_naming_the_key(config, key):
    with pytest.raises(ConfigError, match="fraction of the run|number of rounds") as err:
        parse_config(config)
    assert key in str(err.value)


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"rounds": 200, "task": {"name": "semi_ser"}},
         ["task.threshold_ramp_rounds", "300-round", "200-round", "0.765"]),
        ({"rounds": 200, "task": {"name": "semi_ser", "threshold_ramp": 250}},
         ["task.threshold_ramp", "250-round", "200-round"]),
        ({"rounds": 100, "local": {"lr_schedule": {"name": "step", "step_size": 100}}},
         ["local.lr_schedule.step_size", "100 rounds", "never decays"]),
        ({"rounds": 50, "local": {"lr_schedule": {"name": "cosine", "t_max": 80}}},
         ["local.lr_schedule.t_max", "80-round", "never reaches eta_min"]),
    ],
)  # fmt: skip
def test_absolute_schedule_that_does_not_fit_the_run_warns_naming_key_and_numbers(config, words):
    with pytest.warns(ScheduleWarning) as caught:
        parse_config(config)
    message = str(caught[0].message)
    assert all(w in message for w in words), message


@pytest.mark.parametrize(
    "config",
    [
        {
            "rounds": 500,
            "task": {"name": "semi_ser"},
            "local": {"lr_schedule": {"name": "step", "step_size": 100}},
        },
        {"rounds": 20, "task": {"name": "semi_ser", "mode": "labelled_only"}},  # no ramp used
        {"rounds": 20, "task": {"name": "semi_ser", "threshold_ramp": 0.6}},
        {"rounds": 20, "task": {"name": "semi_ser", "threshold_start": 0.9}},  # flat threshold
    ],
)
def test_schedules_that_fit_do_not_warn(config):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScheduleWarning)
        parse_config(config)
