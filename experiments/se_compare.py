"""FedEnhance and PULSE methods side by side on any speech and noise data.

    python experiments/se_compare.py [--config FILE] [--data-root DIR] [--rounds N]
        [--seeds 0 1 2] [--methods ...] [--out results/se_compare.json]

--config FILE is a compare config (`CompareConfig`): the `se_mixtures` data every
method shares (speech and noise, each `{corpus: NAME, root: DIR}` or `{manifest:
FILE.parquet}`; held_out, partition, noise_partition, SNRs, chunk length, sample
rate), model sizes, metrics, rounds and engine. The default is
experiments/configs/se_compare_example.yaml: FSDD speech + ESC-10 noise under
$RAYSIM_DATA_ROOT or --data-root DIR, small models.

Each method is its named config (experiments/configs/*.yaml) with the compare config
applied; the method keeps its own client kinds and noise clips (`METHOD_DATA_KEYS`)
and its own round count (pulse*.yaml 300, fedenhance.yaml 1000) unless the compare
config's `method_rounds` or `rounds`, or --rounds N, sets it. Each method runs
once per seed (--seeds). Prints the federation each method trains (clients × kind ×
noise classes × examples, held-out speakers and noise files) and a table of the final
held-out metrics, mean ± std over seeds: SI-SDRi is the gain over the unprocessed
input, `input_<m>` the input's own score and `<m>_delta` the gain. Writes every seed's
config, metrics, history and federation as JSON (--out) and both tables as Markdown
beside it (.md). A user error (a bad key or value, a missing folder or manifest) is
one line on stderr and exit status 2; `--debug` shows its traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from raysim.data.roots import DATA_ROOT_ENV, resolve_root
from raysim.input_checks import check_inputs
from raysim.ray_runtime import init_ray
from raysim.se_compare import METHODS, load_compare_config, method_config, report, run_method
from raysim.user_errors import add_debug_flag, run_cli

CONFIGS = Path(__file__).resolve().parent / "configs"
EXAMPLE_CONFIG = CONFIGS / "se_compare_example.yaml"


def run(a: argparse.Namespace) -> int:
    if a.data_root is not None or a.config is None:
        needs = ("fsdd", "esc10") if a.config is None else ()
        root = resolve_root(a.data_root, DATA_ROOT_ENV, flag="--data-root", needs=needs)
        os.environ[DATA_ROOT_ENV] = str(root)
    compare = load_compare_config(a.config or EXAMPLE_CONFIG)
    if a.rounds is not None:
        compare.rounds, compare.method_rounds = a.rounds, {}
    if a.test_seconds is not None:
        compare.data.test_chunk_seconds = a.test_seconds
    methods = a.methods or compare.methods
    for name in methods:  # every config error before any run
        check_inputs(method_config(name, compare, a.seeds[0], CONFIGS))
    init_ray()
    results = {name: run_method(name, compare, a.seeds, CONFIGS) for name in methods}
    text = report(results)
    print("\n" + text)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"compare_config": compare.model_dump(), "methods": results},
                                indent=1))  # fmt: skip
    a.out.with_suffix(".md").write_text(text)
    print(f"wrote {a.out} and {a.out.with_suffix('.md')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", type=Path, default=None,
                    help="compare config (default: configs/se_compare_example.yaml)")  # fmt: skip
    ap.add_argument("--data-root", help=f"sets ${DATA_ROOT_ENV}; the default config needs "
                    "fsdd/ and esc10/ there")  # fmt: skip
    ap.add_argument("--rounds", type=int, default=None,
                    help="every method's rounds (default: config, else named config)")  # fmt: skip
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--test-seconds", type=float, default=None,
                    help="held-out example length (data.test_chunk_seconds)")  # fmt: skip
    ap.add_argument("--methods", nargs="+", default=None, choices=list(METHODS))
    ap.add_argument("--out", type=Path, default=Path("results/se_compare.json"))
    add_debug_flag(ap)
    a = ap.parse_args(argv)
    return run_cli(lambda: run(a), a.debug)


if __name__ == "__main__":
    sys.exit(main())
