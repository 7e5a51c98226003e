"""Parameters of the semi-supervised SER task (validated on the driver, pydantic only).

Defaults are Semi-FedSER's (Feng & Narayanan, Interspeech 2022; docs METHODS.md).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from raysim.run_length import RoundSpan, span_rounds, warn_schedule
from raysim.tasks.params import TaskParams

PSEUDO_LABEL_MODES = ("semi", "fixmatch")
"""The modes that train on pseudo-labels (a run of one that made none is labelled-only)."""


class SemiSERParams(TaskParams):
    """Semi-FedSER and its baselines over fixed-size feature vectors.

    Modes: ``semi`` (multiview pseudo-labels kept across rounds, or re-scored each
    round with ``pseudo_label_refresh: rescore``), ``labelled_only``
    (train on the labelled rows only), ``all_labelled`` (every label visible: the
    upper reference) and ``fixmatch`` (single-view confidence threshold, recomputed
    each round, not kept).
    """

    mode: Literal["semi", "labelled_only", "all_labelled", "fixmatch"] = "semi"
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
        "the class weights come from the labelled rows only",
    )
    # single-view variant (mode fixmatch)
    fixmatch_threshold: float = Field(0.95, ge=0, le=1)

    @model_validator(mode="after")
    def _ramp_up(self) -> SemiSERParams:
        if self.threshold_end < self.threshold_start:
            raise ValueError("threshold_end must be >= threshold_start")
        return self

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
        if ramp == self.threshold_ramp_rounds:
            return self
        return self.model_copy(update={"threshold_ramp_rounds": ramp})

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
