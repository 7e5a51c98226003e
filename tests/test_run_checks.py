"""Warnings about a run's output (`raysim.run_checks`): stuck evaluation metrics."""

from __future__ import annotations

import warnings

import pytest

from raysim.run_checks import RunWarning, StuckMetrics


def records(uars: list[float], every: int = 1) -> list[dict[str, float]]:
    """Flat round records with an evaluation every `every` rounds."""
    out = []
    for i, uar in enumerate(uars):
        rnd = (i + 1) * every
        out.append({"round": rnd, "train_loss": 1.0 / rnd, "eval_uar": uar, "eval_loss": 1 / rnd})
    return out


def test_metric_unchanged_for_patience_rounds_warns_once_naming_value_and_round():
    watch = StuckMetrics(patience=100)
    history = records([0.3, 0.4] + [0.25] * 150)  # at 0.25 from round 3
    with pytest.warns(RunWarning) as caught:
        for record in history:
            watch.update(record)
    assert len(caught) == 1 and watch.messages == [str(caught[0].message)]
    message = watch.messages[0]
    assert "eval_uar = 0.25 since round 3" in message and message.startswith("round 103:")
    assert "eval_loss" not in message  # it kept moving


def test_metric_that_moves_in_time_never_warns():
    watch = StuckMetrics(patience=100)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RunWarning)
        for record in records([0.25] * 99 + [0.3] * 99 + [float("nan")] * 150):
            watch.update(record)
    assert watch.messages == []


def test_patience_counts_rounds_not_evaluations_and_zero_turns_it_off():
    sparse = StuckMetrics(patience=100)
    with pytest.warns(RunWarning, match="since round 10"):
        for record in records([0.5] * 11, every=10):  # rounds 10..110
            sparse.update(record)
    off = StuckMetrics(patience=0)
    for record in records([0.5] * 300):
        off.update(record)
    assert off.messages == []


def test_scores_of_the_data_and_of_the_input_are_not_watched():
    watch = StuckMetrics(patience=10)
    constant = {"eval_n_items": 118.0, "eval_input_si_sdr": -0.03, "eval_stoi_defined": 56.0,
                "eval_unchanged_frac": 0.0}  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error", RunWarning)
        for rnd in range(1, 50):
            watch.update({"round": rnd, "eval_si_sdri": 0.1 * rnd, **constant})
    with pytest.warns(RunWarning, match="eval_si_sdri = 0 since round 50"):
        for rnd in range(50, 70):  # an identity mask: SI-SDRi exactly 0 from now on
            watch.update({"round": rnd, "eval_si_sdri": 0.0, **constant})
