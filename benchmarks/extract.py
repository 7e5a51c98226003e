"""eGeMAPS throughput: a single-process loop vs raysim's Ray extraction on all cores.

    python benchmarks/extract.py [--root DIR] [--workers N] [--repeats R]

DIR is a folder of WAV files (default: $RAYSIM_DATA_ROOT/urdu).

Prints one JSON line with both rates (files/s) and their ratio. The single-process rate
is a plain loop with one Smile object, warmed up on one file first (imports, resampler).
The Ray rate is measured over the `extract_features` call once Ray is up (`ray.init` and
one no-op task per CPU, so that the worker processes exist). A first, cold call (workers
still importing raysim/OpenSMILE/torch) is reported as `ray_cold_*`; then the two
alternate R times on warm processes and the medians give the headline ratio, which also
damps the effect of other load on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
import ray

from raysim.audio.io import load_audio
from raysim.data.roots import DATA_ROOT_ENV, DataRootError, resolve_root
from raysim.features import extract_features, resolve_config
from raysim.features.extract import DEFAULT_SHARD_SIZE


def audio_manifest(root: Path) -> pd.DataFrame:
    """utt_id (path below root, no suffix) and path of every WAV file under `root`."""
    files = sorted(root.rglob("*.wav"))
    if not files:
        raise SystemExit(f"no .wav files under {root}")
    return pd.DataFrame(
        {"utt_id": [str(f.relative_to(root).with_suffix("")) for f in files], "path": files}
    ).astype(str)


def single_process_rate(paths: list[str]) -> float:
    """Files per second of load_audio + eGeMAPS in one loop with one Smile object."""
    extractor = resolve_config("egemaps").build()
    extractor.process(*load_audio(paths[0], extractor.sample_rate))  # warm-up, not timed
    start = time.perf_counter()
    for path in paths:
        extractor.process(*load_audio(path, extractor.sample_rate))
    return len(paths) / (time.perf_counter() - start)


def ray_rate(manifest: pd.DataFrame, shard_size: int) -> tuple[float, int, int]:
    """(files per second, n ok, n failed) of one extract_features call into a temp dir."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        summary = extract_features(manifest, out, "egemaps", shard_size=shard_size, progress=False)
        rate = len(manifest) / (time.perf_counter() - start)
    return rate, summary.n_ok, summary.n_failed


@ray.remote(num_cpus=1)
def _noop() -> None:
    time.sleep(0.5)  # long enough that each CPU's task lands on its own worker process


def main() -> None:
    """Run both measurements and print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help=f"folder of WAV files (default: ${DATA_ROOT_ENV}/urdu)")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="Ray CPUs")
    parser.add_argument("--shard-size", type=int, default=DEFAULT_SHARD_SIZE)
    parser.add_argument("--repeats", type=int, default=3, help="alternating warm runs of each")
    args = parser.parse_args()
    try:
        if args.root:
            root = resolve_root(args.root, DATA_ROOT_ENV, flag="--root")
        else:
            root = resolve_root(None, DATA_ROOT_ENV, flag="--root", needs=("urdu",)) / "urdu"
    except DataRootError as err:
        parser.error(str(err))

    manifest = audio_manifest(root)
    ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    ray.get([_noop.remote() for _ in range(args.workers)])  # Ray start-up, not timed
    cold, n_ok, n_failed = ray_rate(manifest, args.shard_size)
    singles, parallels = [], []
    for _ in range(args.repeats):
        singles.append(single_process_rate(manifest["path"].tolist()))
        parallels.append(ray_rate(manifest, args.shard_size)[0])
    ray.shutdown()
    single, parallel = statistics.median(singles), statistics.median(parallels)
    result = {
        "files": len(manifest),
        "ok": n_ok,
        "failed": n_failed,
        "workers": args.workers,
        "single_files_per_s": round(single, 2),
        "ray_files_per_s": round(parallel, 2),
        "ratio": round(parallel / single, 2),
        "ray_cold_files_per_s": round(cold, 2),
        "ray_cold_ratio": round(cold / single, 2),
        "runs": {"single": [round(r, 2) for r in singles], "ray": [round(r, 2) for r in parallels]},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
