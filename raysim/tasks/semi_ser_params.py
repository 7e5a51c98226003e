"""Parameters of the semi-supervised SER task (validated on the driver, pydantic only).

Defaults are Semi-FedSER's (Feng & Narayanan, Interspeech 2022; docs METHODS.md).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from raysim.run_length import RoundSpan, span_rounds, warn_schedule
from raysim.tasks.params import TaskParams

PSEUDO_LABEL_MODES = ("semi", "fixmatch", "consistency")
"""The modes that train on pseudo-labels (a run of one that made none is labelled-only)."""


class SemiSERParams(TaskParams):
    """Semi-FedSER and its baselines over fixed-size feature vectors.

    Modes: ``semi`` (multiview pseudo-labels kept across rounds, or re-scored each
    round with ``pseudo_label_refresh: rescore``), ``labelled_only``
    (train on the labelled rows only), ``all_labelled`` (every label visible: the
    upper reference), ``fixmatch`` (single-view confidence threshold, recomputed
    each round, not kept, pooled with the labelled rows) and ``consistency`` (every
    unlabelled row in every step, its target from the round's global model: FixMatch,
    distribution alignment, FreeMatch thresholds or soft targets; see
    `raysim.ser.consistency`).
    """

    mode: Literal["semi", "labelled_only", "all_labelled", "fixmatch", "consistency"] = "semi"
    # model: MLP input-256-128-K, ReLU, dropout 0.2
    hidden: list[int] = Field(default_factory=lambda: [256, 128])
    dropout: float = Field(0.2, ge=0, lt=1)
    # supervision ratio, both meanings (seeded by (seed, client id), stable across rounds)
    label_rate: float = Field(0.2, ge=0, le=1, description="labelled fraction inside a client")
    labelled_client_fraction: float = Field(
        1.0, ge=0, le=1, description="fraction of clients that hold labels (p_supervised)"
    )
    label_rounding: Literal["stochastic", "floor"] = Field(
        "stochastic",
        description="labelled rows of a client of n: floor(l·n + u), u ~ U[0, 1) "
        "(stochastic: l·n in expectation), or floor(l·n) (the authors' code)",
    )
    standardize: Literal["client", "none"] = Field(
        "client", description="z-normalise with the client's own statistics (never sent)"
    )
    class_balanced: bool = Field(True, description="weight the loss by inverse class frequency")
    # stochastic feature augmentation x ⊙ ε₁ + ε₂
    sfa_weak_sigma: float = Field(0.1, ge=0, description="std of ε₁, weak views")
    sfa_strong_sigma: float = Field(0.25, ge=0, description="std of ε₁, pseudo-labelled rows")
    sfa_noise_sigma: float = Field(0.1, ge=0, description="std of ε₂")
    # multiview pseudo-labelling (mode semi)
    views: int = Field(10, ge=1)
    temperature: float = Field(2.0, gt=0)
    threshold_start: float = Field(0.5, ge=0, le=1)
    threshold_end: float = Field(0.9, ge=0, le=1)
    threshold_ramp_rounds: int = Field(300, ge=0, description="rounds of the linear ramp")
    threshold_ramp: RoundSpan | None = Field(
        None,
        description="the ramp in rounds or as a fraction of the run (0.6: 300 of 500); "
        "when set, it replaces threshold_ramp_rounds, which the config then sets from it",
    )
    std_bound: float = Field(0.005, gt=0, description="max std of the class prob across views")
    per_class_cap: int = Field(1, ge=1, description="new pseudo-labels per class, client, round")
    pseudo_label_refresh: Literal["keep", "rescore"] = Field(
        "keep",
        description="keep: a pseudo-label, once made, is kept for good (the paper's rule); "
        "rescore: kept ones are re-scored every round the client trains and expire when "
        "the rule (current threshold, std bound) no longer gives the same label",
    )
    pseudo_label_classes: Literal["any", "labelled"] = Field(
        "any",
        description="any: a pseudo-label may be any class (the paper's rule); labelled "
        "(beyond the paper): a client gives only classes it holds a labelled row of, so a "
        "class it has no evidence of (e.g. the one its Semi-FedSER partition lacks) is "
        "never assigned; uses only the client's own labels",
    )
    pseudo_label_batches: Literal["pooled", "paired"] = Field(
        "pooled",
        description="pooled: pseudo-labelled rows join the labelled ones in one shuffled "
        "set (more rows, more steps); paired: as the authors' code, each step's labelled "
        "batch carries a batch of pseudo-labelled rows whose loss is added × n/batch, and "
        "the class weights come from the labelled rows only (mode consistency: μ·b "
        "unlabelled rows ride along, weighted by their masks)",
    )
    # single-view variant (mode fixmatch)
    fixmatch_threshold: float = Field(0.95, ge=0, le=1)
    # consistency training (mode consistency; raysim.ser.consistency)
    consistency_target: Literal["hard", "soft"] = Field(
        "hard",
        description="hard: the teacher's argmax (FixMatch, Sohn et al. 2020); soft: its "
        "probabilities sharpened by consistency_sharpen (MixMatch/UDA)",
    )
    consistency_threshold: float = Field(
        0.95, ge=0, le=1, description="confidence a row's target needs to count (0: every row)"
    )
    consistency_threshold_rule: Literal["fixed", "self_adaptive"] = Field(
        "fixed",
        description="fixed: consistency_threshold for every class; self_adaptive "
        "(FreeMatch, Wang et al. ICLR 2023): the client's mean teacher confidence, scaled "
        "per class by the class's mean probability over its maximum",
    )
    consistency_alignment: Literal["none", "labelled", "uniform"] = Field(
        "none",
        description="distribution alignment (ReMixMatch, Berthelot et al. 2020): scale "
        "the teacher's probabilities by target / their mean over the client's unlabelled "
        "rows; target: the client's labelled class counts (+1 smoothing) or uniform",
    )
    consistency_sharpen: float = Field(
        0.5, gt=0, le=1, description="soft targets: p^(1/T) renormalised, T this value"
    )
    consistency_weight: float = Field(1.0, ge=0, description="λ_u of the unlabelled term")
    consistency_weight_ramp: RoundSpan | None = Field(
        None,
        description="λ_u ramps linearly from 0 over these rounds or this fraction of the "
        "run (mean teacher, Tarvainen & Valpola 2017); None: full weight from round 0",
    )
    consistency_weight_ramp_rounds: int = Field(
        0, ge=0, description="set from consistency_weight_ramp by the config (0: no ramp)"
    )
    consistency_ratio: int = Field(
        7, ge=1, description="μ: unlabelled rows per labelled row in a step (FixMatch: 7)"
    )

    @model_validator(mode="after")
    def _ramp_up(self) -> SemiSERParams:
        if self.threshold_end < self.threshold_start:
            raise ValueError("threshold_end must be >= threshold_start")
        return self

    @field_validator("label_rate")
    @classmethod
    def _some_labels(cls, value: float, info: ValidationInfo) -> float:
        """Every mode but all_labelled learns from the labelled rows: it needs some."""
        mode = info.data.get("mode")
        if value == 0 and mode != "all_labelled":
            raise ValueError(f"0 with mode {mode} leaves no labelled row to learn from")
        return value

    def for_rounds(self, rounds: int, key: str) -> SemiSERParams:
        """`threshold_ramp_rounds` from `threshold_ramp` if that is set; warns when a
        ramp given in rounds is longer than the run (τ would never reach threshold_end)."""
        given = "threshold_ramp_rounds" if self.threshold_ramp is None else "threshold_ramp"
        span = getattr(self, given)
        ramp = span_rounds(span, rounds)
        ramped = self.mode == "semi" and self.threshold_end > self.threshold_start
        if ramped and isinstance(span, int) and ramp > rounds:
            last = self.threshold_start + (self.threshold_end - self.threshold_start) * (
                (rounds - 1) / ramp
            )
            warn_schedule(
                f"{key}.{given}",
                f"a {ramp}-round threshold ramp in a {rounds}-round run: τ ends at "
                f"{last:.3f}, not threshold_end {self.threshold_end} (a fraction of the "
                f"run, e.g. {key}.threshold_ramp=0.6, scales with it)",
            )
        update: dict[str, Any] = {}
        if ramp != self.threshold_ramp_rounds:
            update["threshold_ramp_rounds"] = ramp
        weight_ramp = self.consistency_weight_ramp
        weight_ramp = 0 if weight_ramp is None else span_rounds(weight_ramp, rounds)
        if weight_ramp != self.consistency_weight_ramp_rounds:
            update["consistency_weight_ramp_rounds"] = weight_ramp
        return self.model_copy(update=update) if update else self

    def run_warnings(self, history: list[dict[str, Any]]) -> list[str]:
        """A semi or fixmatch run that made no pseudo-label trained exactly as
        labelled_only (scoring has its own random stream): say so."""
        if self.mode not in PSEUDO_LABEL_MODES or not history:
            return []
        if any(r.get("pseudo_new", 0) for r in history):
            return []
        return [
            f"task.mode={self.mode} made 0 pseudo-labels in {len(history)} rounds: the run "
            "is the same as task.mode=labelled_only (no unlabelled row passed the rule)"
        ]

    def summarize_round(self, counters: dict[str, float]) -> dict[str, float]:
        """The counters, plus the accuracy of the pseudo-labels used this round."""
        out = dict(counters)
        if counters.get("pseudo_labels"):
            out["pseudo_accuracy"] = counters["pseudo_correct"] / counters["pseudo_labels"]
        return out
