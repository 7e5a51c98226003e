"""Seconds per round of the paper-scale FedEnhance config (experiments/configs/fedenhance.yaml).

    python benchmarks/fedenhance.py [--data-root DIR] [--rounds 2] [--warmup 1]
        [--num-workers 1] [--worker-gpus 0] [--max-files 170] [--p-supervised 0.5]

The config's model, length and federation as they are (full GC Sudo rm -rf, 16 kHz,
4 s chunks, 16 clients, 25 % a round, Adam, batch 6, 1 epoch) on the example data
instead of LibriSpeech + FSD50K: DIR (default: $RAYSIM_DATA_ROOT) holds `fsdd/` and
`esc10/`; FSDD digits (resampled, padded to 4 s) mixed with ESC-10 noise. FSDD has 6
speakers, so its utterances are dealt IID over the 16 clients (the paper deals
contiguous speaker groups) and its own test rows are held out. `--max-files` FSDD
files set the examples per client (170: 5 to 7, one or two local steps). One CPU worker
by default: a local step (batch 6 of 4 s at 16 kHz) holds several GB of activations,
and two such workers ran a shared 23 GB machine out of memory.

`--warmup` rounds run first (worker start-up, lazy imports, allocator growth), then
`--rounds` timed rounds; no evaluation runs during them (the config's 1000 rounds are
never reached), and one held-out evaluation is timed after them (SI-SDRi on
`--test-examples` mixtures). With `--worker-gpus F` each worker asks Ray for F of a
GPU, so 1/F workers share one.

Prints one JSON line: round_s (each timed round), round_s_mean, warmup_s, eval_s,
startup_s (data + actors), wall_s (process start → after Ray shutdown), peak_rss_mb /
peak_pss_mb (whole process tree, Ray's processes included), params (the model's
flat state), examples_per_client (min/mean/max), clients_per_round, workers,
worker_gpus, p_supervised, si_sdri (after the few rounds: a smoke value, not a result).
"""

# first: start the clock early
from _harness import REPO, TreeMonitor, emit

MON = TreeMonitor()

import argparse  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import yaml  # noqa: E402

import raysim  # noqa: E402
from raysim.config import parse_config  # noqa: E402
from raysim.data.clients import sample_counts  # noqa: E402
from raysim.data.roots import DATA_ROOT_ENV, DataRootError, resolve_root  # noqa: E402
from raysim.data.sources import build_source  # noqa: E402
from raysim.dotted import merge  # noqa: E402
from raysim.ray_runtime import init_ray, shutdown_ray  # noqa: E402

CONFIG = REPO / "experiments" / "configs" / "fedenhance.yaml"


def bench_config(a: argparse.Namespace, data_root) -> dict[str, Any]:
    """fedenhance.yaml with only the data (example corpora) and the engine replaced."""
    overrides = {
        "task": {"eval": {"metrics": ["si_sdri"]}},
        "data": {
            "speech": {"corpus": "fsdd", "root": str(data_root / "fsdd"),
                       "max_files": a.max_files},
            "noise": {"corpus": "esc10", "root": str(data_root / "esc10")},
            "partition": {"name": "iid", "n_clients": 16},
            "held_out": {"by": "split"},
            "max_test_examples": a.test_examples,
            "p_supervised": a.p_supervised,
        },
        "eval": {"every": 0},
        "engine": {"num_workers": a.num_workers, "worker_gpus": a.worker_gpus},
    }  # fmt: skip
    return merge(yaml.safe_load(CONFIG.read_text()), overrides)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", help=f"folder with fsdd/ and esc10/ (default: ${DATA_ROOT_ENV})")
    ap.add_argument("--rounds", type=int, default=2, help="timed rounds")
    ap.add_argument("--warmup", type=int, default=1, help="untimed rounds before them")
    ap.add_argument("--num-workers", type=int, default=1)
    ap.add_argument("--worker-gpus", type=float, default=0.0, help="GPU share per worker")
    ap.add_argument("--max-files", type=int, default=170, help="FSDD files (examples/client)")
    ap.add_argument("--p-supervised", type=float, default=0.5)
    ap.add_argument("--test-examples", type=int, default=8)
    a = ap.parse_args()
    try:
        data_root = resolve_root(a.data_root, DATA_ROOT_ENV, flag="--data-root",
                                 needs=("fsdd", "esc10"))  # fmt: skip
    except DataRootError as err:
        ap.error(str(err))
    config = parse_config(bench_config(a, data_root))

    t0 = time.perf_counter()
    init_ray(num_cpus=a.num_workers)
    data = build_source(config.data, config.seed)
    sim = raysim.Simulation(config, data=data).wait_ready()
    startup_s = time.perf_counter() - t0
    records = [sim.run_round() for _ in range(a.warmup + a.rounds)]
    t1 = time.perf_counter()
    si_sdri = sim.evaluate()["si_sdri"]
    eval_s = time.perf_counter() - t1
    params = len(sim.weights())
    sim.shutdown()
    shutdown_ray()
    MON.sample()
    MON.stop()

    counts = sample_counts(data.clients)
    round_s = [round(r["wall_s"], 2) for r in records[a.warmup :]]
    emit({
        "system": "raysim", "workload": "fedenhance_paper",
        "round_s": round_s, "round_s_mean": round(float(np.mean(round_s)), 2),
        "warmup_s": [round(r["wall_s"], 2) for r in records[: a.warmup]],
        "eval_s": round(eval_s, 2), "startup_s": round(startup_s, 2),
        "wall_s": round(MON.wall_s(), 2),
        "peak_rss_mb": round(MON.peak_rss / 2**20, 1),
        "peak_pss_mb": round(MON.peak_pss / 2**20, 1),
        "params": params,
        "examples_per_client": [int(counts.min()), round(float(counts.mean()), 2),
                                int(counts.max())],
        "clients_per_round": records[-1]["sampled"],
        "workers": a.num_workers, "worker_gpus": a.worker_gpus,
        "p_supervised": a.p_supervised, "si_sdri": round(si_sdri, 3),
    })  # fmt: skip


if __name__ == "__main__":
    main()
