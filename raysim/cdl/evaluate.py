"""Scores of the CDL choices on every test mixture.

Per test mixture, each specialist's output is scored by SI-SDR against the clean speech
(SI-SDRi: minus the mixture's SI-SDR; torchmetrics via `raysim.se.metrics`). The
choices compared, as in the issue (#17):

(a) ``ae``: the moderator's pick (lowest reconstruction error); (b) ``oracle``: the
best specialist by SI-SDR against the clean speech; (c) ``random``: the mean over the
specialists; (d) ``worst``; (e) ``matched``: the specialist of the mixture's true
condition (undefined for a noise class no specialist saw); (f) ``classifier``: the
gating classifier's pick; (g) ``generalist``: one model of the same size on all clients.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from raysim.cdl.data import CDLData
from raysim.cdl.moderator import ConditionClassifier, SpeechAutoencoder, select_lowest

CHOICES = ("ae", "oracle", "random", "worst", "matched", "classifier", "generalist")
LABELS = {
    "ae": "(a) AE pick",
    "oracle": "(b) oracle",
    "random": "(c) random",
    "worst": "(d) worst",
    "matched": "(e) true condition",
    "classifier": "(f) classifier",
    "generalist": "(g) generalist",
}


@torch.no_grad()
def enhance(task_params: Any, info: dict, weights: np.ndarray, mixtures: np.ndarray) -> np.ndarray:
    """The model of `weights` (the SE task's, as evaluated there) on `mixtures` (n, T)."""
    from raysim.engine.flat import set_flat
    from raysim.se import PulseCNN
    from raysim.tasks.se import SpeechEnhancement

    task = SpeechEnhancement(task_params, info)
    model = task.build_model()
    set_flat(model, weights)
    model.eval()
    out = []
    for start in range(0, len(mixtures), 32):
        x = torch.as_tensor(mixtures[start : start + 32])
        if isinstance(model, PulseCNN):
            out.append(model.enhance(x, soft=task_params.eval.soft_mask))
        else:
            out.append(task.separate(model, x)[:, 0])
    return torch.cat(out).numpy()


def si_sdr_db(est: np.ndarray, ref: np.ndarray) -> np.ndarray:
    from raysim.se.metrics import si_sdr

    return si_sdr(torch.as_tensor(est), torch.as_tensor(ref)).double().numpy()


def stoi_scores(est: np.ndarray, ref: np.ndarray, rate: int) -> np.ndarray:
    from raysim.se.metrics import stoi

    return stoi(torch.as_tensor(est), torch.as_tensor(ref), rate).double().numpy()


def _mean(values: np.ndarray) -> float:
    """Mean over the defined values; NaN if none is (e.g. (e) on unseen noise)."""
    ok = ~np.isnan(values)
    return float(values[ok].mean()) if ok.any() else float("nan")


@dataclass
class Scores:
    """Per test mixture: SI-SDRi of every specialist and of the generalist, and the picks."""

    sdri: np.ndarray  # (n, K) specialists
    generalist: np.ndarray | None  # (n,)
    ae_pick: np.ndarray  # (n,)
    ae_errors: np.ndarray  # (n, K)
    classifier_pick: np.ndarray  # (n,)
    condition: np.ndarray  # (n,) -1 where no specialist matches
    seen: np.ndarray  # (n,) bool
    test_class: np.ndarray
    stoi: np.ndarray | None = None  # (n, K + 1): specialists then generalist
    input_stoi: np.ndarray | None = None

    def choice(self, name: str, values: np.ndarray | None = None) -> np.ndarray:
        """(n,) value of choice `name` of the per-specialist `values` (default SI-SDRi);
        the generalist takes its own column when `values` has K + 1."""
        v = self.sdri if values is None else values
        k = self.sdri.shape[1]
        rows = np.arange(len(v))
        if name == "ae":
            return v[rows, self.ae_pick]
        if name == "oracle":
            return v[rows, np.argmax(self.sdri, 1)]
        if name == "random":
            return v[:, :k].mean(1)
        if name == "worst":
            return v[rows, np.argmin(self.sdri, 1)]
        if name == "matched":
            out = np.full(len(v), np.nan)
            ok = self.condition >= 0
            out[ok] = v[rows[ok], self.condition[ok]]
            return out
        if name == "classifier":
            return v[rows, self.classifier_pick]
        if name == "generalist":
            if values is None:
                return self.generalist if self.generalist is not None else np.full(len(v), np.nan)
            return v[:, k] if v.shape[1] > k else np.full(len(v), np.nan)
        raise KeyError(name)

    def summary(self, which: np.ndarray) -> dict[str, float]:
        """Means over the mixtures `which` (bool) of each choice, and the accuracies."""
        out: dict[str, float] = {"n": float(which.sum())}
        if not which.any():
            return out
        for name in CHOICES:
            out[f"sdri_{name}"] = _mean(self.choice(name)[which])
        if self.stoi is not None:
            for name in CHOICES:
                out[f"stoi_{name}"] = _mean(self.choice(name, self.stoi)[which])
            out["stoi_input"] = _mean(self.input_stoi[which])
        oracle = np.argmax(self.sdri, 1)
        out["ae_acc_oracle"] = float(np.mean(self.ae_pick[which] == oracle[which]))
        out["clf_acc_oracle"] = float(np.mean(self.classifier_pick[which] == oracle[which]))
        has = which & (self.condition >= 0)
        if has.any():
            cond = self.condition[has]
            out["ae_acc_condition"] = float(np.mean(self.ae_pick[has] == cond))
            out["clf_acc_condition"] = float(np.mean(self.classifier_pick[has] == cond))
        return out


def score_bank(
    data: CDLData,
    task_params: Any,
    specialists: list[np.ndarray],
    generalist: np.ndarray | None,
    ae: SpeechAutoencoder,
    classifier: ConditionClassifier,
    *,
    with_stoi: bool = False,
) -> Scores:
    """Every specialist (and the generalist) on every test mixture, and the picks."""
    info = data.train.info
    mix, clean = data.test["mixture"], data.test["speech"]
    base = si_sdr_db(mix, clean)
    outputs = [enhance(task_params, info, w, mix) for w in specialists]
    sdri = np.stack([si_sdr_db(o, clean) - base for o in outputs], 1)
    errors = np.stack([ae.errors(o) for o in outputs], 1)
    gen_out = enhance(task_params, info, generalist, mix) if generalist is not None else None
    gen = si_sdr_db(gen_out, clean) - base if gen_out is not None else None
    scores = Scores(
        sdri=sdri,
        generalist=gen,
        ae_pick=select_lowest(errors),
        ae_errors=errors,
        classifier_pick=classifier.predict(mix),
        condition=data.test_condition,
        seen=data.test_seen,
        test_class=data.test_class,
    )
    if with_stoi:
        cols = outputs + ([gen_out] if gen_out is not None else [])
        scores.stoi = np.stack([stoi_scores(o, clean, data.sample_rate) for o in cols], 1)
        scores.input_stoi = stoi_scores(mix, clean, data.sample_rate)
    return scores
