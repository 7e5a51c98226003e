"""The federation summary (`raysim.describe`, federation.json): the clients and the
held-out set exactly as the simulation builds and trains them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import raysim
from raysim.config import parse_config
from raysim.data.clients import sample_counts
from raysim.data.sources import build_source
from raysim.federation import Federation, federation_of, load_federation

REPO = Path(__file__).resolve().parents[1]
SMALL = {
    "rounds": 1,
    "task": {"name": "feature_classification", "hidden": [8]},
    "data": {
        "source": "synthetic_features", "dim": 4, "n_train": 200, "n_test": 50,
        "partition": {"name": "dirichlet", "n_clients": 6, "alpha": 0.5},
    },
    "sampling": {"fraction": 0.5},
    "engine": {"num_workers": 1, "worker_cpus": 0.5},
    "eval": {"every": 0},
}  # fmt: skip


@pytest.fixture(scope="module")
def procedural(tmp_path_factory, ray_session) -> dict:
    """A tiny semi-supervised SER config on the procedural corpus (3 speakers, one held
    out, Semi-FedSER clients) with its store built (on the session's Ray)."""
    return {
        "seed": 1,
        "task": {"name": "semi_ser", "label_rate": 0.3, "threshold_ramp_rounds": 10},
        "data": {
            "source": "procedural_ser", "n_speakers": 3, "utterances_per_speaker_per_emotion": 3,
            "cache_dir": str(tmp_path_factory.mktemp("procedural")),
            "held_out": {"groups": ["spk002"]}, "partition": {"name": "semi_fedser", "k": 4},
        },
    }  # fmt: skip


def test_describe_gives_the_clients_the_simulation_trains(procedural, capsys):
    from raysim.engine.local import client_rng
    from raysim.registry import TASKS
    from raysim.tasks.base import ClientContext

    fed = raysim.describe(procedural)
    printed = capsys.readouterr().out
    config = parse_config(procedural)
    data = build_source(config.data, config.seed)  # as Simulation.start builds it
    assert fed.examples == sample_counts(data.clients).tolist()
    assert fed.classes == data.info["classes"] and len(fed.classes) == 4
    groups = data.info["groups"]
    task = TASKS.impl("semi_ser")(config.task, data.info)
    for c in range(len(data.clients)):
        rows = data.clients.get(c)
        assert fed.class_counts[c] == np.bincount(rows["y"], minlength=4).tolist()
        assert fed.speakers[c] == sorted({groups[g] for g in rows["group"]})
        ctx = ClientContext(c, 1, config.seed, client_rng(config.seed, 1, c))
        assert fed.labelled[c] == int(task.label_mask(len(rows["y"]), ctx).sum())
    # Semi-FedSER: 2 training speakers x 4 clients, client j lacks class j
    assert fed.n_clients == 8 and all(fed.class_counts[c][c % 4] == 0 for c in range(8))
    assert fed.held_out["speakers"] == ["spk002"]
    assert fed.held_out["examples"] == len(data.eval_data["y"]) == 12
    assert fed.held_out["class_counts"] == [3, 3, 3, 3]
    assert printed.strip() == fed.text()
    assert "held out: 1 speaker, 12 examples" in printed and "labelled" in printed
    assert Federation.from_dict(json.loads(fed.to_json())) == fed


def test_many_clients_show_the_first_and_last_rows_and_the_totals():
    config = {**SMALL, "data": {**SMALL["data"], "n_train": 1000,
                                "partition": {"name": "iid", "n_clients": 100}}}  # fmt: skip
    fed = raysim.describe(config, show=False)
    lines = fed.text(edge_rows=3).splitlines()
    assert lines[0].startswith("synthetic_features -> feature_classification: 100 clients, 1000")
    clients = [line.split()[0] for line in lines[4:11]]
    assert clients == ["0", "1", "2", "...", "97", "98", "99"]
    assert "... 94 more clients ..." in lines
    total = lines[lines.index("... 94 more clients ...") + 5].split()
    assert total[0] == "total" and total[-1] == "1000"
    assert len(lines) < 20


def test_se_mixtures_federation_kinds_noise_classes_and_speakers(corpus_root):
    config = parse_config(
        {
            "task": {"name": "speech_enhancement"},
            "data": {
                "source": "se_mixtures",
                "speech": {"corpus": "urdu", "root": str(corpus_root / "urdu")},
                "noise": {"corpus": "esc10", "root": str(corpus_root / "esc10")},
                "sample_rate": 8000, "chunk_seconds": 0.5,
                "partition": {"name": "group", "n_clients": 2},
                "held_out": {"groups": ["SM3"]}, "noise_partition": "classes",
                "classes_per_client": 2, "p_supervised": 0.5, "noise_clip": "noise_only",
            },
        }
    )  # fmt: skip
    data = build_source(config.data, config.seed)
    fed = federation_of(config, data)
    assert fed.kinds == ["supervised", "MixIT"] and fed.class_kind == "noise class"
    assert fed.speakers == [["SF2"], ["SM1"]] and fed.held_out["speakers"] == ["SM3"]
    assert [sum(row) for row in fed.class_counts] == fed.examples == [8, 12]
    assert all(sum(map(bool, row)) <= 2 for row in fed.class_counts)
    assert sum(fed.held_out["class_counts"]) == fed.held_out["examples"] == 4
    assert fed.held_out["noise_files"] == data.info["held_out_noise_files"]
    assert "1 supervised, 1 MixIT" in fed.text()


def test_a_run_saves_its_federation(ray_session, tmp_path):
    spec = importlib.util.spec_from_file_location("run_cli", REPO / "experiments" / "run.py")
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    config = tmp_path / "small.yaml"
    config.write_text(json.dumps(SMALL))  # JSON is YAML
    out = tmp_path / "run" / "history.json"
    assert run.main(["--config", str(config), "--out", str(out)]) == 0
    saved = load_federation(out.parent)
    assert saved == raysim.describe(SMALL, show=False)
    assert sum(saved.examples) == 200 and saved.n_clients == 6


def test_report_draws_a_panel_per_distinct_federation(tmp_path):
    from raysim.analysis.plots import _federation_groups, federation_heatmaps
    from raysim.sweep import parse_sweep
    from raysim.sweep.results import Experiment

    base = {k: v for k, v in SMALL.items() if k != "engine"}  # the sweep sets the engine
    sweep = parse_sweep({"config": base, "space": {"seed": {"grid": [0, 1]}}})
    feds = {s: raysim.describe({**SMALL, "seed": s}, show=False).to_dict() for s in (0, 1)}
    trials = pd.DataFrame({"trial_id": ["a", "b", "c"], "config/seed": [0, 1, 1]})
    exp = Experiment(tmp_path, sweep, trials, pd.DataFrame(), {"a": feds[0], "b": feds[1],
                                                                "c": feds[1]})  # fmt: skip
    assert [label for label, _ in _federation_groups(exp)] == ["seed=0", "seed=1"]
    png = federation_heatmaps(exp, tmp_path)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    without = Experiment(tmp_path, sweep, trials, pd.DataFrame())  # no federation.json
    assert federation_heatmaps(without, tmp_path) is None
