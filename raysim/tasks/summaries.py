"""Per-round summaries of the clients' summed counters (``ctx.add_metric``), by task.

Counters are summed exactly across a round's clients; some reported values are
ratios of those sums (pseudo-label accuracy = correct / made). The aggregator
turns sums into reported values here, without importing the tasks' torch code.
A task without an entry reports its counters as they are.
"""

from __future__ import annotations

from collections.abc import Callable

from raysim.data.se_sources import KIND_NAMES


def _semi_ser(metrics: dict[str, float]) -> dict[str, float]:
    """The counters, plus the accuracy of the pseudo-labels used this round."""
    out = dict(metrics)
    if metrics.get("pseudo_labels"):
        out["pseudo_accuracy"] = metrics["pseudo_correct"] / metrics["pseudo_labels"]
    return out


def _speech_enhancement(metrics: dict[str, float]) -> dict[str, float]:
    """Per-kind mean training loss and the share of PU steps in nnPU's γ branch."""
    out: dict[str, float] = {}
    for name in KIND_NAMES.values():
        rows = metrics.get(f"rows_{name}", 0.0)
        if rows:
            out[f"train_loss_{name}"] = metrics[f"loss_sum_{name}"] / rows
    if metrics.get("pu_steps"):
        out["pu_gamma_frac"] = metrics["pu_gamma_steps"] / metrics["pu_steps"]
    return out


#: task name → summary; a task registered elsewhere may add its own entry
SUMMARIES: dict[str, Callable[[dict[str, float]], dict[str, float]]] = {
    "semi_ser": _semi_ser,
    "speech_enhancement": _speech_enhancement,
}


def summarize_round(task_name: str, metrics: dict[str, float]) -> dict[str, float]:
    """The reported per-round values of task `task_name` from its summed counters."""
    return SUMMARIES.get(task_name, dict)(metrics)
