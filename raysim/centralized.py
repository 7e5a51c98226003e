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

from raysim.config import SimulationConfig, parse_config
from raysim.data.clients import ClientData
from raysim.data.sources import SourceData, build_source
from raysim.dotted import merge
from raysim.engine.local import client_rng
from raysim.engine.local_optimizer import make_optimizer
from raysim.engine.lr_schedule import RoundLR
from raysim.registry import TASKS
from raysim.rng import Stream, stream
from raysim.round_record import EVAL_PREFIX
from raysim.tasks.base import ClientContext, LocalData, Task

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


@dataclass
class Pooled:
    """The pooled training data of a run, prepared one of two ways (`centralized.pool`):
    ``rows``, the clients' rows concatenated and prepared as one client; ``clients``,
    each client's rows prepared as that client (its own standardisation, label mask)
    and the prepared tensors concatenated."""

    clients: ClientData
    how: str = "rows"

    def __post_init__(self) -> None:
        self.rows = pooled_rows(self.clients) if self.how == "rows" else None

    def __len__(self) -> int:
        return sum(self.clients.num_samples(c) for c in range(len(self.clients)))

    def local_data(self, task: Task, model: nn.Module, ctx: ClientContext) -> LocalData:
        """The epoch's training tensors (on `ctx.device`), drawing on `ctx.rng`."""
        if self.rows is not None:
            return task.local_data(model, self.rows, None, ctx).to(ctx.device)
        parts = []
        for c in range(len(self.clients)):
            cctx = ClientContext(c, ctx.round, ctx.seed, client_rng(ctx.seed, ctx.round, c),
                                 ctx.device)  # fmt: skip
            part = task.local_data(model, self.clients.get(c), None, cctx)
            if type(part) is not LocalData:
                raise ValueError(f"centralized.pool=clients cannot join {type(part).__name__}")
            if len(part):
                parts.append(part.tensors)
        return LocalData({k: torch.cat([p[k] for p in parts]) for k in parts[0]}).to(ctx.device)


class BestEpoch:
    """The best-validation epoch so far: its score, number and CPU weights."""

    def __init__(self, select: str):
        self.select = select
        self.score: float | None = None
        self.epoch = 0
        self.state_dict: dict[str, torch.Tensor] | None = None

    def update(self, epoch: int, scores: dict[str, float], model: nn.Module) -> None:
        """Keep `model`'s weights if its validation `select` score is the best yet."""
        if self.select not in scores:
            raise KeyError(f"select={self.select!r} is not an evaluation metric ({sorted(scores)})")
        score = scores[self.select]
        if math.isfinite(score) and (self.score is None or score > self.score):
            self.score, self.epoch, self.state_dict = score, epoch, _cpu_copy(model)

    def checkpoint(self) -> dict[str, object]:
        return {"score": self.score, "epoch": self.epoch, "state_dict": self.state_dict}

    def restore(self, state: dict[str, object]) -> None:
        self.score, self.epoch = state["score"], state["epoch"]
        self.state_dict = state["state_dict"]


@dataclass
class EpochLoop:
    """The per-epoch training, validation and selection both trainers share: the
    in-process `train_centralized` and each Ray Train worker
    (`raysim.centralized_train`). The optimizer persists across epochs;
    `local.lr_schedule` steps once per epoch."""

    config: SimulationConfig
    task: Task
    model: nn.Module  # what trains (a DDP wrapper under Ray Train)
    epochs: int
    select: str
    device: torch.device

    def __post_init__(self) -> None:
        local = self.config.local
        self.schedule = RoundLR(local.lr_schedule, local.optimizer.lr, self.epochs)
        self.opt = make_optimizer(local.optimizer, self.model.parameters(), self.schedule.lr)
        self.best = BestEpoch(self.select)
        self.history: list[dict[str, float]] = []

    @property
    def module(self) -> nn.Module:
        """The model itself (unwrapped from DDP)."""
        return getattr(self.model, "module", self.model)

    def context(self, epoch: int) -> ClientContext:
        """The epoch's context: one pseudo-client (id 0) whose round is the epoch."""
        seed = self.config.seed
        return ClientContext(0, epoch, seed, client_rng(seed, epoch, 0), self.device)

    def start_epoch(self) -> None:
        for group in self.opt.param_groups:
            group["lr"] = self.schedule.lr

    def end_epoch(
        self, epoch: int, train_loss: float, scores: dict[str, float], seconds: float
    ) -> dict[str, float]:
        """Record the epoch, keep its weights if best, step the schedule; the record.

        A plateau schedule watches the epoch's record: ``train_loss``, a ``val_*`` score,
        or an ``eval_*`` name, which here reads the validation share's score (in a
        federated run the server's held-out evaluation), so one config's
        ``monitor: eval_si_sdri`` decays on stalled validation in both."""
        record = {"epoch": epoch, "train_loss": train_loss, "lr": self.schedule.lr,
                  **{VAL_PREFIX + k: v for k, v in scores.items()}, "seconds": seconds}  # fmt: skip
        self.history.append(record)
        self.best.update(epoch, scores, self.module)
        self.schedule.end_round({**record, **{EVAL_PREFIX + k: v for k, v in scores.items()}})
        return record

    def train_steps(
        self, local: LocalData, order: np.ndarray | None, batch_size: int, ctx: ClientContext
    ) -> tuple[torch.Tensor, int]:
        """Minibatch steps over `local` in `order`: (summed loss on the device, rows)."""
        clip = self.config.local.clip_grad_norm
        loss_sum, seen = torch.zeros((), device=ctx.device), 0
        for batch in local.batches(batch_size, order):
            self.opt.zero_grad()
            loss = self.task.loss(self.model, batch, ctx)
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(self.model.parameters(), clip)
            self.opt.step()
            n = len(next(iter(batch.values())))
            loss_sum += loss.detach() * n  # summed on the device: no sync per step
            seen += n
        return loss_sum, seen

    def state(self) -> dict[str, object]:
        """Everything a resumed run needs (torch.save-able, weights_only loadable)."""
        return {"model": _cpu_copy(self.module), "opt": self.opt.state_dict(),
                "schedule": self.schedule.state_dict(), "best": self.best.checkpoint(),
                "history": self.history}  # fmt: skip

    def restore(self, state: dict[str, object]) -> int:
        """Load `state` (model weights first, before any DDP wrap); the last epoch run."""
        self.module.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.schedule.load_state_dict(state["schedule"])
        self.best.restore(state["best"])
        self.history = list(state["history"])
        return int(self.history[-1]["epoch"]) if self.history else 0


