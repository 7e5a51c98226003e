"""scikit-learn baselines for feature tasks, from the same data config as the federation.

The classical SER references: an RBF SVM and a class-balanced logistic regression,
trained on every client's rows pooled (all labels) and scored on the data config's
held-out set, i.e. on held-out speakers when ``data.held_out`` is by groups; with
``data.held_out.folds`` the run is repeated on every fold (speaker-independent k-fold
CV) and the scores averaged. Features are standardised per speaker (group) when the
rows carry groups, as the SER task's ``standardize: client`` does at evaluation, else
with the training rows' statistics. Reports UAR (balanced accuracy), accuracy and
macro-F1. No torch, no Ray.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from raysim.centralized import fold_configs, pooled_rows
from raysim.config import SimulationConfig
from raysim.data.sources import build_source

Method = Literal["svm", "logreg"]
METHODS: tuple[str, ...] = ("svm", "logreg")


def make_model(method: Method, seed: int, *, c: float = 1.0) -> Any:
    """An unfitted estimator: RBF SVM or logistic regression, both class-balanced."""
    if method == "svm":
        from sklearn.svm import SVC

        return SVC(kernel="rbf", C=c, gamma="scale", class_weight="balanced", random_state=seed)
    if method == "logreg":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=seed)
    raise ValueError(f"unknown sklearn baseline {method!r} (one of {', '.join(METHODS)})")


def standardized(
    train: dict[str, np.ndarray], test: dict[str, np.ndarray], by_group: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Features of (train, test): per group (speaker) if `by_group` and both carry
    groups, else both with the training rows' mean and std."""
    if by_group and "group" in train and "group" in test:
        from raysim.ser.standardize import standardize_by_group

        return (standardize_by_group(train["x"], train["group"]),
                standardize_by_group(test["x"], test["group"]))  # fmt: skip
    mean, std = train["x"].mean(0), train["x"].std(0)
    std = np.where(std > 0, std, 1.0)
    return (train["x"] - mean) / std, (test["x"] - mean) / std


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """UAR (balanced accuracy: mean per-class recall), accuracy and macro-F1."""
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    return {
        "uar": float(balanced_accuracy_score(y_true, y_pred)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1": float(f1_score(y_true, y_pred, average="macro")),
    }


@dataclass
class BaselineResult:
    """One baseline on one held-out split."""

    method: str
    fold: int | None
    metrics: dict[str, float]
    n_train: int
    n_test: int


def run_baseline(
    config: SimulationConfig, method: Method, *, by_group: bool = True, c: float = 1.0
) -> BaselineResult:
    """Fit `method` on the pooled client rows of `config.data` (all labels) and score
    it on the held-out rows."""
    data = build_source(config.data, config.seed)
    train = pooled_rows(data.clients)
    if "x" not in train or "y" not in train:
        raise ValueError(f"sklearn baselines need feature rows (x, y); data has {sorted(train)}")
    x_train, x_test = standardized(train, data.eval_data, by_group)
    model = make_model(method, config.seed, c=c).fit(x_train, train["y"])
    held_out = getattr(config.data, "held_out", None)
    return BaselineResult(
        method=method,
        fold=getattr(held_out, "fold", None),
        metrics=scores(data.eval_data["y"], model.predict(x_test)),
        n_train=len(train["y"]),
        n_test=len(data.eval_data["y"]),
    )


def cross_validate(
    config: SimulationConfig,
    method: Method,
    *,
    folds: int | None = None,
    by_group: bool = True,
    c: float = 1.0,
    on_fold: Callable[[SimulationConfig, BaselineResult], None] | None = None,
) -> list[BaselineResult]:
    """`run_baseline` on every fold (`fold_configs`); `on_fold` sees each result."""
    out = []
    for fold_config in fold_configs(config, folds):
        result = run_baseline(fold_config, method, by_group=by_group, c=c)
        if on_fold is not None:
            on_fold(fold_config, result)
        out.append(result)
    return out


def mean_metrics(results: list[BaselineResult]) -> dict[str, float]:
    """Metrics averaged over folds (as CV results are reported)."""
    keys = results[0].metrics
    return {k: sum(r.metrics[k] for r in results) / len(results) for k in keys}
