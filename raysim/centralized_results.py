"""Centralized references on disk, found again by the federated reports.

`experiments/centralized.py` (and `experiments/sklearn_baseline.py`) write each run's test
metrics to ``<folder>/<key>.json``, where the key is a hash of the config's ``data`` and
``task`` sections: the same data (source, partition, held-out split or fold) and the
same task (model, mode, label rate) as a federated run find the same file. The reports
(`raysim.analysis.report`, `raysim.se_compare`, `experiments/semi_fedser.py`) print the
mean of the matching runs as the "IID upper bound" reference line. Pydantic/JSON only:
no torch, no Ray.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_DIR = Path(os.environ.get("RAYSIM_CENTRALIZED_RESULTS", "results/centralized"))
"""Where references are written and looked up (env ``RAYSIM_CENTRALIZED_RESULTS``)."""


def reference_key(config: Any) -> str:
    """A short hash of the config's ``data`` and ``task`` sections (a `SimulationConfig`
    or its dict dump); what a federated run and its centralized reference share."""
    if hasattr(config, "model_dump"):
        config = config.model_dump(mode="json")
    body = json.dumps({"data": config["data"], "task": config["task"]}, sort_keys=True,
                      default=str)  # fmt: skip
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def save_reference(
    config: Any, method: str, metrics: dict[str, float], *, seed: int,
    folder: Path | str | None = None, extra: dict[str, Any] | None = None,
) -> Path:  # fmt: skip
    """Record one run's test `metrics` under `method` (``ray_train``, ``local``,
    ``sklearn_svm``...) for `config`'s key, replacing an earlier run of the same method
    and seed. Returns the file."""
    path = Path(folder or DEFAULT_DIR) / f"{reference_key(config)}.json"
    body = json.loads(path.read_text()) if path.is_file() else {"runs": []}
    dump = config.model_dump(mode="json") if hasattr(config, "model_dump") else config
    body["data"], body["task"] = dump["data"], dump["task"]
    runs = [r for r in body["runs"] if (r["method"], r["seed"]) != (method, seed)]
    runs.append({"method": method, "seed": seed, "metrics": metrics, **(extra or {})})
    body["runs"] = sorted(runs, key=lambda r: (r["method"], r["seed"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, indent=1))
    return path


@dataclass
class Reference:
    """One method's centralized result for a config: metric means over its runs."""

    method: str
    metrics: dict[str, float]
    runs: int

    def line(self, metric: str) -> str | None:
        """``IID upper bound (centralized ray_train, 3 runs): uar 0.9354``, or None if the
        runs did not measure `metric` (accepts ``eval_uar`` for ``uar``)."""
        name = metric.removeprefix("eval_")
        if name not in self.metrics:
            return None
        runs = f"{self.runs} run{'s' if self.runs != 1 else ''}"
        value = self.metrics[name]
        return f"IID upper bound (centralized {self.method}, {runs}): {name} {value:.4f}"


def find_references(config: Any, folder: Path | str | None = None) -> list[Reference]:
    """The centralized references recorded for `config`'s data and task, one per method
    (empty if none)."""
    path = Path(folder or DEFAULT_DIR) / f"{reference_key(config)}.json"
    if not path.is_file():
        return []
    by_method: dict[str, list[dict[str, float]]] = {}
    for run in json.loads(path.read_text())["runs"]:
        by_method.setdefault(run["method"], []).append(run["metrics"])
    out = []
    for method, runs in by_method.items():
        keys = set.intersection(*(set(r) for r in runs))
        means = {k: sum(float(r[k]) for r in runs) / len(runs) for k in sorted(keys)}
        out.append(Reference(method, means, len(runs)))
    return out


def reference_lines(config: Any, metric: str, folder: Path | str | None = None) -> list[str]:
    """Markdown list items of the references for `config` that measured `metric`."""
    refs = (r.line(metric) for r in find_references(config, folder))
    return [f"- {line}" for line in refs if line]


def fold_reference_lines(
    configs: list[Any], metric: str, label: str = "", folder: Path | str | None = None
) -> list[str]:
    """Reference lines for a result averaged over `configs` (e.g. the k folds of a CV
    run): per method, the mean over the configs of its per-config means, printed only
    when every config has a reference of that method."""
    per_config = [{r.method: r for r in find_references(c, folder)} for c in configs]
    if not per_config:
        return []
    name = metric.removeprefix("eval_")
    out = []
    for method in per_config[0]:
        refs = [refs.get(method) for refs in per_config]
        if any(r is None or name not in r.metrics for r in refs):
            continue
        value = sum(r.metrics[name] for r in refs) / len(refs)
        runs = sum(r.runs for r in refs)
        where = f", {len(configs)} folds" if len(configs) > 1 else ""
        tag = f" [{label}]" if label else ""
        out.append(f"- IID upper bound{tag} (centralized {method}, {runs} runs{where}): "
                   f"{name} {value:.4f}")  # fmt: skip
    return out
