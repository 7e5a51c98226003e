"""Run one federated simulation from a YAML config with dotted overrides.

    python experiments/run.py --config experiments/configs/default.yaml \
        local.optimizer.name=adam local.optimizer.lr=1e-3 rounds=50

Prints progress while it runs, then the final metrics; `--out` writes the
round history as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import raysim
from raysim.config import ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", help="YAML config (default: built-in defaults)")
    ap.add_argument("--address", help="Ray cluster address, e.g. 'auto' (default: local Ray)")
    ap.add_argument("--resume", action="store_true", help="continue from checkpoint.dir")
    ap.add_argument("--out", type=Path, help="write the round history here (JSON)")
    ap.add_argument("overrides", nargs="*", help="dotted key=value overrides")
    args = ap.parse_args(argv)
    try:
        config = load_config(args.config, args.overrides)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    result = raysim.Simulation(config, address=args.address).run(resume=args.resume)
    print(json.dumps({"rounds": len(result.history), **result.metrics}, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result.history, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
