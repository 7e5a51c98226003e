"""Centralized training on Ray Train: DDP over `centralized.num_workers` workers.

The same run as `raysim.centralized.train_centralized` (model, initial weights, loss,
optimizer, LR schedule, validation split and best-epoch selection: its `EpochLoop`),
spread over Ray Train's `TorchTrainer` workers: gloo on CPUs, nccl on GPUs
(`centralized.use_gpu`). Each epoch every worker prepares the same pooled training
tensors (same seeded context), takes its shard of them through a `DistributedSampler`
seeded with the config's seed (`set_epoch` per epoch), and steps on minibatches of
``batch_size // num_workers`` rows, so the global minibatch is the configured one and
the run is reproducible for a given worker count. Rank 0 validates, broadcasts the
scores (the schedule steps the same everywhere), reports each epoch's record through
`ray.train.report` with a `Checkpoint` every `centralized.checkpoint_every` epochs and
at the last, and a run that finds a checkpoint (`ray.train.get_checkpoint`: the same
`centralized.run_name` and `storage_path` rerun, or `resume_from`) continues after its
epoch. The driver then evaluates the best epoch's weights on the test share.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import ray
import torch

from raysim.centralized import (
    CentralizedResult,
    EpochLoop,
    Pooled,
    seeded_model,
    split_held_out,
    test_result,
)
from raysim.config import SimulationConfig
from raysim.data.sources import SourceData, build_source
from raysim.registry import TASKS

STATE_FILE = "state.pt"
"""The file in each Ray Train checkpoint directory (`EpochLoop.state` + the epoch)."""


def train_loop_per_worker(loop_config: dict[str, Any]) -> None:
    """One Ray Train worker: its DDP share of every epoch (see the module docstring)."""
    import ray.train
    import ray.train.torch
    import torch.distributed as dist
    from torch.utils.data import DistributedSampler

    config: SimulationConfig = loop_config["config"]
    data: SourceData = ray.get(loop_config["data"])
    c = config.centralized
    ctx_train = ray.train.get_context()
    rank, world = ctx_train.get_world_rank(), ctx_train.get_world_size()
    device = ray.train.torch.get_device()
    task = TASKS.build(config.task, data.info)
    train = Pooled(data.clients, c.pool)
    val, _ = split_held_out(data.eval_data, c.val_fraction, config.seed)
    select = c.selection_metric(config.task.name)
    model = seeded_model(config, task).to(device)
    state = _restore_point(loop_config.get("resume_from"))
    if state is not None:
        model.load_state_dict(state["model"])
    model = ray.train.torch.prepare_model(model) if world > 1 else model
    loop = EpochLoop(config, task, model, c.epochs, select, device)
    first = loop.restore(state) + 1 if state is not None else 1
    per_worker = max(1, (c.batch_size or config.local.batch_size) // world)
    for epoch in range(first, c.epochs + 1):
        t0 = time.perf_counter()
        loop.start_epoch()
        ctx = loop.context(epoch)
        torch.manual_seed(int(ctx.rng.integers(2**62)))
        loop.model.train()
        local = train.local_data(task, loop.module, ctx)
        sampler = DistributedSampler(
            range(len(local)), num_replicas=world, rank=rank, shuffle=config.local.shuffle,
            seed=config.seed,
        )  # fmt: skip
        sampler.set_epoch(epoch)
        order = np.fromiter(iter(sampler), dtype=np.int64)
        loss_sum, seen = loop.train_steps(local, order, per_worker, ctx)
        totals = torch.stack([loss_sum.double(), torch.tensor(float(seen), device=device).double()])
        if world > 1:
            dist.all_reduce(totals)
        scores = [task.evaluate(loop.module, val) if rank == 0 else None]
        if world > 1:
            dist.broadcast_object_list(scores, src=0)
        record = loop.end_epoch(epoch, float(totals[0] / totals[1].clamp(min=1)), scores[0],
                                time.perf_counter() - t0)  # fmt: skip
        due = epoch == c.epochs or (c.checkpoint_every and epoch % c.checkpoint_every == 0)
        with tempfile.TemporaryDirectory() as folder:
            checkpoint = None
            if due and rank == 0:
                torch.save(loop.state(), os.path.join(folder, STATE_FILE))
                checkpoint = ray.train.Checkpoint.from_directory(folder)
            ray.train.report(record, checkpoint=checkpoint)


def _restore_point(resume_from: str | None) -> dict[str, Any] | None:
    """The state to continue from: Ray Train's latest checkpoint (a rerun of the same
    run name and storage) before an explicit `resume_from` folder; None: start afresh."""
    import ray.train

    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            return _load_state(folder)
    return _load_state(resume_from) if resume_from else None


def _load_state(folder: str) -> dict[str, Any]:
    return torch.load(Path(folder) / STATE_FILE, weights_only=True, map_location="cpu")


def train_centralized_ray(
    config: SimulationConfig,
    *,
    data: SourceData | None = None,
    resume_from: str | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
    callbacks: list[Any] | None = None,
) -> CentralizedResult:
    """Train `config`'s task on the pooled client data with Ray Train (Ray must be
    running: `raysim.ray_runtime.init_ray`), as `config.centralized` says; the best
    validation epoch's weights evaluated on the test share.

    Args:
        config: the validated config; its `centralized` section sets epochs, workers,
            GPUs, the global batch size and where Ray Train keeps checkpoints.
        data: the built data source (default: built from ``config.data``); shipped to
            the workers once through the object store.
        resume_from: a checkpoint folder (holding ``state.pt``) to continue from when
            Ray Train has none of its own for this run name.
        on_epoch: called with the records of the run (after it ends: Ray Train prints
            per-epoch progress itself).
        callbacks: Ray Train callbacks of the run (e.g. Tune's ``TuneReportCallback``,
            which hands each epoch's record to the Tune trial running this fit).
    """
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    c = config.centralized
    data = data or build_source(config.data, config.seed)
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={"config": config, "data": ray.put(data), "resume_from": resume_from},
        scaling_config=ScalingConfig(
            num_workers=c.num_workers, use_gpu=c.use_gpu,
            resources_per_worker={"CPU": c.cpus_per_worker, **({"GPU": 1} if c.use_gpu else {})},
        ),
        run_config=RunConfig(
            name=c.run_name,
            storage_path=str(Path(c.storage_path).absolute()) if c.storage_path else None,
            checkpoint_config=CheckpointConfig(num_to_keep=c.keep),
            failure_config=FailureConfig(max_failures=c.max_failures),
            callbacks=callbacks,
        ),
    )  # fmt: skip
    result = trainer.fit()
    if result.checkpoint is None:
        raise RuntimeError("Ray Train returned no checkpoint")
    with result.checkpoint.as_directory() as folder:
        state = _load_state(folder)
    if on_epoch is not None:
        for record in state["history"]:
            on_epoch(record)
    train = Pooled(data.clients, c.pool)
    val, test = split_held_out(data.eval_data, c.val_fraction, config.seed)
    task = TASKS.build(config.task, data.info)
    loop = EpochLoop(config, task, seeded_model(config, task), c.epochs,
                     c.selection_metric(config.task.name), torch.device("cpu"))  # fmt: skip
    loop.best.restore(state["best"])
    return test_result(task, loop.best, state["history"], len(train), val, test)
