"""The task interface: one training loop serves every method; a task plugs in the
model, how a client's raw data becomes local training tensors, the loss of one
minibatch, and the server-side evaluation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel
from torch import nn


@dataclass
class ClientContext:
    """What a client knows about the round it is training in."""

    client_id: int
    round: int
    seed: int
    rng: np.random.Generator  # seeded from (seed, round, client id): shuffling, masks...
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    metrics: dict[str, float] = field(default_factory=dict)  # summed over clients per round
    state_updates: dict[str, np.ndarray] = field(default_factory=dict)  # persisted client state

    def add_metric(self, name: str, value: float) -> None:
        """Add to a per-round counter that is summed over all clients of the round."""
        self.metrics[name] = self.metrics.get(name, 0.0) + float(value)


class LocalData:
    """A client's local training tensors, all with the same first dimension."""

    def __init__(self, tensors: dict[str, torch.Tensor]):
        sizes = {len(t) for t in tensors.values()}
        if len(sizes) != 1:
            raise ValueError(
                f"local tensors differ in length: { {k: len(t) for k, t in tensors.items()} }"
            )
        self.tensors = tensors
        self.size = sizes.pop()

    def __len__(self) -> int:
        return self.size

    def to(self, device: torch.device) -> LocalData:
        """The same data on `device` (a no-op on CPU)."""
        if all(t.device == device for t in self.tensors.values()):
            return self
        return LocalData({k: t.to(device) for k, t in self.tensors.items()})

    def batches(
        self, batch_size: int, order: np.ndarray | None = None
    ) -> Iterator[dict[str, torch.Tensor]]:
        """Minibatches of rows [i*b, (i+1)*b) of the stored order, or of `order` (a
        permutation of the rows, or a shard of them: a DDP worker's share)."""
        for start in range(0, self.size if order is None else len(order), batch_size):
            if order is None:
                yield {k: t[start : start + batch_size] for k, t in self.tensors.items()}
            else:
                idx = torch.from_numpy(order[start : start + batch_size])
                yield {k: t[idx] for k, t in self.tensors.items()}


class PairedLocalData(LocalData):
    """Local data whose primary rows set the steps and whose auxiliary rows ride along:
    minibatch i of the primary rows carries auxiliary rows [i*b, (i+1)*b) of their
    stored order under keys prefixed ``aux_``, and ``aux_share`` (a 0-d tensor: their
    count / b); none once they run out. With `aux_ratio` μ, minibatch i carries
    auxiliary rows [i*μb, (i+1)*μb) (FixMatch's μ unlabelled rows per labelled one).
    This is how FixMatch-style methods pair each labelled batch with an unlabelled one,
    so the auxiliary rows add loss terms, not optimizer steps."""

    def __init__(
        self, tensors: dict[str, torch.Tensor], aux: dict[str, torch.Tensor], aux_ratio: int = 1
    ):
        super().__init__(tensors)
        self.aux = LocalData(aux) if aux else None
        self.aux_ratio = aux_ratio

    def to(self, device: torch.device) -> PairedLocalData:
        aux = self.aux.to(device).tensors if self.aux is not None else {}
        return PairedLocalData(super().to(device).tensors, aux, self.aux_ratio)

    def batches(
        self, batch_size: int, order: np.ndarray | None = None
    ) -> Iterator[dict[str, torch.Tensor]]:
        aux_batch = batch_size * self.aux_ratio
        aux = list(self.aux.batches(aux_batch)) if self.aux is not None else []
        for i, batch in enumerate(super().batches(batch_size, order)):
            if i < len(aux):
                batch.update({f"aux_{k}": t for k, t in aux[i].items()})
                batch["aux_share"] = torch.tensor(len(next(iter(aux[i].values()))) / batch_size)
            yield batch


class Task(ABC):
    """A federated learning task."""

    def __init__(self, params: BaseModel, info: dict[str, Any]):
        self.params = params
        self.info = info

    @abstractmethod
    def build_model(self) -> nn.Module:
        """A freshly initialised model (the caller seeds torch first)."""

    @abstractmethod
    def local_data(
        self,
        model: nn.Module,
        data: dict[str, np.ndarray],
        state: dict[str, np.ndarray] | None,
        ctx: ClientContext,
    ) -> LocalData:
        """Turn a client's raw arrays (and persistent state) into training tensors.
        `model` holds the round's global weights (e.g. for pseudo-labelling).
        State to keep for the client's next round goes in `ctx.state_updates`."""

    @abstractmethod
    def loss(
        self, model: nn.Module, batch: dict[str, torch.Tensor], ctx: ClientContext
    ) -> torch.Tensor:
        """Mean loss of one minibatch."""

    @abstractmethod
    def evaluate(self, model: nn.Module, data: dict[str, np.ndarray]) -> dict[str, float]:
        """Metrics of the model on held-out data (keys without prefix)."""

    def preload_evaluation(self) -> None:  # noqa: B027 (optional hook, no-op by default)
        """Import what `evaluate` needs (e.g. torchmetrics, ~1 s). The evaluating worker
        calls it at start-up, so no round pays for it."""

    def num_samples(self, data: dict[str, np.ndarray]) -> int:
        """The client's sample count (its FedAvg weight)."""
        return len(next(iter(data.values())))