def seeded_model(config: SimulationConfig, task: Task) -> nn.Module:
    """The task's model with the federated run's initial weights."""
    torch.random.default_generator.manual_seed(config.seed)
    return task.build_model()


def test_result(
    task: Task, best: BestEpoch, history: list[dict[str, float]], train_rows: int,
    val: dict[str, np.ndarray], test: dict[str, np.ndarray],
) -> CentralizedResult:  # fmt: skip
    """The best epoch's weights evaluated on the test share."""
    if best.state_dict is None:
        raise RuntimeError(f"validation {best.select} was never finite: nothing to report")
    model = task.build_model()
    model.load_state_dict(best.state_dict)
    return CentralizedResult(
        history=history,
        best_epoch=best.epoch,
        test_metrics=task.evaluate(model, test),
        state_dict=best.state_dict,
        n_train=train_rows,
        n_val=len(next(iter(val.values()))),
        n_test=len(next(iter(test.values()))),
    )


def train_centralized(
    config: SimulationConfig,
    epochs: int | None = None,
    *,
    select: str | None = None,
    device: str | torch.device = "cpu",
    val_fraction: float | None = None,
    data: SourceData | None = None,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> CentralizedResult:
    """Train `config`'s task centrally, in this process, and report the best-validation epoch.

    Args:
        config: the validated simulation config (its data, task, local, seed and
            `centralized` section, which supplies what the arguments leave out).
        epochs: passes over the pooled training rows.
        select: the evaluation metric (higher is better) that picks the epoch, e.g.
            ``si_sdri`` or ``uar``.
        device: where the model trains and evaluates.
        val_fraction: share of the held-out rows used for selection; the rest is test.
        data: the built data source (default: built from ``config.data``).
        on_epoch: called with each epoch's record (progress, logging).
    """
    c = config.centralized
    epochs = c.epochs if epochs is None else epochs
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    select = select or c.selection_metric(config.task.name)
    device = torch.device(device)
    data = data or build_source(config.data, config.seed)
    train = Pooled(data.clients, c.pool)
    val, test = split_held_out(data.eval_data, c.val_fraction if val_fraction is None
                               else val_fraction, config.seed)  # fmt: skip
    task = TASKS.build(config.task, data.info)
    loop = EpochLoop(config, task, seeded_model(config, task).to(device), epochs, select, device)
    batch_size = c.batch_size or config.local.batch_size
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        loop.start_epoch()
        ctx = loop.context(epoch)
        torch.manual_seed(int(ctx.rng.integers(2**62)))  # dropout, on CPU and GPU alike
        loop.model.train()
        local = train.local_data(task, loop.model, ctx)
        order = ctx.rng.permutation(len(local)) if config.local.shuffle else None
        loss_sum, seen = loop.train_steps(local, order, batch_size, ctx)
        scores = task.evaluate(loop.model, val)
        record = loop.end_epoch(epoch, float(loss_sum) / max(seen, 1), scores,
                                time.perf_counter() - t0)  # fmt: skip
        if on_epoch is not None:
            on_epoch(record)
    return test_result(task, loop.best, loop.history, len(train), val, test)


def fold_configs(config: SimulationConfig, folds: int | None) -> list[SimulationConfig]:
    """The config once per speaker fold (``data.held_out.folds=folds``, fold 0 ..
    folds-1: the protocol of ``experiments/semi_fedser.py --folds``); without `folds`,
    the config itself."""
    if not folds:
        return [config]
    base = config.model_dump()
    return [
        parse_config(
            merge(base, {"data": {"held_out": {"folds": folds, "groups": None, "fold": k}}})
        )  # fmt: skip
        for k in range(folds)
    ]


def _cpu_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
