"""Classification of fixed-size feature vectors with an MLP.

Metrics (torchmetrics): accuracy, UAR (unweighted average recall = macro
recall, the SER field's primary metric) and macro-F1.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from raysim.tasks.base import ClientContext, LocalData, Task
from raysim.tasks.classification_params import ClassificationParams


class MLP(nn.Sequential):
    """input → [Linear, ReLU, Dropout?]* → Linear(num_classes)."""

    def __init__(self, input_dim: int, hidden: list[int], num_classes: int, dropout: float = 0.0):
        layers: list[nn.Module] = []
        width = input_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, num_classes))
        super().__init__(*layers)


def balanced_sample_weights(y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Per-sample weights n / (K n_y) from the client's own label counts (class-balanced loss)."""
    counts = torch.bincount(y, minlength=num_classes).float()
    return (len(y) / (num_classes * counts.clamp(min=1)))[y]


def classification_metrics(
    logits: torch.Tensor, target: torch.Tensor, num_classes: int
) -> dict[str, float]:
    """accuracy, UAR (macro recall) and macro-F1."""
    # lazy: torchmetrics costs ~1 s to import and only the evaluating side needs it
    from torchmetrics.functional.classification import (
        multiclass_accuracy,
        multiclass_f1_score,
        multiclass_recall,
    )

    pred = logits.argmax(1)
    return {
        "accuracy": float(multiclass_accuracy(pred, target, num_classes, average="micro")),
        "uar": float(multiclass_recall(pred, target, num_classes, average="macro")),
        "f1": float(multiclass_f1_score(pred, target, num_classes, average="macro")),
    }


@torch.no_grad()
def evaluate_features(model: nn.Module, x: np.ndarray, y: np.ndarray, num_classes: int) -> dict:
    """accuracy, UAR, macro-F1 and cross-entropy of `model` on feature rows `x`."""
    model.eval()
    device = next(model.parameters()).device  # a worker's model may sit on its GPU
    xt = torch.tensor(x, dtype=torch.float32, device=device)
    yt = torch.tensor(y, dtype=torch.int64, device=device)
    logits = torch.cat([model(xt[i : i + 4096]) for i in range(0, len(xt), 4096)])
    out = classification_metrics(logits, yt, num_classes)
    out["loss"] = float(F.cross_entropy(logits, yt))
    model.train()
    return out


class FeatureClassification(Task):
    """Supervised classification of feature vectors; data keys `x` (float32) and `y` (int64)."""

    params: ClassificationParams

    def __init__(self, params: ClassificationParams, info):
        super().__init__(params, info)
        self.input_dim = int(info["input_dim"])
        self.num_classes = int(info["num_classes"])

    def build_model(self) -> nn.Module:
        p = self.params
        return MLP(self.input_dim, p.hidden, self.num_classes, p.dropout)

    def local_data(self, model, data, state, ctx: ClientContext) -> LocalData:
        x = torch.tensor(data["x"], dtype=torch.float32)
        y = torch.tensor(data["y"], dtype=torch.int64)
        tensors = {"x": x, "y": y}
        if self.params.class_balanced:
            tensors["w"] = balanced_sample_weights(y, self.num_classes)
        return LocalData(tensors)

    def loss(self, model, batch, ctx):
        if "w" not in batch:
            return F.cross_entropy(model(batch["x"]), batch["y"])
        per_sample = F.cross_entropy(model(batch["x"]), batch["y"], reduction="none")
        return (per_sample * batch["w"]).mean()

    def preload_evaluation(self) -> None:
        import torchmetrics.functional.classification  # noqa: F401

    def evaluate(self, model, data) -> dict[str, float]:
        return evaluate_features(model, data["x"], data["y"], self.num_classes)
