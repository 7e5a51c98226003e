"""Run one federated simulation from a YAML config with dotted overrides.

    python experiments/run.py --config experiments/configs/default.yaml \
        local.optimizer.name=adam local.optimizer.lr=1e-3 rounds=50
    python experiments/run.py --config experiments/configs/urdu_egemaps.yaml --describe

Prints progress while it runs, then the final metrics; `--out FILE` writes the
round history as JSON and the federation (clients × speakers × classes ×
examples, the held-out set) as federation.json beside it. `--describe` prints
the federation and exits without training. A user error (a bad key or value, a
missing data path) is one line on stderr and exit status 2; `--debug` shows its
traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import raysim
from raysim.config import load_config
from raysim.input_checks import check_inputs
from raysim.user_errors import add_debug_flag, run_cli


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    check_inputs(config)  # before Ray starts
    if args.describe:
        raysim.describe(config)
        return 0
    sim = raysim.Simulation(config, address=args.address)
    result = sim.run(resume=args.resume)
    print(json.dumps({"rounds": len(result.history), **result.metrics}, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result.history, indent=1))
        if result.federation is not None:
            result.federation.save(args.out.parent)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", help="YAML config (default: built-in defaults)")
    ap.add_argument("--address", help="Ray cluster address, e.g. 'auto' (default: local Ray)")
    ap.add_argument("--resume", action="store_true", help="continue from checkpoint.dir")
    out_help = "write the round history here (JSON), federation.json beside it"
    ap.add_argument("--out", type=Path, help=out_help)
    describe_help = "print the clients and the held-out set, then exit (no training)"
    ap.add_argument("--describe", action="store_true", help=describe_help)
    add_debug_flag(ap)
    ap.add_argument("overrides", nargs="*", help="dotted key=value overrides")
    args = ap.parse_args(argv)
    return run_cli(lambda: run(args), args.debug)


if __name__ == "__main__":
    sys.exit(main())
