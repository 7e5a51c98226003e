"""Extract features for a manifest into a Parquet feature store (thin CLI over raysim).

    python features/extract.py --manifest manifest.parquet --out feats/egemaps \
        --feature-set egemaps [--workers 2] [--address auto]
    python features/extract.py ... --feature-set ssl --ssl-checkpoint model.pt --layer 6

Prints the summary as one JSON line on stdout, and on stderr what loading resampled and
down-mixed and the first failed files, with the path of `failures.parquet` that lists them
all.
"""

from __future__ import annotations

import argparse
import json
import sys

from raysim.features import extract_features
from raysim.features.extract import DEFAULT_SHARD_SIZE, load_manifest
from raysim.registry import FEATURE_EXTRACTORS


def _param(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the extraction, print the summary as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", required=True, help="Parquet manifest (utt_id, path, ...)")
    parser.add_argument("--out", required=True, help="output feature-store directory")
    parser.add_argument("--feature-set", required=True, choices=FEATURE_EXTRACTORS.names())
    parser.add_argument("--ssl-checkpoint", help="local checkpoint (save_ssl_checkpoint) for ssl")
    parser.add_argument("--layer", type=int, help="ssl transformer layer (negative from the end)")
    parser.add_argument(
        "--param",
        type=_param,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extractor parameter, value parsed as JSON if it can be (repeatable)",
    )
    parser.add_argument("--workers", type=int, help="parallel shard tasks (default: all CPUs)")
    parser.add_argument("--shard-size", type=int, default=DEFAULT_SHARD_SIZE, help="rows per shard")
    parser.add_argument("--on-error", choices=("record", "raise"), default="record")
    parser.add_argument("--address", help="Ray cluster address (e.g. auto); default local")
    args = parser.parse_args(argv)

    params = dict(args.param)
    if args.feature_set == "ssl":
        if not args.ssl_checkpoint:
            parser.error("--feature-set ssl needs --ssl-checkpoint PATH")
        params["checkpoint"] = args.ssl_checkpoint
        if args.layer is not None:
            params["layer"] = args.layer
    elif args.ssl_checkpoint or args.layer is not None:
        parser.error("--ssl-checkpoint/--layer only apply to --feature-set ssl")
    try:  # a missing or malformed manifest (a CSV, say) fails here, in one line, before Ray
        load_manifest(args.manifest)
    except (FileNotFoundError, ValueError) as err:
        parser.exit(2, f"error: {err}\n")
    if args.address:
        import ray

        ray.init(address=args.address)
    summary = extract_features(
        args.manifest,
        args.out,
        args.feature_set,
        params,
        num_workers=args.workers,
        shard_size=args.shard_size,
        on_error=args.on_error,
    )
    for line in summary.report_lines():
        print(line, file=sys.stderr)
    print(json.dumps(summary.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
