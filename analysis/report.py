"""Write the Markdown report (tables + PNG plots) of a finished sweep.

python analysis/report.py results/sweeps/sweep_default-20250101-120000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from raysim.analysis import print_summary, write_report
from raysim.config import ConfigError
from raysim.sweep.results import load_experiment


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("experiment", type=Path, help="the sweep's experiment directory")
    ap.add_argument("--out", type=Path, help="output directory (default: EXPERIMENT/report)")
    args = ap.parse_args(argv)
    try:
        experiment = load_experiment(args.experiment)
    except (ConfigError, ValueError) as err:
        print(err, file=sys.stderr)
        return 2
    print_summary(experiment)
    print(f"report: {write_report(experiment, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
