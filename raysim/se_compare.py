"""FedEnhance and PULSE methods side by side on any speech and noise data: the
library side of `experiments/se_compare.py`.

A compare config (`CompareConfig`) names the `se_mixtures` data every method shares
(speech and noise, each `{corpus: NAME, root: DIR}` or `{manifest: FILE.parquet}`;
held_out, partition, noise_partition, SNRs, chunk length, sample rate), model sizes,
metrics, rounds and engine. Each method is its named config (`METHODS`, files in the
named-config folder the caller passes) with the compare config applied: it keeps its
own client kinds and noise clips (`METHOD_DATA_KEYS`) and its own round count unless
`method_rounds` or `rounds` sets it. `run_method` runs a method once per seed;
`report` writes the metrics over seeds (SI-SDRi is the gain over the unprocessed
input, `input_<m>` the input's own score, `<m>_delta` the gain) and each seed's
federation (clients × kind × noise classes × examples, held-out speakers and noise
files) as Markdown.
"""

from __future__ import annotations

import importlib.util
import json
import math
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import Field, PositiveInt, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from raysim.analysis.tables import markdown, mean_std
from raysim.centralized_results import reference_lines
from raysim.config import (
    ConfigError,
    EngineConfig,
    Section,
    SimulationConfig,
    parse_config,
    read_yaml_mapping,
)
from raysim.data.se_sources import AudioSetParams, SEMixturesParams
from raysim.data.sources import build_source
from raysim.dotted import merge
from raysim.metric_counts import DEFINED_SUFFIX, N_ITEMS
from raysim.registry import SE_MODELS
from raysim.simulation import Simulation
from raysim.validation_errors import format_validation_error

METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "FedEnhance supervised": ("fedenhance.yaml", {"data": {"p_supervised": 1.0}}),
    "FedEnhance 50% supervised": ("fedenhance.yaml", {"data": {"p_supervised": 0.5}}),
    "FedEnhance MixIT only": ("fedenhance.yaml", {"data": {"p_supervised": 0.0}}),
    "PULSE PU": ("pulse.yaml", {}),
    "PULSE PN": ("pulse_pn.yaml", {}),
    "PULSE MixIT": ("pulse_mixit.yaml", {}),
}
"""Method → (named config, its own overrides)."""

MethodName = Literal[tuple(METHODS)]
METHOD_DATA_KEYS = frozenset({"p_supervised", "p_pu", "noise_clip"})
"""`se_mixtures` keys that make a method what it is: its named config sets them."""


def default_metrics() -> list[str]:
    """SI-SDRi, SI-SDR, SDR, and STOI where pystoi is installed."""
    return ["si_sdri", "si_sdr", "sdr"] + (["stoi"] if importlib.util.find_spec("pystoi") else [])


def audio_set_problem(value: AudioSetParams) -> str | None:
    """What keeps `value` from loading (:meth:`AudioSetParams.problem`): an unknown
    corpus, a missing folder or manifest ($VARS expanded), or an unset variable, as
    ``key: message``; None if nothing."""
    problem = value.problem()
    return None if problem is None else f"{problem[0]}: {problem[1]}"


class CompareData(SEMixturesParams):
    """The `se_mixtures` params every method shares: all but `METHOD_DATA_KEYS`."""

    source: Literal["se_mixtures"] = "se_mixtures"

    @field_validator("speech", "noise")
    @classmethod
    def _exists(cls, value: AudioSetParams) -> AudioSetParams:
        problem = audio_set_problem(value)
        if problem:
            raise PydanticCustomError("audio_set", "{problem}", {"problem": problem})
        return value

    @model_validator(mode="after")
    def _not_the_methods(self) -> CompareData:
        own = sorted(METHOD_DATA_KEYS & self.model_fields_set)
        if own:
            raise ValueError(f"{', '.join(own)}: set by each method's named config, not here")
        return self


