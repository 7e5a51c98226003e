"""Local training of one client: the single loop every method plugs into.

A method is a loss (the task) plus a client hook (the strategy); this loop
owns the optimizer, batching, clipping and the determinism rules: the
client's shuffling and randomness are seeded from (seed, round, client id),
so a client trains identically on whichever worker runs it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from raysim.config import LocalConfig
from raysim.engine.flat import flat_grad, get_flat, set_flat
from raysim.engine.local_optimizer import make_optimizer
from raysim.engine.strategies.base import Strategy
from raysim.rng import Stream, stream
from raysim.tasks.base import ClientContext, LocalData, Task


def client_rng(seed: int, round_idx: int, client_id: int) -> np.random.Generator:
    """The generator for everything random a client does in a round."""
    return stream(seed, round_idx, client_id, Stream.CLIENT_TRAINING)


@dataclass
class ClientResult:
    """What one client's local training produced."""

    delta: np.ndarray  # y - x over the flat state
    n_samples: int
    steps: int  # optimizer steps taken (0: nothing to train on, e.g. no labelled rows)
    loss_sum: float  # sum of minibatch losses weighted by batch size
    extra: dict[str, np.ndarray]  # strategy vectors to sum (e.g. SCAFFOLD's dc)
    state: dict[str, np.ndarray] | None  # new persistent client state (None: unchanged)
    metrics: dict[str, float]  # task counters to sum over the round


def full_batch_gradient(
    task: Task, model: nn.Module, local: LocalData, ctx: ClientContext, batch: int
):
    """Gradient of the client's mean loss over all its data at the model's weights."""
    model.zero_grad()
    for b in local.batches(batch):
        (task.loss(model, b, ctx) * (len(next(iter(b.values()))) / len(local))).backward()
    grad = flat_grad(model).detach().clone()
    model.zero_grad()
    return grad


def train_client(
    task: Task,
    model: nn.Module,
    strategy: Strategy,
    cfg: LocalConfig,
    lr: float,
    global_vec: np.ndarray,
    payload: dict[str, np.ndarray],
    data: dict[str, np.ndarray],
    state: dict[str, np.ndarray] | None,
    ctx: ClientContext,
) -> ClientResult:
    """Run one client's local work from the global weights and return its update."""
    set_flat(model, global_vec)
    # dropout etc.; CPU generator only: torch.manual_seed would queue a lazy CUDA
    # seeding call (with a formatted stack trace) per client on CUDA builds
    torch.random.default_generator.manual_seed(int(ctx.rng.integers(2**62)))
    model.train()
    local = task.local_data(model, data, state, ctx).to(ctx.device)
    hook = strategy.client_hook(global_vec, payload, state)
    opt = make_optimizer(cfg.optimizer, model.parameters(), lr)
    steps, loss_sum, seen = 0, 0.0, 0
    while True:
        for _ in range(cfg.epochs if cfg.steps is None else 1):
            order = ctx.rng.permutation(len(local)) if cfg.shuffle else None
            for batch in local.batches(cfg.batch_size, order):
                opt.zero_grad()
                loss = task.loss(model, batch, ctx)
                loss.backward()
                hook.before_step(model)
                if cfg.clip_grad_norm is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad_norm)
                opt.step()
                hook.after_step(model, lr)
                n = len(next(iter(batch.values())))
                loss_sum += float(loss.detach()) * n
                seen += n
                steps += 1
                if cfg.steps is not None and steps >= cfg.steps:
                    break
        if cfg.steps is None or steps >= cfg.steps or len(local) == 0:
            break
    delta = get_flat(model) - global_vec

    def full_gradient() -> torch.Tensor:
        set_flat(model, global_vec)
        return full_batch_gradient(task, model, local, ctx, cfg.batch_size)

    # a client that took no step has nothing to report to the strategy (SCAFFOLD would
    # otherwise derive c_i⁺ from a zero update)
    extra, hook_state = hook.finish(delta, steps, lr, full_gradient) if steps else ({}, None)
    new_state = None
    if hook_state is not None or ctx.state_updates:
        new_state = {**(state or {}), **ctx.state_updates, **(hook_state or {})}
    return ClientResult(
        delta=delta,
        n_samples=task.num_samples(data),
        steps=steps,
        loss_sum=loss_sum / max(seen, 1) * task.num_samples(data),
        extra=extra,
        state=new_state,
        metrics=dict(ctx.metrics),
    )
