"""Collaborative deep learning (Kim, ICASSP 2017) on federated SE specialists (issue #17).

    python experiments/cdl.py [--config FILE] [--data-root DIR] [--seeds 0 1 2]
        [--rounds N] [--address auto] [--out results/cdl/cdl.json] [key=value ...]
    python experiments/cdl.py --report A.json B.json --out merged.json

Clients are grouped by condition (`condition`: noise class or SNR band from the
metadata, or k-means clusters of their mixtures' log spectra); one federated model
per group (a specialist) and one on all clients (the generalist) train side by side
as `raysim.Simulation`s on Ray; an autoencoder trained on clean speech spectra only
picks, per test mixture, the specialist output it reconstructs best. A logistic
classifier of the condition, trained on the noisy training mixtures, is the gating
baseline. Test mixtures cover the seen noise classes and `unseen_classes` no
specialist saw.

The default config is experiments/configs/cdl_fsdd_esc10.yaml (FSDD + ESC-10 under
$RAYSIM_DATA_ROOT or --data-root DIR). `key=value` overrides any config key
(`simulation.rounds=20`, `moderator.epochs=30`). Writes the per-seed results as
JSON (--out) and beside it the report: .md (table of choices (a)-(g) on seen and
unseen noise, selection accuracies, the AE's confusion matrix), _bars.png and
_confusion.png. A user error is one line on stderr and exit status 2 (`--debug`
shows its traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from raysim.cdl.config import load_cdl_config
from raysim.config import ConfigError
from raysim.data.roots import DATA_ROOT_ENV, resolve_root
from raysim.user_errors import add_debug_flag, run_cli

CONFIGS = Path(__file__).resolve().parent / "configs"
DEFAULT_CONFIG = CONFIGS / "cdl_fsdd_esc10.yaml"


def merge_reports(files: list[Path], out: Path) -> int:
    """The report of the runs in earlier --out files together (e.g. seeds run apart)."""
    from raysim.cdl.report import table, write_report

    runs = []
    for f in files:
        if not f.is_file():
            raise ConfigError(f"--report: no such file {f}")
        runs += json.loads(f.read_text())["runs"]
    runs.sort(key=lambda r: r["seed"])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"runs": runs}, indent=1))
    paths = write_report(runs, out.with_suffix(""))
    print("\n" + table(runs))
    print(f"wrote {out}, " + ", ".join(str(p) for p in paths.values()))
    return 0


def run(a: argparse.Namespace) -> int:
    from raysim.cdl.report import table
    from raysim.cdl.run import run_seeds

    if a.report:
        return merge_reports(a.report, a.out)

    if a.data_root is not None or a.config is None:
        needs = ("fsdd", "esc10") if a.config is None else ()
        root = resolve_root(a.data_root, DATA_ROOT_ENV, flag="--data-root", needs=needs)
        os.environ[DATA_ROOT_ENV] = str(root)
    cfg = load_cdl_config(a.config or DEFAULT_CONFIG, a.overrides)
    problems = cfg.data.input_problems()
    if problems:
        key, message = problems[0]
        raise ConfigError(f"data.{key}: {message}")
    results = run_seeds(cfg, a.seeds, a.out, rounds=a.rounds, address=a.address)
    print("\n" + table(results))
    stem = a.out.with_suffix("")
    print(f"wrote {a.out}, {stem}.md, {stem}_bars.png, {stem}_confusion.png")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", type=Path, default=None,
                    help="CDL config (default: configs/cdl_fsdd_esc10.yaml)")  # fmt: skip
    ap.add_argument("--data-root", help=f"sets ${DATA_ROOT_ENV}; the default config needs "
                    "fsdd/ and esc10/ there")  # fmt: skip
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--rounds", type=int, default=None, help="every model's rounds")
    ap.add_argument("--address", default=None, help="Ray cluster to join ('auto'); default local")
    ap.add_argument("--out", type=Path, default=Path("results/cdl/cdl.json"))
    ap.add_argument("--report", type=Path, nargs="+", default=None,
                    help="no run: merge these --out files into one report at --out")  # fmt: skip
    ap.add_argument("overrides", nargs="*", help="dotted key=value config overrides")
    add_debug_flag(ap)
    a = ap.parse_args(argv)
    return run_cli(lambda: run(a), a.debug)


if __name__ == "__main__":
    sys.exit(main())