class CompareConfig(Section):
    """What `se_compare.py --config FILE` reads."""

    data: CompareData
    models: dict[str, SE_MODELS.type] = Field(
        default_factory=dict,
        description="SE model name → its keys to override (e.g. smaller sizes); a model "
        "not named keeps its named config's (paper) sizes",
    )
    metrics: list[str] = Field(default_factory=default_metrics, description="task.eval.metrics")
    methods: list[MethodName] = Field(default_factory=lambda: list(METHODS))
    rounds: PositiveInt | None = Field(None, description="every method's rounds")
    method_rounds: dict[MethodName, PositiveInt] = Field(
        default_factory=dict, description="some methods' rounds (before `rounds`)"
    )
    eval_every: int = Field(0, ge=0, description="rounds between evaluations (0: at the end)")
    engine: EngineConfig = Field(default_factory=EngineConfig)

    @field_validator("models", mode="before")
    @classmethod
    def _name_models(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {k: {**(v or {}), "name": k} if v is None or isinstance(v, dict) else v
                for k, v in value.items()}  # fmt: skip

    def rounds_for(self, method: str) -> int | None:
        """The rounds this config sets for `method` (None: its named config's own)."""
        return self.method_rounds.get(method, self.rounds)


def load_compare_config(path: Path) -> CompareConfig:
    """Read and validate a compare config; ConfigError naming the bad keys."""
    data = read_yaml_mapping(path, "compare config")
    try:
        return CompareConfig.model_validate(data)
    except ValidationError as err:
        header = f"invalid compare config {path}"
        raise ConfigError(format_validation_error(err, CompareConfig, header)) from None


def method_config(name: str, compare: CompareConfig, seed: int, configs: Path) -> SimulationConfig:
    """The method's named config (in folder `configs`) with the compare config applied,
    validated."""
    file, own = METHODS[name]
    config = merge(yaml.safe_load((configs / file).read_text()), own)
    shared = {
        "seed": seed,
        "rounds": compare.rounds_for(name) or config["rounds"],
        "task": {"eval": {"metrics": compare.metrics}},
        "data": compare.data.model_dump(exclude=METHOD_DATA_KEYS),
        "eval": {"every": compare.eval_every},
        "engine": compare.engine.model_dump(),
    }
    config = merge(config, shared)
    model = config["task"]["model"]
    if model["name"] in compare.models:
        sizes = compare.models[model["name"]].model_dump(exclude_unset=True)
        config["task"]["model"] = {**model, **sizes}
    return parse_config(config)


# -- the federation --------------------------------------------------------------------
FEDERATION_KEYS = (
    "client_kinds",
    "client_noise_classes",
    "client_examples",
    "held_out_speakers",
    "held_out_noise_files",
)


def federation(info: dict[str, Any], test_examples: int) -> dict[str, Any]:
    """What a method trains and is tested on, from its `se_mixtures` info."""
    return {**{k: info[k] for k in FEDERATION_KEYS}, "test_examples": test_examples}


def federation_markdown(feds: dict[str, dict[str, Any]]) -> str:
    """The federations of `feds` (method → :func:`federation`): methods that train on
    the same clients and test on the same examples share a table of client, noise
    classes, examples and each method's client kind, under their held-out set."""
    groups: dict[str, list[str]] = {}
    for method, fed in feds.items():
        same = json.dumps({k: v for k, v in fed.items() if k != "client_kinds"}, sort_keys=True)
        groups.setdefault(same, []).append(method)
    blocks = []
    for methods in groups.values():
        fed = feds[methods[0]]
        speakers, files = fed["held_out_speakers"], fed["held_out_noise_files"]
        lines = [
            f"{', '.join(methods)}: {len(fed['client_kinds'])} clients, "
            f"{sum(fed['client_examples'])} training examples, "
            f"{fed['test_examples']} held-out examples",
            f"- speakers of the held-out examples ({len(speakers)}): {', '.join(speakers)}",
            f"- their noise files ({sum(map(len, files.values()))}), by class:",
            *(f"  - {cls} ({len(paths)}): {', '.join(Path(p).name for p in paths)}"
              for cls, paths in files.items()),
            "",
        ]  # fmt: skip
        rows = [
            [str(c), ", ".join(map(str, classes)), str(n)]
            + [feds[m]["client_kinds"][c] for m in methods]
            for c, (classes, n) in enumerate(
                zip(fed["client_noise_classes"], fed["client_examples"], strict=True)
            )
        ]
        header = ["client", "noise classes", "examples", *methods]
        lines.append(_markdown_rows(header, rows))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _markdown_rows(header: list[str], rows: list[list[str]]) -> str:
    return markdown(pd.DataFrame(rows, columns=header))


# -- the metrics over seeds ------------------------------------------------------------
COLUMNS = ("si_sdri", "si_sdr", "input_si_sdr", "sdr", "input_sdr", "sdr_delta",
           "stoi", "input_stoi", "stoi_delta", "pesq", "input_pesq", "pesq_delta",
           "unchanged_frac")  # fmt: skip
"""Table columns, in order; a column is shown where some run measured it."""


def over_seeds(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Per metric of the `runs` (one metrics dict per seed): the mean and sample std over
    the seeds where it is defined (std NaN for one) and their number `n`; a count
    (`<m>_defined`, `n_items`) is summed instead, as `total`."""
    out: dict[str, dict[str, float]] = {}
    for key in sorted({k for r in runs for k in r}):
        values = np.array([r.get(key, math.nan) for r in runs], dtype=np.float64)
        values = values[~np.isnan(values)]
        if key.endswith(DEFINED_SUFFIX) or key == N_ITEMS:
            out[key] = {"total": float(values.sum())}
        elif len(values):
            std = float(values.std(ddof=1)) if len(values) > 1 else math.nan
            out[key] = {"mean": float(values.mean()), "std": std, "n": float(len(values))}
    return out


def metrics_markdown(summaries: dict[str, dict[str, Any]]) -> str:
    """Method × metric table (mean ± std over seeds, n seeds); a metric some items lack
    shows its defined items out of all, summed over the seeds."""
    shown = [c for c in COLUMNS if any(c in s["metrics"] for s in summaries.values())]
    rows = []
    for name, s in summaries.items():
        m, cells = s["metrics"], []
        for c in shown:
            cell = mean_std(m[c]["mean"], m[c]["std"], 2) if c in m else "–"
            defined = m.get(c + DEFINED_SUFFIX)
            if defined is not None and N_ITEMS in m:
                cell += f" ({defined['total']:.0f}/{m[N_ITEMS]['total']:.0f})"
            cells.append(cell)
        rows.append([name, *cells, str(s["rounds"]), str(len(s["seeds"])), f"{s['wall_s']:.0f}"])
    return _markdown_rows(["method", *shown, "rounds", "n", "wall s / seed"], rows)


def run_method(
    name: str, compare: CompareConfig, seeds: list[int], configs: Path
) -> dict[str, Any]:
    """`name` (its named config in folder `configs`) once per seed: every seed's config,
    metrics, history and federation, the metrics over the seeds, and the centralized
    references (`raysim.centralized_results`) recorded for its config: "IID upper bound"
    lines of SI-SDRi."""
    runs = []
    for seed in seeds:
        config = method_config(name, compare, seed, configs)
        t0 = time.perf_counter()
        data = build_source(config.data, seed)
        result = Simulation(config, data=data).run(progress=False)
        wall = time.perf_counter() - t0
        fed = federation(data.info, len(data.eval_data["mixture"]))
        runs.append({"seed": seed, "metrics": result.metrics, "wall_s": wall,
                     "config": config.model_dump(), "history": result.history,
                     "federation": fed})  # fmt: skip
        shown = {k: round(v, 3) for k, v in result.metrics.items()}
        print(f"{name}, seed {seed} ({wall:.0f} s): {json.dumps(shown)}", flush=True)
    return {
        "rounds": runs[0]["config"]["rounds"],
        "seeds": seeds,
        "wall_s": float(np.mean([r["wall_s"] for r in runs])),
        "metrics": over_seeds([r["metrics"] for r in runs]),
        "references": reference_lines(config, "si_sdri"),
        "runs": runs,
    }


def report(results: dict[str, dict[str, Any]]) -> str:
    """The Markdown of a finished comparison: the metrics, the centralized references
    where recorded, then each seed's federation."""
    parts = ["## Held-out metrics (mean ± std over seeds)", "", metrics_markdown(results)]
    references = [f"- {name}: {line.removeprefix('- ')}" for name, r in results.items()
                  for line in r.get("references", [])]  # fmt: skip
    if references:
        parts += ["", "Centralized references (`experiments/centralized.py --compare`):", "",
                  *references]  # fmt: skip
    for i, seed in enumerate(next(iter(results.values()))["seeds"]):
        feds = {name: r["runs"][i]["federation"] for name, r in results.items()}
        parts += ["", f"## Federation, seed {seed}", "", federation_markdown(feds)]
    return "\n".join(parts) + "\n"
