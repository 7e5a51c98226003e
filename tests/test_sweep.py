"""Sweeps on Ray Tune: search-space validation, SIGINT + --resume, a two-node cluster, the report.

Sweeps start their own Ray (a local one, or a real two-node cluster started with `ray
start`, benchmarks/cluster.py), so they run in subprocesses, apart from the session's
shared instance.
"""

from __future__ import annotations

import copy
import csv
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from raysim.config import ConfigError, parse_config
from raysim.sweep import parse_sweep, run_sweep
from raysim.sweep.results import load_experiment
from raysim.sweep.space import apply

REPO = Path(__file__).resolve().parents[1]
SWEEP_CLI = [sys.executable, str(REPO / "experiments" / "sweep.py")]
REPORT_CLI = [sys.executable, str(REPO / "analysis" / "report.py")]

TINY = {
    "name": "tiny",
    "config": {
        "rounds": 3,
        "task": {"name": "feature_classification", "hidden": [16]},
        "data": {
            "source": "synthetic_features",
            "dim": 8,
            "n_train": 800,
            "n_test": 200,
            "partition": {"name": "iid", "n_clients": 8},
        },
        "sampling": {"fraction": 0.5},
        "local": {"optimizer": {"name": "sgd", "lr": 0.05}, "batch_size": 16},
        "eval": {"every": 1},
    },
    "space": {"seed": {"grid": [0, 1]}},
    "tune": {"metric": "eval_accuracy", "mode": "max"},
    "trial": {"workers": 1, "worker_cpus": 0.25, "driver_cpus": 0.25, "checkpoint_every": 5},
}


def sweep_spec(**sections) -> dict:
    """TINY with some sections replaced."""
    return {**copy.deepcopy(TINY), **sections}


