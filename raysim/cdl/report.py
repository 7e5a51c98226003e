"""The CDL report: a Markdown table of choices (a)–(g) on seen and unseen noise, a bar
plot of the same, and the confusion matrix of the moderator's choices (matplotlib)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from raysim.cdl.evaluate import CHOICES, LABELS

ACCURACIES = {
    "ae_acc_oracle": "AE pick = oracle",
    "ae_acc_condition": "AE pick = true condition",
    "clf_acc_oracle": "classifier = oracle",
    "clf_acc_condition": "classifier = true condition",
}


def _cell(values: list[float], fmt: str = "{:+.2f}") -> str:
    v = np.array([x for x in values if x is not None and not np.isnan(x)], float)
    if not len(v):
        return "—"
    if len(v) == 1:
        return fmt.format(v[0])
    return f"{fmt.format(v.mean())} ± {v.std(ddof=1):.2f}"


def table(results: list[dict[str, Any]]) -> str:
    """Markdown: SI-SDRi (dB) of each choice, mean ± std over seeds, seen and unseen;
    then the selection accuracies."""
    splits = ("seen", "unseen")
    n = {s: [r[s].get("n", 0) for r in results] for s in splits}
    lines = [
        f"SI-SDRi (dB), mean ± std over {len(results)} seed(s) "
        f"(test mixtures per seed: seen {n['seen'][0]:.0f}, unseen {n['unseen'][0]:.0f})",
        "",
        "| choice | seen | unseen |",
        "| --- | --- | --- |",
    ]
    for name in CHOICES:
        cells = [_cell([r[s].get(f"sdri_{name}", np.nan) for r in results]) for s in splits]
        lines.append(f"| {LABELS[name]} | {cells[0]} | {cells[1]} |")
    gaps = {
        "AE − random": ("ae", "random"),
        "AE − oracle": ("ae", "oracle"),
        "AE − classifier": ("ae", "classifier"),
        "AE − generalist": ("ae", "generalist"),
    }
    for label, (a, b) in gaps.items():
        cells = []
        for s in splits:
            vals = [r[s].get(f"sdri_{a}", np.nan) - r[s].get(f"sdri_{b}", np.nan) for r in results]
            cells.append(_cell(vals))
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    if "stoi_ae" in results[0]["seen"]:
        lines += ["", "STOI, mean ± std over seeds", "", "| choice | seen | unseen |",
                  "| --- | --- | --- |"]  # fmt: skip
        for name in (*CHOICES, "input"):
            cells = [
                _cell([r[s].get(f"stoi_{name}", np.nan) for r in results], "{:.3f}") for s in splits
            ]
            lines.append(f"| {LABELS.get(name, 'input (unprocessed)')} | {cells[0]} | {cells[1]} |")
    lines += ["", "Selection accuracy, mean ± std over seeds", "", "| | seen | unseen |",
              "| --- | --- | --- |"]  # fmt: skip
    for key, label in ACCURACIES.items():
        cells = [_cell([r[s].get(key, np.nan) for r in results], "{:.2f}") for s in splits]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


def confusion(results: list[dict[str, Any]]) -> tuple[np.ndarray, list[str], list[str]]:
    """Counts over seeds: rows = test noise class, columns = the specialist the AE chose."""
    groups = results[0]["groups"]
    every = {c for r in results for c in r["test_class"]}
    seen = {c for r in results for s, c in zip(r["test_seen"], r["test_class"], strict=True) if s}
    classes = sorted(seen) + sorted(every - seen)
    m = np.zeros((len(classes), len(groups)), np.int64)
    for r in results:
        for c, pick in zip(r["test_class"], r["ae_pick"], strict=True):
            m[classes.index(c), pick] += 1
    return m, classes, groups


def write_report(results: list[dict[str, Any]], stem: str | Path) -> dict[str, Path]:
    """`stem`.md (table and confusion matrix), `stem`_bars.png, `stem`_confusion.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stem = Path(stem)
    paths = {"md": stem.with_suffix(".md"), "bars": Path(f"{stem}_bars.png"),
             "confusion": Path(f"{stem}_confusion.png")}  # fmt: skip
    m, classes, groups = confusion(results)
    md = [table(results), "", "AE choices (rows: test noise class; columns: specialist), "
          "summed over seeds", "", "| class | " + " | ".join(groups) + " |",
          "| --- |" + " --- |" * len(groups)]  # fmt: skip
    md += [
        f"| {c} | " + " | ".join(str(v) for v in row) + " |"
        for c, row in zip(classes, m, strict=True)
    ]
    paths["md"].write_text("\n".join(md) + "\n")

    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.38
    for j, split in enumerate(("seen", "unseen")):
        vals = np.array([[r[split].get(f"sdri_{c}", np.nan) for r in results] for c in CHOICES])
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # (e) is undefined on unseen noise
            mean = np.nanmean(vals, 1)
            err = np.nanstd(vals, 1, ddof=1) if len(results) > 1 else None
        ax.bar(np.arange(len(CHOICES)) + (j - 0.5) * width, mean, width, yerr=err,
               label=split, capsize=3)  # fmt: skip
    ax.set_xticks(np.arange(len(CHOICES)), [LABELS[c] for c in CHOICES], rotation=30, ha="right")
    ax.set_ylabel("SI-SDRi (dB)")
    ax.axhline(0, color="black", lw=0.5)
    ax.legend()
    ax.set_title("CDL: the moderator's pick against the other choices")
    fig.tight_layout()
    fig.savefig(paths["bars"], dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(groups), 1.0 + 0.5 * len(classes)))
    norm = m / np.maximum(m.sum(1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(groups)):
            ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(groups)), groups, rotation=30, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("specialist the AE chose")
    ax.set_ylabel("test noise class")
    fig.tight_layout()
    fig.savefig(paths["confusion"], dpi=120)
    plt.close(fig)
    return paths
