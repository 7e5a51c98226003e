"""The clients' learning rate across rounds, decided by the server.

Local optimizers are fresh every round, so the schedule lives on the server:
torch's own schedulers drive a one-parameter placeholder optimizer whose lr
is handed to the round's clients. Each schedule is registered in
`raysim.registry.LR_SCHEDULES` as a params model and a function building its torch
scheduler; torch is imported only for a schedule other than ``constant``, which keeps
the aggregator free of torch.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from raysim.registry import LR_SCHEDULES, Named


class ConstantParams(Named):
    """The lr stays ``local.optimizer.lr``."""


class StepParams(Named):
    step_size: int = Field(100, ge=1, description="rounds between decays")
    gamma: float = Field(0.5, gt=0, le=1, description="decay factor")


class CosineParams(Named):
    t_max: int | None = Field(None, ge=1, description="period (default: the run's rounds)")
    eta_min: float = Field(0.0, ge=0)


class PlateauParams(Named):
    factor: float = Field(0.5, gt=0, lt=1, description="decay factor")
    patience: int = Field(5, ge=0, description="rounds without improvement")
    monitor: str = Field("train_loss", description="round-record key to watch")
    mode: Literal["min", "max"] = "min"
    eta_min: float = Field(0.0, ge=0)


def constant(params: ConstantParams, opt: Any, rounds: int) -> None:
    return None


def step(params: StepParams, opt: Any, rounds: int) -> Any:
    from torch.optim.lr_scheduler import StepLR

    return StepLR(opt, params.step_size, params.gamma)


def cosine(params: CosineParams, opt: Any, rounds: int) -> Any:
    from torch.optim.lr_scheduler import CosineAnnealingLR

    return CosineAnnealingLR(opt, params.t_max or rounds, params.eta_min)


def plateau(params: PlateauParams, opt: Any, rounds: int) -> Any:
    from torch.optim.lr_scheduler import ReduceLROnPlateau

    return ReduceLROnPlateau(
        opt, mode=params.mode, factor=params.factor, patience=params.patience,
        min_lr=params.eta_min,
    )  # fmt: skip


class RoundLR:
    """The lr of each round under a registered schedule (torch.optim.lr_scheduler)."""

    def __init__(self, schedule: Named, lr: float, rounds: int):
        self.schedule = schedule
        self._constant_lr = lr
        self._opt: Any = None
        self._sched: Any = None
        if schedule.name == "constant":
            return
        import torch

        self._opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
        self._sched = LR_SCHEDULES.build(schedule, self._opt, rounds)

    @property
    def lr(self) -> float:
        """The lr for the coming round."""
        if self._opt is None:
            return self._constant_lr
        return float(self._opt.param_groups[0]["lr"])

    def end_round(self, record: dict[str, Any]) -> None:
        """Advance after a round; plateau watches `record[monitor]` when present."""
        if self._sched is None:
            return
        self._opt.step()  # no gradients: a no-op that keeps torch's step-order check quiet
        if not isinstance(self.schedule, PlateauParams):
            self._sched.step()
        elif record.get(self.schedule.monitor) is not None:
            self._sched.step(record[self.schedule.monitor])

    def state_dict(self) -> dict[str, Any]:
        if self._opt is None:
            return {}
        return {"opt": self._opt.state_dict(), "sched": self._sched.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self._opt is None:
            return
        self._opt.load_state_dict(state["opt"])
        self._sched.load_state_dict(state["sched"])
