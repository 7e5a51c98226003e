"""Federated speech enhancement: one task, a loss per client kind.

A client's rows carry their kind (``kind`` array of the `se_mixtures` source:
0 supervised, 1 unsupervised, 2 PU), so one federation can mix supervised
FedEnhance clients, unsupervised MixIT clients and PULSE's PU clients; the
engine's single training loop calls `loss`, which splits a minibatch by kind and
applies each kind's objective (`SEParams.objectives`).

Models are seen through two views, so every objective runs on every model:

* waveform view (B, J, T): a separator's output slots (slot 0 = speech); for a
  mask model (PULSE's CNN) [σ(−z) ⊙ X, residual] brought back by the inverse STFT;
* mask view, logits z and |X| over STFT bins (z > 0 = noise): the mask model's
  own output; for a separator the ratio logit z = log|N̂| − log|Ŝ| of its speech
  slot ŝ and the residual x − ŝ (Hamming STFT, `SEParams.stft`).

Roles of the data (FedEnhance, Tzinis et al. 2021; PULSE, Ito & Sugiyama 2023):
x₁ = ``mixture`` (noisy speech), x₂ = ``noise_clip`` (extra noise; PU's positive
example), s = ``speech``, n = ``noise``. Without ``noise_clip`` (the W2 file) a
client's mixtures pair in stored order into mixtures of mixtures (0+1, 2+3, ...).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from raysim.data.se_sources import KIND_NAMES, PU, SUPERVISED, UNSUPERVISED
from raysim.metric_counts import DEFINED_SUFFIX, N_ITEMS
from raysim.se import (
    PulseCNN,
    build_se_model,
    enhancement_scores,
    fedenhance_mixit_loss,
    mixit_loss,
    neg_si_sdr,
    neg_si_snr,
    nnpu_loss,
    pn_loss,
    snr_max_loss,
    supervised_fedenhance_loss,
)
from raysim.se.metrics import UNDEFINABLE, needs_torchmetrics, select_slot, unchanged
from raysim.tasks.base import ClientContext, LocalData, Task
from raysim.tasks.se_params import SEParams

PAIR_LOSSES = {"snr_max": snr_max_loss, "neg_si_snr": neg_si_snr}
_THREE_SLOTS = {"fedenhance", "mixit"}  # FedEnhance's objectives: slots speech, noise, noise
_LOG_EPS = 1e-8
DELTA_METRICS = ("sdr", "pesq", "stoi")
"""Metrics reported with the input's score and the gain over it (`<name>_delta`)."""
DELTA_SUFFIX = "_delta"
UNCHANGED = "unchanged_frac"

Batch = dict[str, torch.Tensor]
log = logging.getLogger(__name__)


def _tensor(array: np.ndarray, device: torch.device | None = None) -> torch.Tensor:
    return torch.tensor(np.asarray(array, dtype=np.float32), device=device)


