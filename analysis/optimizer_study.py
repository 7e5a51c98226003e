"""The optimizer study's report from its federated and centralized experiments.

    python analysis/optimizer_study.py results/sweeps/optimizer_study_se-20260101-120000 \
        results/sweeps/optimizer_study_se-centralized-20260101-120000 --out study/

Each directory is an experiment of the study's sweep file
(`experiments/configs/optimizer_study_se.yaml`), run with `experiments/sweep.py` (federated)
or `experiments/sweep.py --centralized` (Ray Train in Tune trials). Writes report.md (the
three findings per engine, seed by seed, and every arm) and the three figures:
training loss per optimizer, validation score per LR schedule, with vs without clipping.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from raysim.analysis.optimizer_study import findings, load_study, write_study_report
from raysim.analysis.tables import markdown
from raysim.config import ConfigError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("experiments", type=Path, nargs="+", help="experiment directories")
    ap.add_argument("--out", type=Path, help="output directory (default: FIRST/study)")
    ap.add_argument("--baseline", default="adam", help="the optimizer the findings center on")
    ap.add_argument("--first", type=int, help="steps drawn in the training-loss figure")
    args = ap.parse_args(argv)
    try:
        study = load_study(*args.experiments)
    except (ConfigError, ValueError) as err:
        print(err, file=sys.stderr)
        return 2
    import pandas as pd

    rows = [f.row(study.metric) for f in findings(study, args.baseline)]
    print(markdown(pd.DataFrame(rows)))
    out = args.out or args.experiments[0] / "study"
    print(f"report: {write_study_report(study, out, baseline=args.baseline, first=args.first)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
