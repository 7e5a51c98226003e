"""Semi-supervised federated SER (Semi-FedSER, Feng & Narayanan, Interspeech 2022) and
its baselines, over fixed-size feature vectors (data keys `x`, `y`, `group`).

Per client and round, `local_data`:
1. standardises the client's features with its own statistics (kept local: they
   never enter the tensors' metadata, the client state or the metrics);
2. draws the client's supervision mask from (seed, client id) — label rate and/or
   labelled-client fraction, l·n rounded stochastically or (``label_rounding: floor``,
   the authors' code) down — so it is the same in every round; masked labels never
   enter the training tensors (the true labels of unlabelled rows are only compared
   with pseudo-labels, to report their accuracy);
3. mode ``semi``: if the client trained before (its state records a round), scores
   its unlabelled, not yet pseudo-labelled rows with the round's global model on 10
   weak-SFA views and adds the selected pseudo-labels (threshold ramp, std bound,
   per-class cap) to those kept in its state (`ctx.state_updates`); with
   ``pseudo_label_refresh: rescore`` the kept ones are scored again in the same pass
   and each is dropped unless the rule (current threshold and std bound, without the
   cap) still gives it the same label — a dropped row is a candidate again next round;
   with ``pseudo_label_classes: labelled`` a new pseudo-label must be a class among the
   client's own labelled rows;
   mode ``fixmatch``: one weak view, every row over a fixed threshold, this round only;
   mode ``consistency``: every unlabelled row gets a target from the round's global
   model on the weak views (`raysim.ser.consistency`: hard or soft, thresholds,
   distribution alignment) and a weight λ_u(round) × its mask;
4. returns labelled rows (trained with weak SFA) and pseudo-labelled rows (strong
   SFA), pooled in one shuffled set, or with ``pseudo_label_batches: paired`` (the
   authors' code) the labelled rows alone set the steps and each labelled batch
   carries a batch of pseudo-labelled rows as an added loss term; the SFA noise is
   drawn per minibatch in `loss` from a generator seeded by the client's round
   generator, so results do not depend on the worker.

Server evaluation standardises the held-out data per speaker (each value of the
`group` array with its own statistics; the whole set at once if there is no
`group`), as a deployed model would standardise each new speaker locally.

Round metrics (summed over the cohort): `labelled`, `unlabelled`, `pseudo_labels`
(rows trained with a pseudo-label), `pseudo_correct` (of those, matching the true
label), `pseudo_new` and `pseudo_new_correct` (added this round), `pseudo_dropped`
(kept labels expired this round, mode ``rescore``), and
`pseudo_accuracy` = pseudo_correct / pseudo_labels.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from raysim.rng import Stream, stream
from raysim.ser.consistency import consistency_targets, ramp_weight
from raysim.ser.masks import supervision_mask
from raysim.ser.pseudo_labels import multiview_probs, ramp_threshold, select
from raysim.ser.sfa import sfa
from raysim.ser.standardize import standardize, standardize_by_group
from raysim.tasks.base import ClientContext, LocalData, PairedLocalData
from raysim.tasks.classification import (
    FeatureClassification,
    balanced_sample_weights,
    evaluate_features,
)
from raysim.tasks.semi_ser_params import SemiSERParams

#: client-state keys: pseudo-labelled rows, their labels, the last round trained
ROWS, LABELS, LAST_ROUND = "pl_rows", "pl_labels", "pl_last_round"


def _generator(ctx: ClientContext) -> torch.Generator:
    """A CPU generator seeded from the client's round generator."""
    return torch.Generator().manual_seed(int(ctx.rng.integers(2**62)))


def _scoring_generator(ctx: ClientContext) -> torch.Generator:
    """A CPU generator for pseudo-label scoring, seeded from (seed, round, client) apart
    from the round generator: scoring never shifts training's draws, so a semi run that
    makes no pseudo-label trains exactly as labelled-only (paired comparisons)."""
    seed = stream(ctx.seed, ctx.round, ctx.client_id, Stream.PSEUDO_LABEL_SCORING).integers(2**62)
    return torch.Generator().manual_seed(int(seed))


