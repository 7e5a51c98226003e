"""scikit-learn baselines (raysim.sklearn_baseline) on a tiny separable feature set."""

from __future__ import annotations

import pytest

from raysim.config import parse_config
from raysim.sklearn_baseline import cross_validate, mean_metrics, run_baseline

SEPARABLE = {
    "seed": 1,
    "data": {"source": "synthetic_features", "n_train": 300, "n_test": 150, "dim": 6,
             "num_classes": 3, "separation": 3.0},
    "task": {"name": "feature_classification"},
}  # fmt: skip


@pytest.mark.parametrize("method", ["svm", "logreg"])
def test_separable_features_give_a_high_uar(method):
    result = run_baseline(parse_config(SEPARABLE), method)
    assert (result.n_train, result.n_test) == (300, 150)
    assert result.metrics["uar"] > 0.9  # chance is 1/3
    assert set(result.metrics) == {"uar", "accuracy", "f1"}


def test_without_folds_one_run_is_the_mean():
    results = cross_validate(parse_config(SEPARABLE), "logreg")
    assert len(results) == 1
    assert mean_metrics(results) == results[0].metrics


def test_an_unknown_method_is_named():
    with pytest.raises(ValueError, match="'knn'"):
        run_baseline(parse_config(SEPARABLE), "knn")
