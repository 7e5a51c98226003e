"""Paired comparison (Wilcoxon signed-rank) of two variants from semi_fedser.py --out files.

    python analysis/paired_test.py runs/semi/procedural.json --a fixmatch_da --b labelled_only

Runs are paired by (seed, fold); files may be several (runs of A and B made apart).
Prints both means, the mean paired difference, wins/losses and the p-values.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from raysim.analysis.paired import paired_comparison


def load_runs(paths: list[Path]) -> list[dict]:
    """Every run summary in the given semi_fedser.py --out files."""
    runs = []
    for path in paths:
        try:
            runs += json.loads(path.read_text())["runs"]
        except (OSError, ValueError, KeyError) as err:
            raise ValueError(f"{path}: not a semi_fedser.py --out file ({err})") from None
    return runs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("runs", type=Path, nargs="+", help="semi_fedser.py --out JSON files")
    ap.add_argument("--a", required=True, help="variant (or mode) A")
    ap.add_argument("--b", required=True, help="variant (or mode) B, the reference")
    ap.add_argument("--strategy", help="only runs of this strategy")
    ap.add_argument("--metric", default="uar", help="summary key (default uar)")
    args = ap.parse_args(argv)
    try:
        runs = load_runs(args.runs)
        if args.strategy:
            runs = [r for r in runs if r["strategy"] == args.strategy]

        def of(name: str) -> list[dict]:
            chosen = [r for r in runs if r.get("variant", r["mode"]) == name]
            if not chosen:
                found = sorted({r.get("variant", r["mode"]) for r in runs})
                raise ValueError(f"no runs of variant {name!r} (found: {', '.join(found)})")
            return chosen

        result = paired_comparison(of(args.a), of(args.b), args.metric, (args.a, args.b))
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2
    print(result.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