def _only(
    allowed: np.ndarray | None, rows: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The (rows, labels) whose label is in `allowed` (all if None)."""
    if allowed is None:
        return rows, labels
    keep = np.isin(labels, allowed)
    return rows[keep], labels[keep]


class SemiSER(FeatureClassification):
    """Semi-FedSER: multiview pseudo-labels, SFA, class-balanced loss, per-client standardisation.
    The model (MLP) and the metrics are the feature-classification task's."""

    params: SemiSERParams

    def standardize(self, x: np.ndarray) -> np.ndarray:
        """A client's features, standardised with its own statistics if configured."""
        return standardize(x) if self.params.standardize == "client" else np.array(x, np.float32)

    def label_mask(self, n: int, ctx: ClientContext) -> np.ndarray:
        """The client's rows whose labels training may use (stable across rounds)."""
        p = self.params
        if p.mode == "all_labelled":
            return np.ones(n, dtype=bool)
        return supervision_mask(
            n, p.label_rate, p.labelled_client_fraction, ctx.seed, ctx.client_id, p.label_rounding
        )

    def local_data(self, model, data, state, ctx: ClientContext) -> LocalData:
        p = self.params
        x = torch.from_numpy(self.standardize(data["x"]))
        labelled = self.label_mask(len(x), ctx)
        allowed = None
        if p.pseudo_label_classes == "labelled":
            allowed = np.unique(data["y"][labelled])
        pl_rows, pl_labels, n_new = self._pseudo_labels(model, x, labelled, state, ctx, allowed)
        lab_rows = np.flatnonzero(labelled)
        if p.mode == "consistency":
            return self._consistency(model, x, data["y"], lab_rows, allowed, ctx)
        if p.pseudo_label_batches == "paired":
            local = self._paired(x, data["y"], lab_rows, pl_rows, pl_labels, ctx)
        else:
            local = self._pooled(x, data["y"], lab_rows, pl_rows, pl_labels)
        ctx.add_metric("labelled", len(lab_rows))
        ctx.add_metric("unlabelled", len(x) - len(lab_rows))
        ctx.add_metric("pseudo_labels", len(pl_rows))
        correct = data["y"][pl_rows] == pl_labels  # reporting only: never trained on
        ctx.add_metric("pseudo_correct", int(correct.sum()))
        ctx.add_metric("pseudo_new", n_new)
        ctx.add_metric("pseudo_new_correct", int(correct[len(pl_rows) - n_new :].sum()))
        return local

    def _rows(self, x: torch.Tensor, rows: np.ndarray, labels: np.ndarray, sigma: float):
        """Training tensors of `rows` with `labels` and SFA strength `sigma`."""
        return {
            "x": x[torch.from_numpy(rows)],
            "y": torch.from_numpy(labels.astype(np.int64)),
            "sigma": torch.full((len(rows), 1), sigma, dtype=torch.float32),
        }

    def _pooled(self, x, y, lab_rows, pl_rows, pl_labels) -> LocalData:
        """Labelled (weak SFA) and pseudo-labelled rows (strong SFA) in one set, with
        per-row class-balanced weights from the labels of both."""
        p = self.params
        lab = self._rows(x, lab_rows, y[lab_rows], p.sfa_weak_sigma)
        pl = self._rows(x, pl_rows, pl_labels, p.sfa_strong_sigma)
        tensors = {k: torch.cat([lab[k], pl[k]]) for k in lab}
        if p.class_balanced:
            tensors["w"] = balanced_sample_weights(tensors["y"], self.num_classes)
        return LocalData(tensors)

    def _paired(self, x, y, lab_rows, pl_rows, pl_labels, ctx: ClientContext) -> LocalData:
        """The authors' structure: labelled rows set the steps; pseudo-labelled rows, in
        an order of their own random stream (labelled-only draws stay unchanged), ride
        along; class weights from the labelled rows only, a class without labelled
        rows weighted as the rarest labelled one (rows `cw`, one per class)."""
        p = self.params
        lab = self._rows(x, lab_rows, y[lab_rows], p.sfa_weak_sigma)
        order = stream(ctx.seed, ctx.round, ctx.client_id, Stream.PSEUDO_LABEL_PAIRING)
        perm = order.permutation(len(pl_rows))
        pl = self._rows(x, pl_rows[perm], pl_labels[perm], p.sfa_strong_sigma)
        if p.class_balanced:
            counts = torch.bincount(lab["y"], minlength=self.num_classes).float()
            if len(lab["y"]):
                counts[counts == 0] = counts[counts > 0].min()
            weights = 1.0 / counts.clamp(min=1)
            weights = weights / weights.sum() * self.num_classes
            lab["cw"] = weights.expand(len(lab["y"]), -1)
        return PairedLocalData(lab, pl)

    def _consistency(self, model, x, y, lab_rows, allowed, ctx: ClientContext) -> LocalData:
        """Labelled rows as labelled_only trains them, each batch paired with μ·b
        unlabelled rows (in an order of their own stream) whose targets and weights
        come from the round's global model (the teacher, on `views` weak views, T = 1)."""
        p = self.params
        lab = self._pooled(x, y, lab_rows, np.zeros(0, np.int64), np.zeros(0, np.int64))
        rows = np.setdiff1d(np.arange(len(x)), lab_rows)
        order = stream(ctx.seed, ctx.round, ctx.client_id, Stream.PSEUDO_LABEL_PAIRING)
        rows = rows[order.permutation(len(rows))]
        ctx.add_metric("labelled", len(lab_rows))
        ctx.add_metric("unlabelled", len(rows))
        if len(rows) == 0:
            return PairedLocalData(lab.tensors, {}, p.consistency_ratio)
        teacher = self._probs(model, x[torch.from_numpy(rows)], p.views, 1.0, ctx).mean(0)
        k = self.num_classes
        alignment = None
        if p.consistency_alignment == "uniform":
            alignment = torch.full((k,), 1.0 / k)
        elif p.consistency_alignment == "labelled":
            counts = np.bincount(y[lab_rows], minlength=k) + 1.0  # +1: a class seen 0 times
            alignment = torch.from_numpy(counts / counts.sum())
        targets = consistency_targets(
            teacher,
            target=p.consistency_target,
            threshold=p.consistency_threshold,
            threshold_rule=p.consistency_threshold_rule,
            alignment=alignment,
            sharpen_temperature=p.consistency_sharpen,
            allowed=None if allowed is None else torch.from_numpy(np.isin(np.arange(k), allowed)),
        )
        used = targets.mask.numpy() > 0
        right = int((targets.labels.numpy()[used] == y[rows][used]).sum())  # reporting only
        ctx.add_metric("pseudo_labels", used.sum())
        ctx.add_metric("pseudo_new", used.sum())  # made afresh every round
        ctx.add_metric("pseudo_correct", right)
        ctx.add_metric("pseudo_new_correct", right)
        weight = ramp_weight(ctx.round, p.consistency_weight, p.consistency_weight_ramp_rounds)
        if weight == 0:  # no unlabelled forward pass: dropout draws stay labelled_only's
            return PairedLocalData(lab.tensors, {}, p.consistency_ratio)
        if p.pseudo_label_batches == "pooled":
            return self._pooled_targets(x, y, lab_rows, rows[used], targets.probs[used], weight)
        aux = {
            "x": x[torch.from_numpy(rows)],
            "p": targets.probs,
            "w": targets.mask * weight,
            "sigma": torch.full((len(rows), 1), p.sfa_strong_sigma, dtype=torch.float32),
        }
        return PairedLocalData(lab.tensors, aux, p.consistency_ratio)

    def _pooled_targets(self, x, y, lab_rows, rows, probs, weight: float) -> LocalData:
        """Labelled rows (one-hot targets, weak SFA) and the unlabelled rows that passed
        (their targets, strong SFA, × λ_u) in one shuffled set: they add steps. Class-
        balanced weights count every row by its target's argmax."""
        p = self.params
        k = self.num_classes
        one_hot = F.one_hot(torch.from_numpy(y[lab_rows].astype(np.int64)), k).float()
        targets = torch.cat([one_hot, probs])
        w = torch.cat([torch.ones(len(lab_rows)), torch.full((len(rows),), weight)])
        if p.class_balanced:
            w = w * balanced_sample_weights(targets.argmax(1), k)
        sigma = [p.sfa_weak_sigma] * len(lab_rows) + [p.sfa_strong_sigma] * len(rows)
        return LocalData(
            {
                "x": x[torch.from_numpy(np.concatenate([lab_rows, rows]))],
                "p": targets,
                "w": w,
                "sigma": torch.tensor(sigma, dtype=torch.float32)[:, None],
            }
        )

    def _pseudo_labels(
        self,
        model: nn.Module,
        x: torch.Tensor,
        labelled: np.ndarray,
        state: dict[str, np.ndarray] | None,
        ctx: ClientContext,
        allowed: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """(rows, labels, how many are new) of this round's pseudo-labelled rows; the
        new ones come last. `allowed`: the classes a new pseudo-label may take (None:
        any); the cap is per class, so dropping other classes leaves it intact."""
        p = self.params
        empty = np.zeros(0, np.int64)
        if p.mode == "fixmatch":
            candidates = np.flatnonzero(~labelled)
            if len(candidates) == 0:
                return empty, empty, 0
            sel = select(self._probs(model, x[candidates], 1, 1.0, ctx), p.fixmatch_threshold)
            sel_rows, sel_labels = _only(allowed, candidates[sel.rows], sel.labels)
            return sel_rows, sel_labels, len(sel_rows)
        if p.mode != "semi":
            return empty, empty, 0
        state = state or {}
        rows, labels = state.get(ROWS, empty), state.get(LABELS, empty)
        new_rows, new_labels = empty, empty
        candidates = np.setdiff1d(np.flatnonzero(~labelled), rows)
        rescore = p.pseudo_label_refresh == "rescore"
        scored = np.concatenate([rows, candidates]) if rescore else candidates
        n_dropped = 0
        if LAST_ROUND in state and len(scored):
            probs = self._probs(model, x[scored], p.views, p.temperature, ctx)
            tau = ramp_threshold(
                ctx.round, p.threshold_start, p.threshold_end, p.threshold_ramp_rounds
            )
            if rescore:  # a kept label survives only if the rule still picks it now
                still = select(probs[:, : len(rows)], tau, p.std_bound)
                keep = still.rows[still.labels == labels[still.rows]]
                n_dropped = len(rows) - len(keep)
                probs = probs[:, len(rows) :]
                rows, labels = rows[keep], labels[keep]
            if len(candidates):
                sel = select(probs, tau, p.std_bound, p.per_class_cap)
                new_rows, new_labels = _only(allowed, candidates[sel.rows], sel.labels)
        ctx.add_metric("pseudo_dropped", n_dropped)
        rows, labels = np.concatenate([rows, new_rows]), np.concatenate([labels, new_labels])
        ctx.state_updates.update(
            {ROWS: rows, LABELS: labels, LAST_ROUND: np.array([ctx.round], np.int64)}
        )
        return rows, labels, len(new_rows)

    def _probs(
        self, model: nn.Module, x: torch.Tensor, views: int, temperature: float, ctx
    ) -> torch.Tensor:
        """(views, N, K) tempered probabilities of the global model on weak-SFA views."""
        p = self.params
        gen = _scoring_generator(ctx)
        return multiview_probs(
            model, x, views, temperature, p.sfa_weak_sigma, p.sfa_noise_sigma, gen
        )

    def loss(self, model, batch, ctx):
        if self.params.mode != "consistency" and self.params.pseudo_label_batches == "paired":
            return self._paired_loss(model, batch, ctx)
        gen = _generator(ctx)
        x = sfa(batch["x"], batch["sigma"], self.params.sfa_noise_sigma, gen)
        if "p" in batch:  # target distributions (consistency, pooled)
            per_sample = -(batch["p"] * F.log_softmax(model(x), dim=1)).sum(1)
        else:
            per_sample = F.cross_entropy(model(x), batch["y"], reduction="none")
        if "w" in batch:
            per_sample = per_sample * batch["w"]
        loss = per_sample.mean()
        if "aux_x" in batch:  # consistency: drawn after the labelled noise, which stays put
            x_u = sfa(batch["aux_x"], batch["aux_sigma"], self.params.sfa_noise_sigma, gen)
            log_probs = F.log_softmax(model(x_u), dim=1)
            loss = loss - (batch["aux_w"] * (batch["aux_p"] * log_probs).sum(1)).mean()
        return loss

    def _paired_loss(self, model, batch, ctx):
        """Class-weighted mean cross-entropy of the labelled batch plus that of the
        pseudo-labelled rows riding along × their share of a batch (the authors' code:
        NLLLoss with class weights, the second term × n/16)."""
        gen, noise = _generator(ctx), self.params.sfa_noise_sigma
        weight = batch["cw"][0] if "cw" in batch else None
        x = sfa(batch["x"], batch["sigma"], noise, gen)
        loss = F.cross_entropy(model(x), batch["y"], weight=weight)
        if "aux_x" in batch:
            x_pl = sfa(batch["aux_x"], batch["aux_sigma"], noise, gen)
            pl_loss = F.cross_entropy(model(x_pl), batch["aux_y"], weight=weight)
            loss = loss + pl_loss * batch["aux_share"]
        return loss

    def evaluate(self, model, data) -> dict[str, float]:
        if self.params.standardize == "client" and "group" in data:
            x = standardize_by_group(data["x"], data["group"])
        else:
            x = self.standardize(data["x"])
        return evaluate_features(model, x, data["y"], self.num_classes)
