"""Build a corpus manifest (thin CLI over raysim.data.corpora.build_manifest).

    python features/manifest.py --corpus urdu --root /data/urdu --out urdu.parquet

Prints one JSON line: the corpus, the row count and the output path. Feed the
manifest to `features/extract.py --manifest ...` to build a feature store.
"""

from __future__ import annotations

import argparse
import json
import sys

from raysim.data.corpora import BUILDERS, build_manifest
from raysim.data.manifest import write_manifest


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, build and write the manifest, print a one-line summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, choices=sorted(BUILDERS))
    parser.add_argument("--root", required=True, help="the corpus folder in its published layout")
    parser.add_argument("--out", required=True, help="output Parquet manifest")
    parser.add_argument(
        "--no-probe", action="store_true", help="do not open the audio files to check them"
    )
    parser.add_argument("--on-error", choices=("raise", "skip"), default="raise")
    args = parser.parse_args(argv)
    df = build_manifest(args.corpus, args.root, probe=not args.no_probe, on_error=args.on_error)
    path = write_manifest(df, args.out)
    print(json.dumps({"corpus": args.corpus, "rows": len(df), "out": str(path)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