# -- validation (no Ray) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("space", "named"),
    [
        ({"local.optimiser.lr": {"grid": [0.1]}}, "local.optimiser"),  # unknown key
        ({"task.hiden": {"grid": [[8]]}}, "task.hiden"),  # unknown task key
        ({"sampling.fraction": {"grid": []}}, "space.sampling.fraction.grid"),  # empty grid
        ({"local.batch_size": {"grid": [16, "big"]}}, "local.batch_size"),  # wrong type
        ({"sampling.fraction": {"choice": [0.5, 1.5]}}, "sampling.fraction"),  # out of range
        ({"local.optimizer.lr": {"loguniform": [0, 0.1]}}, "space.local.optimizer.lr"),
        ({"seed": {"randint": [5, 2]}}, "space.seed.randint"),
        ({"seed": [0, 1]}, "space.seed"),  # no domain
        ({"engine.num_workers": {"grid": [2]}}, "engine.num_workers"),  # the sweep sets it
    ],
)
def test_bad_search_space_is_rejected_naming_the_key(space, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        parse_sweep(sweep_spec(space=space))


def test_bad_sweep_sections_and_scheduler_are_rejected():
    with pytest.raises(ConfigError, match=r"tune\.metrc: unknown key; did you mean 'metric'"):
        parse_sweep(sweep_spec(tune={"metrc": "eval_loss"}))
    with pytest.raises(ConfigError, match=r"tune\.scheduler\.grace"):
        parse_sweep(sweep_spec(tune={"scheduler": {"name": "asha", "grace": 2}}))
    late_eval = sweep_spec(tune={"scheduler": {"name": "asha", "grace_period": 1}})
    late_eval["config"]["eval"] = {"every": 2}
    with pytest.raises(ConfigError, match=r"grace_period.*first evaluation"):
        parse_sweep(late_eval)


def test_space_sections_and_combinations_are_validated_and_applied():
    space = {
        "local.optimizer": {"grid": [{"name": "sgd", "lr": 0.1}, {"name": "adam", "lr": 1e-3}]},
        "sampling.fraction": {"uniform": [0.25, 1.0]},
        "seed": {"grid": [0, 1]},
    }
    sweep = parse_sweep(sweep_spec(space=space))
    assert [d.key for d in sweep.dims] == ["local.optimizer", "sampling.fraction", "seed"]
    trial = apply(sweep.spec.config, {"local.optimizer": {"name": "adam", "lr": 1e-3}})
    local = parse_config(trial).local
    assert (local.optimizer.name, local.optimizer.lr, local.batch_size) == ("adam", 1e-3, 16)
    # each value is fine alone (semi_ser needs threshold_end >= threshold_start): only
    # one combination is invalid
    semi = sweep_spec(space={
        "task.threshold_start": {"grid": [0.5, 0.8]},
        "task.threshold_end": {"grid": [0.9, 0.7]},
    })  # fmt: skip
    semi["config"]["task"] = {"name": "semi_ser"}
    with pytest.raises(ConfigError, match=r"combination \(task\.threshold_start=0\.8, task\.thr"):
        parse_sweep(semi)


def test_prepared_data_keeps_every_setting_of_the_source(tmp_path):
    # the procedural corpus is built once and trials read its store: what the base
    # config said about standardisation, held-out split and partition must survive
    from raysim.sweep.runner import prepare_data

    data = {
        "source": "procedural_ser", "n_speakers": 2, "utterances_per_speaker_per_emotion": 1,
        "cache_dir": str(tmp_path), "standardize": "global",
        "held_out": {"by": "groups", "fraction": 0.5}, "partition": {"name": "iid", "n_clients": 2},
    }  # fmt: skip
    prepared = parse_config(prepare_data({"data": data})).data
    assert prepared.source == "feature_store" and Path(prepared.path).is_dir()
    assert prepared.standardize == "global"
    assert prepared.held_out.fraction == 0.5
    assert prepared.partition.name == "iid" and prepared.partition.n_clients == 2


def test_what_a_source_prepares_once_cannot_be_swept():
    config = {"data": {"source": "procedural_ser", "n_speakers": 4}}
    space = {"data.n_speakers": {"grid": [4, 6]}}
    with pytest.raises(ConfigError, match="data.n_speakers is prepared once"):
        parse_sweep(sweep_spec(config=config, space=space))


def test_cli_rejects_a_bad_space_before_starting_ray(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(sweep_spec(space={"sampling.fractoin": {"grid": [0.5]}})))
    storage = tmp_path / "runs"
    cmd = [*SWEEP_CLI, "--config", str(config), "--storage", str(storage)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "sampling.fractoin" in proc.stderr
    assert not storage.exists()  # no experiment, no trial


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is not None, reason="mlflow installed")
def test_mlflow_logging_without_mlflow_fails_clearly_before_running(tmp_path):
    sweep = parse_sweep(sweep_spec(logging={"mlflow": True}))
    with pytest.raises(ConfigError, match=r"logging\.mlflow.*pip install mlflow"):
        run_sweep(sweep, tmp_path / "exp")
    assert not (tmp_path / "exp").exists()


def test_progress_csv_widens_for_keys_reported_later(tmp_path):
    from raysim.sweep.progress_csv import ProgressCSV

    class Trial:  # what the logger reads of a Tune trial
        local_path, checkpoint = str(tmp_path), None

        def init_local_path(self):
            pass

    trial, logger = Trial(), ProgressCSV()
    logger.log_trial_result(1, trial, {"round": 1, "eval_uar": float("nan"), "config": {}})
    logger.log_trial_result(2, trial, {"round": 2, "eval_uar": 0.5, "eval_f1": 0.4})
    logger.log_trial_end(trial)
    ProgressCSV().log_trial_result(3, trial, {"round": 3, "eval_f1": 0.6})  # a restarted driver
    with (tmp_path / "progress.csv").open() as f:
        rows = list(csv.reader(f))
    assert rows == [["round", "eval_uar", "eval_f1"], ["1", "nan", ""], ["2", "0.5", "0.4"],
                    ["3", "", "0.6"]]  # fmt: skip


def _tensorboard_scalars(folder: Path) -> tuple[int, set[tuple[str, int, float]]]:
    """(events with scalars, {(tag, step, value)}) of the events files in `folder`,
    read as TFRecords (length, crc, payload, crc)."""
    import struct

    from tensorboardX.proto.event_pb2 import Event

    events, values = 0, set()
    for file in folder.glob("events.out.tfevents.*"):
        data, at = file.read_bytes(), 0
        while at < len(data):
            (length,) = struct.unpack("<Q", data[at : at + 8])
            event = Event.FromString(data[at + 12 : at + 12 + length])
            at += 16 + length
            scalars = [(v.tag, event.step, v.simple_value) for v in event.summary.value
                       if v.WhichOneof("value") == "simple_value"]  # fmt: skip
            events += bool(scalars)
            values.update(scalars)
    return events, values


def test_tensorboard_logger_writes_what_tunes_does_one_event_per_result(tmp_path):
    from ray.tune.logger import TBXLoggerCallback

    from raysim.sweep.tensorboard import TensorBoardLogger, scalars

    results = [
        {"round": r, "train_loss": 1.0 / r, "eval_uar": 0.5 if r > 1 else float("nan"),
         "done": r == 3, "node_id": "abc", "training_iteration": r, "config": {"seed": 0},
         "timestamp": 7, "nested": {"a": r * 2}}
        for r in (1, 2, 3)
    ]  # fmt: skip
    written = {}
    for name, logger in (("tune", TBXLoggerCallback()), ("ours", TensorBoardLogger())):

        class Trial:  # what the loggers read of a Tune trial
            local_path, evaluated_params = str(tmp_path / name), {"seed": 0}

            def init_local_path(self):
                Path(self.local_path).mkdir()

        trial = Trial()
        for i, result in enumerate(results, 1):
            logger.log_trial_result(i, trial, result)
        logger.log_trial_end(trial)
        written[name] = _tensorboard_scalars(tmp_path / name)
    (tune_events, tune_values), (our_events, our_values) = written["tune"], written["ours"]
    assert our_values == tune_values and ("ray/tune/nested/a", 3, 6.0) in our_values
    # Tune: an event per value; ours: one per result
    assert (tune_events, our_events) == (sum(len(scalars(r)) for r in results), 3)


def test_live_view_says_which_value_it_shows():
    from raysim.sweep.live import LiveView

    columns = [c.header for c in LiveView("eval_uar", "max", 3).render([]).columns]
    assert columns[4:6] == ["eval_uar (latest)", "best (max)"]


# -- SIGINT and --resume --------------------------------------------------------------


def _rows(trial_dir: Path) -> list[dict]:
    file = trial_dir / "result.json"
    text = file.read_text() if file.exists() else ""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _finished(rows: list[dict]) -> bool:
    return bool(rows) and rows[-1]["round"] == rows[-1]["config"]["rounds"]


@pytest.fixture(scope="module")
def resumed(tmp_path_factory) -> dict:
    """A sweep of 2 short (3 rounds) and 2 long (40 rounds) trials, interrupted by SIGINT
    once a short one has finished and a long one has a checkpoint, then resumed."""
    root = tmp_path_factory.mktemp("resume")
    spec = sweep_spec(space={"rounds": {"grid": [3, 40]}, "seed": {"grid": [0, 1]}})
    spec["config"]["eval"] = {"every": 2}  # round 1 reports no evaluation
    spec["config"]["system"] = {"mode": "sync"}  # virtual time: checkpointed, plotted
    spec["report"] = {"heatmap": {"x": "rounds", "y": "seed"}}
    config = root / "resume.yaml"
    config.write_text(yaml.safe_dump(spec))
    path = root / "runs" / "exp"
    base = [*SWEEP_CLI, "--storage", str(path.parent), "--name", "exp"]
    log = (root / "first.log").open("w")
    first = subprocess.Popen([*base, "--config", str(config)], stdout=log, stderr=log)
    deadline = time.monotonic() + 300
    while True:
        assert first.poll() is None, (root / "first.log").read_text()[-3000:]
        assert time.monotonic() < deadline, "no trial finished in time"
        before = {d.name: _rows(d) for d in path.glob("trial_*")}
        done = [t for t, rows in before.items() if _finished(rows)]
        with_checkpoint = [
            t for t, rows in before.items() if not _finished(rows) and len(rows) >= 5
        ]
        if done and with_checkpoint:
            break
        time.sleep(0.1)
    first.send_signal(signal.SIGINT)
    first_rc = first.wait(timeout=180)
    log.close()
    finished = {d.name: (d / "result.json").read_bytes() for d in path.glob("trial_*")}
    finished = {t: data for t, data in finished.items() if _finished(_rows(path / t))}
    second = subprocess.run(
        [*base, "--resume"], capture_output=True, text=True, timeout=300, check=False
    )
    return {
        "path": path,
        "first_rc": first_rc,
        "first_log": (root / "first.log").read_text(),
        "before": before,
        "finished": finished,
        "with_checkpoint": with_checkpoint,
        "second": second,
    }


def test_sigint_then_resume_runs_the_same_trials_and_repeats_none(resumed):
    path, second = resumed["path"], resumed["second"]
    assert resumed["first_rc"] == 130, resumed["first_log"][-3000:]
    assert "--resume" in resumed["first_log"]
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    finished = resumed["finished"]
    assert 1 <= len(finished) < 4  # stopped mid-way
    after = {d.name: _rows(d) for d in path.glob("trial_*")}
    assert len(after) == 4 and set(resumed["before"]) <= set(after)  # the same trials
    for trial, rows in after.items():
        rounds = rows[-1]["config"]["rounds"]
        assert sorted({r["round"] for r in rows}) == list(range(1, rounds + 1)), trial
    for trial, data in finished.items():  # not run again: results untouched
        assert (path / trial / "result.json").read_bytes() == data
        assert len(after[trial]) == after[trial][-1]["config"]["rounds"]
    for trial in resumed["with_checkpoint"]:  # continued from its checkpoint, not from round 1
        before = resumed["before"][trial]
        rows = after[trial]
        assert rows[: len(before)] == before
        assert [r["round"] for r in rows].count(1) == 1


def test_results_hold_every_key_the_trials_reported(resumed):
    # the sweep's history is the trials' round records: idle (once dropped) included
    path = resumed["path"]
    exp = load_experiment(path)
    keys = (
        "idle sampled reporting dropped rejected lr train_loss bytes_down bytes_up wall_s "
        "eval_accuracy eval_round"
    ).split()
    assert {*keys, "node_id"} <= set(exp.history.columns)
    for trial_id, history in exp.history.groupby("trial_id"):
        reported = {r["round"]: r for r in _rows(path / f"trial_{trial_id}")}  # latest per round
        assert history["round"].tolist() == sorted(reported)
        for row in history.to_dict("records"):
            expected = reported[row["round"]]
            assert row["node_id"] == expected["node_id"]
            # (the tables Tune writes hold floats to about 1e-15; NaN before the first eval)
            got, want = {k: row[k] for k in keys}, {k: expected[k] for k in keys}
            assert got == pytest.approx(want, nan_ok=True)


def test_progress_csv_and_federation_json_of_every_trial(resumed):
    # the first evaluation is in round 2: every eval metric still has its column
    for trial in resumed["path"].glob("trial_*"):
        with (trial / "progress.csv").open() as f:
            header = next(csv.reader(f))
        reported = set().union(*(r.keys() for r in _rows(trial))) - {"config"}
        assert {"eval_accuracy", "eval_uar", "eval_f1", "eval_loss"} <= set(header)
        assert reported <= set(header)
        fed = json.loads((trial / "federation.json").read_text())
        assert fed["source"] == "synthetic_features" and len(fed["examples"]) == 8
    exp = load_experiment(resumed["path"])
    assert set(exp.federations) == set(exp.trials["trial_id"])


def test_report_writes_markdown_tables_and_plots(resumed):
    path = resumed["path"]
    proc = subprocess.run([*REPORT_CLI, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "eval_accuracy" in proc.stdout  # the printed table
    report = path / "report" / "report.md"
    text = report.read_text()
    assert "## Results per configuration" in text and "## Best configuration" in text
    assert " ± " in text  # mean ± std over the two seeds
    pngs = ("heatmap.png", "convergence.png", "virtual_time.png", "ablation.png",
            "communication.png", "federation.png")  # fmt: skip
    for png in pngs:
        assert f"]({png})" in text
        assert (report.parent / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- a two-node cluster ----------------------------------------------------------------

CLUSTER_BENCH = [sys.executable, str(REPO / "benchmarks" / "cluster.py")]


def test_two_node_cluster_runs_trials_and_workers_on_both_nodes(tmp_path):
    # benchmarks/cluster.py, small: `ray start --head` + `ray start --address` (two
    # raylets of 1 CPU each), `sweep.py --address auto`; a trial (1 CPU) fills a node and
    # Tune starts both at once, so they must use both nodes
    spec = sweep_spec(trial={"workers": 1, "worker_cpus": 0.5, "driver_cpus": 0.5})
    spec["config"].update(rounds=2, eval={"every": 2})
    spec["logging"] = {"tensorboard": False}
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(spec))
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    proc = subprocess.run(
        [*CLUSTER_BENCH, "--config", str(config), "--timeout", "240", "config.rounds=2"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    nodes = out["nodes"]
    assert len(set(nodes)) == 2, out
    trials = out["trials"]
    assert [t["status"] for t in trials] == ["TERMINATED"] * 2
    assert all(t["rounds"] == 2 for t in trials)
    assert sorted(t["node_id"] for t in trials) == sorted(nodes)  # one trial per node
    for node in nodes:  # each trial's aggregator and worker on its node (STRICT_PACK)
        assert out["actors"][node] == {"Aggregator": 1, "WorkerActor": 1}
    assert out["ok"] and out["problems"] == []
