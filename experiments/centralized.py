"""Train a config's task centrally on the pooled client data (no federation, no Ray).

    python experiments/centralized.py --config experiments/configs/pulse.yaml \
        --epochs 100 --device cuda --out results/pulse_central.json \
        data.speech.root=DIR/fsdd local.optimizer.lr=1e-3

The same YAML and dotted overrides as experiments/run.py; `rounds`, `sampling` and
`strategy` do not apply. The server's held-out set is split into validation rows,
which pick the best epoch (`--select`), and test rows, on which it is reported.
Prints one line per epoch and the test metrics; `--out` writes the history, the
best epoch and its test metrics as JSON, `--save-model` the best weights. A user
error (a bad key or value, a missing data path) is one line on stderr and exit
status 2; `--debug` shows its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from raysim.centralized import train_centralized
from raysim.config import load_config
from raysim.input_checks import check_inputs
from raysim.user_errors import add_debug_flag, run_cli

DEFAULT_SELECT = {"speech_enhancement": "si_sdri"}
"""Task → the validation metric that picks the epoch (other tasks: ``uar``)."""


def write_json(path: Path, body: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, indent=1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", help="YAML config (default: built-in defaults)")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--select", help="validation metric to maximise (default: by task)")
    ap.add_argument("--val-fraction", type=float, default=0.5,
                    help="share of the held-out rows that selects the epoch")  # fmt: skip
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", type=Path, help="write history and test metrics here (JSON)")
    ap.add_argument("--save-model", type=Path, help="write the best epoch's state_dict here")
    add_debug_flag(ap)
    ap.add_argument("overrides", nargs="*", help="dotted key=value overrides")
    args = ap.parse_args(argv)
    return run_cli(lambda: run(args), args.debug)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.overrides)
    check_inputs(config)
    select = args.select or DEFAULT_SELECT.get(config.task.name, "uar")

    history: list[dict[str, float]] = []

    def show(record: dict[str, float]) -> None:
        print(f"epoch {record['epoch']:4d}  train_loss {record['train_loss']:.4f}  "
              f"val_{select} {record['val_' + select]:.3f}  {record['seconds']:.1f} s",
              flush=True)  # fmt: skip
        if args.out:  # the curve so far survives an interrupted run
            history.append(record)
            write_json(args.out, {"select": select, "history": history})

    result = train_centralized(config, args.epochs, select=select, device=args.device,
                               val_fraction=args.val_fraction, on_epoch=show)  # fmt: skip
    summary = {"best_epoch": result.best_epoch, "n_train": result.n_train, "n_val": result.n_val,
               "n_test": result.n_test, "test": result.test_metrics}  # fmt: skip
    print(json.dumps(summary, indent=1))
    if args.out:
        write_json(args.out, {**summary, "select": select, "history": result.history,
                              "config": config.model_dump(mode="json")})  # fmt: skip
    if args.save_model:
        args.save_model.parent.mkdir(parents=True, exist_ok=True)
        torch.save(result.state_dict, args.save_model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
