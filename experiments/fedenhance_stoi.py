"""Why FedEnhance lowers STOI (issue 14): short low-rate chunks, the small model, or MixIT?

    python experiments/fedenhance_stoi.py --data-root DIR [--arms NAME ...] [--rounds N]
        [--out results/fedenhance_stoi.json]

DIR (default: $RAYSIM_DATA_ROOT) holds `urdu/` and `esc10/`. Each arm is
experiments/configs/fedenhance_stoi.yaml (se_compare.py's small settings with URDU
speech) plus its dotted overrides (`ARMS`), trained by `raysim.Simulation`. The final
global model is then evaluated here four ways: on the held-out mixtures at the training
length and at `TEST_SECONDS` (one set when those are equal), reading slot 0
(FedEnhance's speech slot) and the oracle slot (per mixture, the output closest to the
clean speech by SI-SNR). Slot 0 against the oracle isolates MixIT's slot assignment;
the arms vary the objective (supervised only or MixIT only), the rate, the training
chunk and the model. Prints one table row per arm and evaluation and writes the
metrics and histories as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

import raysim
from raysim.config import SimulationConfig, load_config
from raysim.data.roots import DATA_ROOT_ENV, DataRootError, resolve_root
from raysim.data.sources import build_source
from raysim.metric_counts import DEFINED_SUFFIX
from raysim.ray_runtime import init_ray

CONFIG = Path(__file__).resolve().parent / "configs" / "fedenhance_stoi.yaml"
TEST_SECONDS = 3.0
"""Long held-out examples: URDU utterances are 1-3 s, so STOI is defined on most."""
FULL_MODEL = ("task.model={name: sudormrf, enc_bases: 512, bottleneck: 256, "
              "ublock_channels: 512, n_blocks: 8, upsampling_depth: 5, groups: 16}")  # fmt: skip
SUPERVISED, MIXIT = "data.p_supervised=1.0", "data.p_supervised=0.0"
RATE_16K, CHUNK_3S = "data.sample_rate=16000", "data.chunk_seconds=3.0"

ARMS: dict[str, list[str]] = {
    "small 8k 1s supervised": [SUPERVISED],
    "small 8k 1s MixIT": [MIXIT],
    "small 16k 1s supervised": [SUPERVISED, RATE_16K],
    "small 16k 1s MixIT": [MIXIT, RATE_16K],
    "small 8k 3s supervised": [SUPERVISED, CHUNK_3S],
    "small 8k 3s MixIT": [MIXIT, CHUNK_3S],
    "full 8k 1s supervised": [SUPERVISED, FULL_MODEL],
}
"""Arm → dotted overrides of the base config."""

COLUMNS = ["si_sdri", "input_stoi", "stoi", "stoi_delta"]


def evaluate(config: SimulationConfig, info: dict, weights: np.ndarray, data: dict,
             slot: int | str) -> dict[str, float]:  # fmt: skip
    """The task's held-out metrics of the flat `weights` on `data`, reading `slot`."""
    from raysim.engine.flat import set_flat  # torch: only once the simulation is done
    from raysim.registry import TASKS

    task_params = config.task.model_copy(
        update={"eval": config.task.eval.model_copy(update={"slot": slot})}
    )
    task = TASKS.build(task_params, info)
    model = task.build_model()
    set_flat(model, weights)
    return task.evaluate(model, data)


def run_arm(config: SimulationConfig) -> dict[str, Any]:
    """Train one arm; its final model's metrics on both held-out sets, both slots."""
    data = build_source(config.data, config.seed)
    long_data = config.data.model_copy(update={"test_chunk_seconds": TEST_SECONDS})
    test_sets = {
        f"{config.data.chunk_seconds:g} s": data.eval_data,
        f"{TEST_SECONDS:g} s": build_source(long_data, config.seed).eval_data,
    }
    t0 = time.perf_counter()
    result = raysim.Simulation(config, data=data).run(progress=False)
    train_s = time.perf_counter() - t0
    evals = {
        f"{test}, slot {slot}": evaluate(config, data.info, result.weights, test_data, slot)
        for test, test_data in test_sets.items()
        for slot in (0, "oracle")
    }
    return {"train_s": train_s, "evals": evals, "history": result.history}


def cell(metrics: dict[str, float], name: str) -> str:
    """A metric, with its defined count where some items lack it."""
    text = f"{metrics.get(name, float('nan')):.3f}"
    defined = metrics.get(name + DEFINED_SUFFIX)
    if defined is not None and defined < metrics["n_items"]:
        text += f" ({defined:.0f}/{metrics['n_items']:.0f})"
    return text


def print_table(results: dict[str, dict[str, Any]]) -> None:
    """A markdown table: one row per arm and evaluation."""
    print("\n| arm | held-out, slot | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 2) + "|")
    for arm, r in results.items():
        for name, m in r["evals"].items():
            print(f"| {arm} | {name} | " + " | ".join(cell(m, c) for c in COLUMNS) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-root", help=f"folder with urdu/ and esc10/ (default: ${DATA_ROOT_ENV})")
    ap.add_argument("--arms", nargs="*", default=list(ARMS), choices=list(ARMS))
    ap.add_argument("--rounds", type=int, help="override the config's rounds")
    ap.add_argument("--out", type=Path, default=Path("results/fedenhance_stoi.json"))
    a = ap.parse_args()
    try:
        root = resolve_root(a.data_root, DATA_ROOT_ENV, flag="--data-root",
                            needs=("urdu", "esc10"))  # fmt: skip
    except DataRootError as err:
        ap.error(str(err))
    os.environ[DATA_ROOT_ENV] = str(root)  # the config's ${RAYSIM_DATA_ROOT}
    init_ray()
    results = {}
    for arm in a.arms:
        rounds = [f"rounds={a.rounds}"] if a.rounds else []
        config = load_config(CONFIG, ARMS[arm] + rounds)
        results[arm] = {"overrides": ARMS[arm] + rounds, **run_arm(config)}
        print(f"{arm}: trained in {results[arm]['train_s']:.0f} s", flush=True)
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(results, indent=1))  # after every arm: a partial run keeps
    print_table(results)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
