"""The round record: one type from the aggregator's dict to a sweep trial's Tune result."""

from __future__ import annotations

import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from raysim.round_record import RoundRecord
from raysim.sweep.live import LiveView
from raysim.sweep.trainable import TrialReport

# as the aggregator builds it (semi_ser values, an evaluation), keys in its order
FLAT = {
    "round": 4, "sampled": 6, "reporting": 4, "dropped": 1, "rejected": 0, "idle": 1,
    "lr": 0.05, "train_loss": 0.7, "bytes_down": 4000, "bytes_up": 4000,
    "pseudo_labels": 12.0, "pseudo_accuracy": 0.75, "eval_uar": 0.5, "eval_loss": 1.2,
    "wall_s": 0.25,
}  # fmt: skip
# what Tune adds to each result
TUNE = {"timestamp": 1, "done": False, "training_iteration": 4, "trial_id": "a_00000",
        "date": "2025", "pid": 9, "hostname": "h", "node_ip": "1.2.3.4", "config/seed": 0,
        "time_this_iter_s": 0.3, "should_checkpoint": True, "config": {"seed": 0}}  # fmt: skip


def test_the_flat_record_reads_back_unchanged_in_its_order():
    record = RoundRecord.from_dict(FLAT)
    assert (record.idle, record.task, record.eval) == (
        1, {"pseudo_labels": 12.0, "pseudo_accuracy": 0.75}, {"uar": 0.5, "loss": 1.2}
    )  # fmt: skip
    assert list(record.to_dict().items()) == list(FLAT.items())


def test_a_table_row_gets_the_fields_types_and_a_partial_one_is_refused():
    row = {**FLAT, "round": np.int64(4), "idle": 1.0, "train_loss": math.nan}
    record = RoundRecord.from_dict(row)
    assert type(record.round) is int and type(record.idle) is int
    assert RoundRecord.from_dict({**FLAT, "train_loss": None}).train_loss is None
    with pytest.raises(ValueError, match="no idle"):
        RoundRecord.from_dict({k: v for k, v in FLAT.items() if k != "idle"})


def test_task_values_may_not_take_the_records_own_keys():
    record = RoundRecord.from_dict(FLAT)
    for name in ("idle", "eval_uar"):
        with pytest.raises(ValueError, match="clash"):
            replace(record, task={name: 1.0})


def test_a_trial_report_carries_the_latest_evaluation_and_reads_back_from_tune():
    evaluated = RoundRecord.from_dict(FLAT)
    later = replace(evaluated, round=5, eval={})
    report = TrialReport(later, evaluated.eval, eval_round=4, node_id="n1")
    result = report.to_dict()
    assert (result["round"], result["eval_uar"], result["eval_round"]) == (5, 0.5, 4)
    back = TrialReport.from_dict({**result, **TUNE})
    assert back == report and back.record.eval == {}  # round 5 had no evaluation
    now = TrialReport(evaluated, evaluated.eval, eval_round=4, node_id="n1")
    assert TrialReport.from_dict({**now.to_dict(), **TUNE}).record == evaluated


def test_live_view_rows_before_and_after_the_first_report():
    view = LiveView("eval_uar", "max", rounds=10)
    trial = SimpleNamespace(trial_id="a_00000", status="PENDING", config={"seed": 0},
                            last_result={"trial_id": "a_00000"})  # fmt: skip
    assert view._row(trial)[2:5] == ["", "0/10", ""]
    report = TrialReport(RoundRecord.from_dict(FLAT), {"uar": 0.5}, 4, "0123456789ab")
    trial.status, trial.last_result = "RUNNING", {**report.to_dict(), **TUNE}
    assert view._row(trial)[2:5] == ["01234567", "4/10", "0.5"]


def test_a_trial_resumes_its_latest_evaluation_and_starts_with_only_the_metric_unknown():
    from raysim.sweep.trainable import _latest_eval

    saved = {"latest_eval": {"eval_uar": 0.5, "eval_loss": 1.0, "eval_round": 3}}
    assert _latest_eval(saved, "eval_uar") == ({"uar": 0.5, "loss": 1.0}, 3)
    (unknown, eval_round) = _latest_eval({}, "eval_uar")
    assert list(unknown) == ["uar"] and math.isnan(unknown["uar"]) and eval_round == 0
    # a metric outside the evaluation is the round's own: nothing stands in for it
    assert _latest_eval({}, "train_loss") == ({}, 0)
