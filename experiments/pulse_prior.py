"""Measure the class prior π that PULSE's PU risk should be given for a data config.

    python experiments/pulse_prior.py --config experiments/configs/pulse.yaml \
        data.speech.root=DIR/fsdd ...

Builds the config's `se_mixtures` training mixtures as supervised ones (so speech and
noise are known; same recipe, same seed) and prints the share of the PULSE CNN's STFT
bins that noise dominates (π for `task.nnpu.prior`), and that share weighted by |X|.
"""

from __future__ import annotations

import argparse
import sys

from raysim.centralized import pooled_rows
from raysim.config import ConfigError, load_config
from raysim.data.sources import build_source
from raysim.se.prior import noise_dominated_share


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", required=True, help="a PULSE config (se_mixtures + pulse_cnn)")
    ap.add_argument("overrides", nargs="*", help="dotted key=value overrides")
    args = ap.parse_args(argv)
    try:
        config = load_config(
            args.config, [*args.overrides, "data.p_supervised=1.0", "data.p_pu=0.0"]
        )
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    rows = pooled_rows(build_source(config.data, config.seed).clients)
    model = config.task.model
    share, weighted = noise_dominated_share(rows["speech"], rows["noise"], model.n_fft, model.hop)
    print(f"{len(rows['speech'])} mixtures, STFT {model.n_fft}/{model.hop}: noise-dominated "
          f"bins {share:.3f} (π), weighted by |X| {weighted:.3f}; "
          f"task.nnpu.prior is {config.task.nnpu.prior}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
