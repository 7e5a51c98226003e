"""Centralized training of a raysim task on the pooled client data.

The reference every FL paper reports beside its federation (and the whole of
PULSE, which is centralized itself): one model trained on every client's rows
together, in one process on one device, with the same validated config, task,
model, loss, local optimizer, LR schedule and evaluation as the federated run.
An epoch is one pass over the pooled rows with one optimizer that persists
across epochs (`local.optimizer`, `local.batch_size`, `local.clip_grad_norm`;
`local.lr_schedule` steps once per epoch). Strategy hooks do not apply.

Model selection follows the papers' best-validation checkpoint: the server's
held-out set is split once, seeded, into a validation share that picks the epoch
and a test share on which that epoch is reported, so the reported score never
chose itself. Runs need no Ray (`import raysim` loads Ray only for `Simulation`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from raysim.config import SimulationConfig
from raysim.data.clients import ClientData
from raysim.data.sources import SourceData, build_source
from raysim.engine.local import client_rng
from raysim.engine.local_optimizer import make_optimizer
from raysim.engine.lr_schedule import RoundLR
from raysim.registry import TASKS
from raysim.rng import Stream, stream
from raysim.tasks.base import ClientContext, Task

log = logging.getLogger(__name__)

VAL_PREFIX = "val_"


@dataclass
class CentralizedResult:
    """What a centralized run produced.

    Attributes:
        history: one record per epoch: ``epoch``, ``train_loss``, ``lr``, ``seconds``
            and the validation metrics prefixed ``val_``.
        best_epoch: the epoch (1-based) whose validation `select` metric was best.
        test_metrics: the best epoch's metrics on the test share of the held-out set.
        state_dict: the best epoch's model weights (on the CPU).
        n_train, n_val, n_test: rows pooled for training, held out for selection and
            for the test.
    """

    history: list[dict[str, float]]
    best_epoch: int
    test_metrics: dict[str, float]
    state_dict: dict[str, torch.Tensor]
    n_train: int
    n_val: int
    n_test: int


def pooled_rows(clients: ClientData) -> dict[str, np.ndarray]:
    """Every client's rows concatenated in client order."""
    parts = [clients.get(c) for c in range(len(clients))]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def split_held_out(
    data: dict[str, np.ndarray], val_fraction: float, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(validation, test) shares of the held-out arrays, rows drawn by a seeded
    permutation (a stream of its own: the same split for every model and method)."""
    n = len(next(iter(data.values())))
    n_val = math.floor(n * val_fraction)
    if not 0 < n_val < n:
        raise ValueError(
            f"val_fraction {val_fraction} of {n} held-out rows leaves no validation or no test row"
        )
    order = stream(seed, Stream.CENTRALIZED_SPLIT).permutation(n)
    val, test = np.sort(order[:n_val]), np.sort(order[n_val:])
    return {k: v[val] for k, v in data.items()}, {k: v[test] for k, v in data.items()}


def train_centralized(
    config: SimulationConfig,
    epochs: int,
    *,
    select: str,
    device: str | torch.device = "cpu",
    val_fraction: float = 0.5,
    data: SourceData | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> CentralizedResult:
    """Train `config`'s task centrally for `epochs` and report the best-validation epoch.

    Args:
        config: the validated simulation config (its data, task, local and seed).
        epochs: passes over the pooled training rows.
        select: the evaluation metric (higher is better) that picks the epoch, e.g.
            ``si_sdri`` or ``uar``.
        device: where the model trains and evaluates.
        val_fraction: share of the held-out rows used for selection; the rest is test.
        data: the built data source (default: built from ``config.data``).
        on_epoch: called with each epoch's record (progress, logging).
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    device = torch.device(device)
    data = data or build_source(config.data, config.seed)
    train = pooled_rows(data.clients)
    val, test = split_held_out(data.eval_data, val_fraction, config.seed)
    task = TASKS.build(config.task, data.info)
    torch.random.default_generator.manual_seed(config.seed)  # the federated run's init
    model = task.build_model().to(device)
    local = config.local
    schedule = RoundLR(local.lr_schedule, local.optimizer.lr, epochs)
    opt = make_optimizer(local.optimizer, model.parameters(), schedule.lr)
    history: list[dict[str, float]] = []
    best: tuple[float, int, dict[str, torch.Tensor]] | None = None
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        for group in opt.param_groups:
            group["lr"] = schedule.lr
        ctx = ClientContext(0, epoch, config.seed, client_rng(config.seed, epoch, 0), device)
        train_loss = _one_epoch(task, model, opt, train, ctx, local.batch_size,
                                local.clip_grad_norm, local.shuffle)  # fmt: skip
        scores = task.evaluate(model, val)
        if select not in scores:
            raise KeyError(f"select={select!r} is not an evaluation metric ({sorted(scores)})")
        record = {"epoch": epoch, "train_loss": train_loss, "lr": schedule.lr,
                  **{VAL_PREFIX + k: v for k, v in scores.items()},
                  "seconds": time.perf_counter() - t0}  # fmt: skip
        history.append(record)
        if on_epoch is not None:
            on_epoch(record)
        if math.isfinite(scores[select]) and (best is None or scores[select] > best[0]):
            best = (scores[select], epoch, _cpu_copy(model))
        schedule.end_round({"train_loss": train_loss, **record})
    if best is None:
        raise RuntimeError(f"validation {select} was never finite: nothing to report")
    model.load_state_dict(best[2])
    return CentralizedResult(
        history=history,
        best_epoch=best[1],
        test_metrics=task.evaluate(model, test),
        state_dict=best[2],
        n_train=len(next(iter(train.values()))),
        n_val=len(next(iter(val.values()))),
        n_test=len(next(iter(test.values()))),
    )


def _one_epoch(
    task: Task,
    model: nn.Module,
    opt: torch.optim.Optimizer,
    rows: dict[str, np.ndarray],
    ctx: ClientContext,
    batch_size: int,
    clip: float | None,
    shuffle: bool,
) -> float:
    """One seeded pass over the pooled rows; the mean training loss per row."""
    torch.manual_seed(int(ctx.rng.integers(2**62)))  # dropout, on CPU and GPU alike
    model.train()
    local = task.local_data(model, rows, None, ctx).to(ctx.device)
    order = ctx.rng.permutation(len(local)) if shuffle else None
    loss_sum, seen = torch.zeros((), device=ctx.device), 0
    for batch in local.batches(batch_size, order):
        opt.zero_grad()
        loss = task.loss(model, batch, ctx)
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        n = len(next(iter(batch.values())))
        loss_sum += loss.detach() * n  # summed on the device: no sync per step
        seen += n
    return float(loss_sum) / max(seen, 1)


def _cpu_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
