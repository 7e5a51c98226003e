"""The optimizer study (raysim.analysis.optimizer_study): one sweep file run federated
(one simulation per Tune trial) and centralized (Ray Train in Tune trials,
raysim.sweep.centralized), read back and drawn; and a plateau schedule that watches
validation in a centralized run.

Tiny Conv-TasNet on the synthetic FSDD + ESC-10 corpora, 2 rounds / epochs: three trials
in all on the shared Ray session, one at a time.
"""

from __future__ import annotations

import math
import warnings

import pytest

from raysim.config import parse_config


def _config(corpus_root) -> dict:
    return {
        "seed": 0,
        "rounds": 2,
        "task": {"name": "speech_enhancement",
                 "model": {"name": "convtasnet", "n_src": 2, "n_filters": 8, "hidden": 8,
                           "n_blocks": 1},
                 "objectives": {"supervised": "neg_si_sdr"},
                 "eval": {"metrics": ["si_sdri"], "batch_size": 8}},
        "data": {"source": "se_mixtures",
                 "speech": {"corpus": "fsdd", "root": str(corpus_root / "fsdd"), "max_files": 60},
                 "noise": {"corpus": "esc10", "root": str(corpus_root / "esc10"), "max_files": 20},
                 "partition": {"name": "iid", "n_clients": 2}, "p_supervised": 1.0,
                 "noise_clip": "noise_only", "snr_range_db": [-5.0, 5.0], "chunk_seconds": 0.25,
                 "sample_rate": 8000, "held_out": {"by": "split"}, "test_snrs_db": [0.0],
                 "max_test_examples": 8},
        "sampling": {"fraction": 1.0},
        "local": {"batch_size": 8},
        "eval": {"every": 1},
        "centralized": {"epochs": 2, "cpus_per_worker": 0.25},
    }  # fmt: skip


ADAM = {"name": "adam", "lr": 0.001}


def _sweep(corpus_root, arms: list[dict]) -> dict:
    return {
        "name": "study",
        "config": _config(corpus_root),
        "space": {"local": {"grid": arms}, "seed": {"grid": [0]}},
        "tune": {"metric": "eval_si_sdri", "mode": "max", "max_concurrent_trials": 1},
        "trial": {"worker_cpus": 0.25, "driver_cpus": 0.25},
        "logging": {"tensorboard": False},
    }


def test_plateau_watching_eval_reads_the_validation_share_in_a_centralized_run(corpus_root):
    from raysim.centralized import train_centralized

    # the input's own SI-SDR on the validation rows never improves: patience 0 decays
    # the lr after every epoch but the first
    plateau = {"name": "plateau", "monitor": "eval_input_si_sdr", "mode": "max",
               "patience": 0, "factor": 0.5}  # fmt: skip
    config = _config(corpus_root)
    config["local"] = {"optimizer": ADAM, "batch_size": 8, "lr_schedule": plateau}
    result = train_centralized(parse_config(config), epochs=3)
    assert [r["lr"] for r in result.history] == pytest.approx([1e-3, 1e-3, 5e-4])
    assert result.history[0]["val_input_si_sdr"] == result.history[2]["val_input_si_sdr"]


def test_a_plateau_monitor_missing_from_an_evaluated_round_warns_naming_the_key():
    from raysim.engine.lr_schedule import RoundLR
    from raysim.run_length import ScheduleWarning

    schedule = parse_config(
        {"local": {"lr_schedule": {"name": "plateau", "monitor": "eval_sisdri"}}}
    )
    lr = RoundLR(schedule.local.lr_schedule, 0.1, 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lr.end_round({"round": 1, "train_loss": 1.0})  # no evaluation this round: no word
    with pytest.warns(ScheduleWarning, match="local.lr_schedule.monitor: 'eval_sisdri'"):
        lr.end_round({"round": 2, "train_loss": 1.0, "eval_si_sdri": 2.0})
    assert lr.lr == 0.1


@pytest.fixture(scope="module")
def study(ray_session, corpus_root, tmp_path_factory):
    """Federated adam; centralized sgd and adam (one seed)."""
    from raysim.analysis.optimizer_study import load_study
    from raysim.sweep import parse_sweep, run_sweep
    from raysim.sweep.centralized import run_centralized_sweep

    root = tmp_path_factory.mktemp("study")
    sgd = {"optimizer": {"name": "sgd", "lr": 0.05}}
    fed = parse_sweep(_sweep(corpus_root, [{"optimizer": ADAM}]))
    run_sweep(fed, root / "federated", live=False)
    arms = [sgd, {"optimizer": ADAM}]
    central = run_centralized_sweep(parse_sweep(_sweep(corpus_root, arms)), root / "centralized")
    assert central.results.num_errors == 0
    return root, load_study(root / "federated", root / "centralized")


def test_both_engines_are_read_as_curves_per_round_and_epoch(study):
    _, study = study
    runs = study.runs
    assert study.metric == "si_sdri"
    assert sorted(study.engines) == ["centralized", "federated"]
    assert len(runs) == 3 and set(runs["steps"]) == {2} and study.unfinished == []
    assert set(runs["schedule"]) == {"none"} and set(runs["seed"]) == {0}
    central = runs[runs["engine"] == "centralized"]
    # the centralized trials' last result: the best epoch's score on the test share
    assert central["test"].map(math.isfinite).all()
    assert runs[runs["engine"] == "federated"]["test"].isna().all()
    assert sorted(central["optimizer"]) == ["adam lr=0.001", "sgd lr=0.05"]
    assert runs["clip"].isna().all()
    curves = study.curves
    assert len(curves) == 6 and curves["train_loss"].map(math.isfinite).all()
    # the final score is the last step's
    last = curves.sort_values("step").groupby("trial_id")["score"].last()
    assert dict(zip(study.runs["trial_id"], study.runs["final"], strict=True)) == last.to_dict()


def test_findings_and_report_with_its_three_figures(study):
    from raysim.analysis.optimizer_study import TIE_DB, findings, write_study_report

    root, study = study
    found = {(f.engine, f.claim): f for f in findings(study)}
    best = found[("centralized", "adam is the best optimizer")]
    assert best.b == "best other (sgd lr=0.05)" and list(best.diffs) == [0]
    runs = study.runs[study.runs["engine"] == "centralized"]
    score = dict(zip(runs["optimizer"], runs["final"], strict=True))
    assert best.diffs[0] == pytest.approx(score["adam lr=0.001"] - score["sgd lr=0.05"])
    diff = best.diffs[0]
    assert best.verdict == ("no difference" if abs(diff) < TIE_DB else
                            "holds" if diff > 0 else "reversed")  # fmt: skip
    # one federated optimizer, no schedule or clipping arm: not measured, and said so
    assert {f.verdict for (engine, _), f in found.items() if engine == "federated"} == {
        "not measured"
    }
    assert found[("centralized", "clipping helps")].verdict == "not measured"
    report = write_study_report(study, root / "report")
    text = report.read_text()
    for name in ("optimizer_loss.png", "schedule_val.png", "clipping_val.png"):
        assert (root / "report" / name).stat().st_size > 5000
        assert f"]({name})" in text
    assert "adam is the best optimizer" in text and "sgd lr=0.05" in text