class SpeechEnhancement(Task):
    """Speech enhancement / separation with per-kind objectives (see module doc)."""

    params: SEParams

    def __init__(self, params: SEParams, info):
        super().__init__(params, info)
        self.sample_rate = int(info.get("sample_rate", 16000))
        self.kinds_present = set(info.get("client_kinds", [KIND_NAMES[UNSUPERVISED]]))
        self._input_cache: tuple[tuple[int, int], dict[str, torch.Tensor]] | None = None
        self._objectives: dict[int, Callable[[nn.Module, Batch, ClientContext], torch.Tensor]] = {
            SUPERVISED: self._supervised,
            UNSUPERVISED: self._unsupervised,
            PU: self._pu,
        }

    # -- model and its two views --------------------------------------------------
    def build_model(self) -> nn.Module:
        p = self.params
        model = build_se_model(p.model)
        for kind in sorted(self.kinds_present):
            objective = getattr(p.objectives, kind)
            slots = getattr(model, "n_src", None)
            if objective in _THREE_SLOTS and slots != 3:
                raise ValueError(
                    f"task.objectives.{kind}={objective!r} needs a separator with 3 output "
                    f"slots (speech, noise, noise); task.model {p.model.name!r} has "
                    f"{slots or 'none'}"
                )
            if objective == "mixit_general" and slots is None:
                raise ValueError(f"task.objectives.{kind}='mixit_general' needs a separator")
        return model

    def separate(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Waveform view (B, J, T) of the model on input `x` (B, T); slot 0 = speech."""
        if isinstance(model, PulseCNN):
            spec, _, z = model.analyse(x)
            speech = model.istft(spec * torch.sigmoid(-z), x.shape[-1])
            return torch.stack([speech, x - speech], 1)
        if not self.params.standardize:
            return model(x)
        mean = x.mean(-1, keepdim=True)
        std = x.std(-1, keepdim=True) + 1e-8
        est = model((x - mean) / std)
        return est * std.unsqueeze(1) + mean.unsqueeze(1) / est.shape[1]

    def _stft(self, x: torch.Tensor) -> torch.Tensor:
        n_fft, hop = self.params.stft.n_fft, self.params.stft.hop
        window = torch.hamming_window(n_fft, device=x.device, dtype=x.dtype)
        return torch.stft(x, n_fft, hop, window=window, return_complex=True)

    def magnitude(self, model: nn.Module, wave: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """|STFT| of `wave` in the mask view of input `like` (scaled as the model scales
        `like`: the PN target is clean speech at its mixture's input level)."""
        if isinstance(model, PulseCNN):
            return model.stft(wave).abs() * model.input_gain(like).unsqueeze(-1)
        return self._stft(wave).abs()

    def logits(
        self, model: nn.Module, x: torch.Tensor, like: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask view: per-bin noise logits z (z > 0 = noise) and |X| of input `x`, at the
        model's input level for the items of `like` (default `x`; PULSE's CNN sees and
        weights unit-variance items)."""
        if isinstance(model, PulseCNN):
            _, mag, z = model.analyse(x, like)
            return z, mag
        spec = self._stft(x)
        speech = self._stft(self.separate(model, x)[:, 0])
        z = torch.log((spec - speech).abs() + _LOG_EPS) - torch.log(speech.abs() + _LOG_EPS)
        return z, spec.abs()

    # -- local data and losses ------------------------------------------------------
    def local_data(self, model, data, state, ctx: ClientContext) -> LocalData:
        x1 = data["mixture"]
        if "noise_clip" in data:
            x2 = data["noise_clip"]
        else:  # mixtures only: MoMs of consecutive mixtures, an odd last one is left out
            half = len(x1) // 2
            x1, x2 = x1[0 : 2 * half : 2], x1[1 : 2 * half : 2]
        kind = data["kind"] if "kind" in data else np.full(len(x1), UNSUPERVISED)
        tensors = {
            "mixture": _tensor(x1),
            "mixture2": _tensor(x2),
            "kind": torch.tensor(np.asarray(kind, dtype=np.int64)),
        }
        if "speech" in data and (tensors["kind"] == SUPERVISED).any():
            tensors["speech"], tensors["noise"] = _tensor(data["speech"]), _tensor(data["noise"])
        return LocalData(tensors)

    def loss(self, model, batch: Batch, ctx: ClientContext) -> torch.Tensor:
        """Mean over the batch of each row's kind objective (one pass per kind present)."""
        kinds = batch["kind"]
        present = torch.unique(kinds).tolist()
        total = torch.zeros((), device=kinds.device)
        for kind in present:
            sub = batch if len(present) == 1 else {k: v[kinds == kind] for k, v in batch.items()}
            n = len(sub["kind"])
            value = self._objectives[kind](model, sub, ctx)
            name = KIND_NAMES[kind]
            ctx.add_metric(f"loss_sum_{name}", float(value.detach()) * n)
            ctx.add_metric(f"rows_{name}", n)
            total = total + value * (n / len(kinds))
        return total

    def _supervised(self, model, b: Batch, ctx: ClientContext) -> torch.Tensor:
        objective = self.params.objectives.supervised
        if objective == "fedenhance":
            est = self.separate(model, b["mixture"] + b["mixture2"])
            noises = torch.stack([b["noise"], b["mixture2"]], 1)
            return supervised_fedenhance_loss(est, b["speech"], noises)
        if objective == "neg_si_sdr":
            return neg_si_sdr(self.separate(model, b["mixture"])[:, 0], b["speech"]).mean()
        z, mag = self.logits(model, b["mixture"])
        return pn_loss(z, mag, self.magnitude(model, b["speech"], like=b["mixture"]))

    def _unsupervised(self, model, b: Batch, ctx: ClientContext) -> torch.Tensor:
        x1, x2 = b["mixture"], b["mixture2"]
        est = self.separate(model, x1 + x2)
        if self.params.objectives.unsupervised == "mixit":
            return fedenhance_mixit_loss(est, x1, x2)
        pair_loss = PAIR_LOSSES[self.params.mixit.pair_loss]
        return mixit_loss(est, torch.stack([x1, x2], 1), pair_loss)

    def _pu(self, model, b: Batch, ctx: ClientContext) -> torch.Tensor:
        n = len(b["mixture"])
        waves = torch.cat([b["mixture"], b["mixture2"]])
        # each clip at the level of its noisy recording
        z, mag = self.logits(model, waves, like=torch.cat([b["mixture"], b["mixture"]]))
        positive = torch.arange(2 * n, device=z.device) >= n  # the noise-only clips
        risk = nnpu_loss(z, mag, positive, **self.params.nnpu.model_dump())
        ctx.add_metric("pu_gamma_steps", float(risk.branch == "gamma"))
        ctx.add_metric("pu_steps", 1.0)
        return risk.loss

    # -- evaluation -------------------------------------------------------------------
    def preload_evaluation(self) -> None:
        if needs_torchmetrics(self.params.eval.metrics):  # input_* share their families
            import torchmetrics.functional.audio  # noqa: F401

    def _input_metrics(self) -> list[str]:
        """Scores of the unprocessed input reported beside the model's (`input_<name>`):
        SI-SDR and/or SI-SNR, whichever family the evaluation uses, and every asked
        metric that is not an improvement (SDR, PESQ, STOI), whose gain is reported as
        `<name>_delta`."""
        asked = set(self.params.eval.metrics)
        family = [m for m in ("si_sdr", "si_snr") if asked & {m, f"{m}i"}]
        return family + [m for m in DELTA_METRICS if m in asked]

    def _input_scores(self, data, device) -> dict[str, torch.Tensor]:
        """Per-item scores of the unprocessed held-out input, computed once per data set
        (the input does not change between rounds; PESQ and STOI are slow)."""
        key = (id(data["mixture"]), len(data["mixture"]))
        if self._input_cache is None or self._input_cache[0] != key:
            bs, parts = self.params.eval.batch_size, {}
            for start in range(0, len(data["mixture"]), bs):
                x = _tensor(data["mixture"][start : start + bs], device)
                ref = _tensor(data["speech"][start : start + bs], device)
                scores = enhancement_scores(x, ref, x, self.sample_rate, self._input_metrics())
                for k, v in scores.items():
                    parts.setdefault(k, []).append(v)
            self._input_cache = (key, {k: torch.cat(v) for k, v in parts.items()})
        return self._input_cache[1]

    @torch.no_grad()
    def evaluate(self, model, data) -> dict[str, float]:
        """Means over the held-out mixtures of `eval.metrics` (SI-SDRi first), the
        unprocessed input's scores (`input_si_sdr`, `input_stoi`, ... see
        `_input_metrics`) and the model's gain over it on SDR, PESQ and STOI
        (`stoi_delta`, ... over the items both are defined for). A metric undefined for
        some mixtures (e.g. PESQ on a clip under 0.25 s) is averaged over the rest, with
        a warning naming how many were left out, and reported with its count of defined
        mixtures out of `n_items` (:mod:`raysim.metric_counts`). `unchanged_frac` is the
        share of mixtures the model returned unchanged (within −60 dB), with a warning:
        a mask model that keeps every bin, as a collapsed PU model does."""
        p = self.params.eval
        model.eval()
        items: dict[str, list[torch.Tensor]] = {}
        n = len(data["mixture"])
        device = next(model.parameters()).device  # a worker's model may sit on its GPU
        try:
            for start in range(0, n, p.batch_size):
                x = _tensor(data["mixture"][start : start + p.batch_size], device)
                ref = _tensor(data["speech"][start : start + p.batch_size], device)
                if isinstance(model, PulseCNN):
                    est = model.enhance(x, soft=p.soft_mask)
                else:
                    est = self.separate(model, x)
                scores = enhancement_scores(est, ref, x, self.sample_rate, p.metrics, p.slot)
                scores[UNCHANGED] = unchanged(select_slot(est, ref, p.slot), x).float().cpu()
                for k, v in scores.items():
                    items.setdefault(k, []).append(v)
        finally:
            model.train()
        values = {k: torch.cat(parts) for k, parts in items.items()}
        for k, v in self._input_scores(data, device).items():
            values[f"input_{k}"] = v
            if k in DELTA_METRICS:
                values[f"{k}{DELTA_SUFFIX}"] = values[k] - v  # NaN where either is
        n_unchanged = int(values[UNCHANGED].sum())
        if n_unchanged:
            log.warning(
                "the model returned its input unchanged for %d of %d held-out mixtures "
                "(a mask of all ones: no bin is suppressed)",
                n_unchanged,
                n,
            )
        out: dict[str, float] = {N_ITEMS: float(n)}
        for k, v in values.items():
            undefined = int(torch.isnan(v).sum())
            if undefined and not k.endswith(DELTA_SUFFIX):  # a delta's NaNs are its parts'
                log.warning("%s undefined for %d of %d mixtures; averaged over the rest",
                            k, undefined, n)  # fmt: skip
            out[k] = float(torch.nanmean(v))
            if k.removeprefix("input_") in UNDEFINABLE:
                out[f"{k}{DEFINED_SUFFIX}"] = float(n - undefined)
        return out
