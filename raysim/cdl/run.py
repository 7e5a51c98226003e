"""One CDL run (one seed) end to end, and several seeds into one report."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from raysim.cdl.config import CDLConfig


def run_seed(
    cfg: CDLConfig,
    seed: int,
    *,
    rounds: int | None = None,
    progress: bool = True,
    weights_file: str | Path | None = None,
) -> dict[str, Any]:
    """Build the data, train the bank, the moderator and the classifier, score them.

    Needs Ray running. Returns the summaries (seen / unseen), the AE's choices per test
    mixture (for the confusion matrix) and timings; with `weights_file`, saves the
    specialists' and the generalist's flat weights there (.npz) for re-analysis."""
    from raysim.cdl.bank import train_bank
    from raysim.cdl.data import build_cdl_data
    from raysim.cdl.evaluate import score_bank
    from raysim.cdl.moderator import train_autoencoder, train_classifier

    t0 = time.perf_counter()
    sim_cfg = cfg.simulation_config(seed, rounds)
    data = build_cdl_data(cfg, seed)
    t_data = time.perf_counter() - t0
    if progress:
        sizes = [len(data.group_clients(g)) for g in range(data.n_groups)]
        print(f"seed {seed}: {len(data.train.clients)} clients in groups {sizes} "
              f"({', '.join(data.group_names)}); {len(data.test_class)} test mixtures "
              f"({int(data.test_seen.sum())} seen)", flush=True)  # fmt: skip
    bank = train_bank(sim_cfg, data, cfg.trial, generalist=cfg.generalist,
                      concurrent=cfg.concurrent, progress=progress)  # fmt: skip
    t1 = time.perf_counter()
    if weights_file is not None:
        gen = {} if bank.generalist is None else {"generalist": bank.generalist}
        np.savez(weights_file, specialists=np.stack(bank.specialists), **gen)
    ae = train_autoencoder(data.clean_training_speech(), cfg.moderator, seed)
    mixtures, groups = data.training_rows()
    classifier = train_classifier(mixtures, groups, cfg.classifier, cfg.moderator)
    scores = score_bank(data, sim_cfg.task, bank.specialists, bank.generalist, ae, classifier,
                        with_stoi=cfg.stoi)  # fmt: skip
    return {
        "seed": seed,
        "groups": data.group_names,
        "group_clients": [data.group_clients(g) for g in range(data.n_groups)],
        "seen": scores.summary(scores.seen),
        "unseen": scores.summary(~scores.seen),
        "ae_pick": scores.ae_pick.tolist(),
        "classifier_pick": scores.classifier_pick.tolist(),
        "oracle_pick": np.argmax(scores.sdri, 1).tolist(),
        "test_class": scores.test_class.tolist(),
        "test_seen": scores.seen.tolist(),
        "sdri": scores.sdri.tolist(),
        "ae_train_loss": ae.final_loss,
        "ae_trained_on": ae.trained_on,
        "ae_train_items": ae.n_train,
        "bank_final_eval": bank.final_eval,
        "notes": data.notes,
        "wall_s": {
            "data": t_data,
            "bank": bank.wall_s,
            "moderator_and_scoring": time.perf_counter() - t1,
        },
    }


def run_seeds(
    cfg: CDLConfig,
    seeds: list[int],
    out: str | Path,
    *,
    rounds: int | None = None,
    address: str | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Every seed, then the report (`raysim.cdl.report`) beside `out` (JSON)."""
    from raysim.cdl.report import write_report
    from raysim.ray_runtime import init_ray, shutdown_ray

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    owns = init_ray(address, log_to_driver=False)  # the trials' Tune chatter; progress is ours
    results = []
    try:
        for seed in seeds:
            weights = out.parent / f"{out.stem}_seed{seed}_weights.npz"
            results.append(
                run_seed(cfg, seed, rounds=rounds, progress=progress, weights_file=weights)
            )
            out.write_text(json.dumps({"config": cfg.model_dump(mode="json"),
                                       "runs": results}, indent=1))  # fmt: skip
    finally:
        if owns:
            shutdown_ray()
    write_report(results, out.with_suffix(""))
    return results
