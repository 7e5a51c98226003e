"""The clients' learning rate across rounds, decided by the server.

Local optimizers are fresh every round, so the schedule lives on the server:
torch's own schedulers drive a one-parameter placeholder optimizer whose lr
is handed to the round's clients. Each schedule is registered in
`raysim.registry.LR_SCHEDULES` as a params model and a function building its torch
scheduler; torch is imported only for a schedule other than ``constant``, which keeps
the aggregator free of torch. Step sizes and periods are rounds or fractions of the
run (`raysim.run_length`); one given in rounds that does not fit the run warns when the
config is loaded.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from raysim.registry import LR_SCHEDULES, Named
from raysim.round_record import EVAL_PREFIX
from raysim.run_length import RoundSpan, span_rounds, warn_schedule


class ConstantParams(Named):
    """The lr stays ``local.optimizer.lr``."""


class StepParams(Named):
    step_size: RoundSpan = Field(
        100, description="rounds between decays, or a fraction of the run (0.2: every 20 %)"
    )
    gamma: float = Field(0.5, gt=0, le=1, description="decay factor")

    def for_rounds(self, rounds: int, key: str) -> StepParams:
        """Warns when a step size in rounds is at least the run's `rounds` (the lr
        would never decay)."""
        if isinstance(self.step_size, int) and self.step_size >= rounds:
            warn_schedule(
                f"{key}.step_size",
                f"{self.step_size} rounds >= the run's {rounds} rounds: the lr never decays",
            )
        return self


class CosineParams(Named):
    t_max: RoundSpan | None = Field(
        None, description="period in rounds, or a fraction of the run (default: the whole run)"
    )
    eta_min: float = Field(0.0, ge=0)

    def for_rounds(self, rounds: int, key: str) -> CosineParams:
        """Warns when a period in rounds differs from the run's `rounds`: longer, the lr
        never reaches eta_min; shorter, it rises again after t_max (the cosine is periodic)."""
        if isinstance(self.t_max, int) and self.t_max != rounds:
            effect = "never reaches eta_min" if self.t_max > rounds else "rises again after it"
            warn_schedule(
                f"{key}.t_max",
                f"a {self.t_max}-round period in a {rounds}-round run: the lr {effect}",
            )
        return self


class PlateauParams(Named):
    factor: float = Field(0.5, gt=0, lt=1, description="decay factor")
    patience: int = Field(5, ge=0, description="rounds without improvement")
    monitor: str = Field(
        "train_loss", description="round-record key to watch: train_loss, or eval_<metric> "
        "(the server's held-out evaluation, on the rounds that run one; in a centralized "
        "run the validation share after each epoch)"
    )  # fmt: skip
    mode: Literal["min", "max"] = "min"
    eta_min: float = Field(0.0, ge=0)


def constant(params: ConstantParams, opt: Any, rounds: int) -> None:
    return None


def step(params: StepParams, opt: Any, rounds: int) -> Any:
    from torch.optim.lr_scheduler import StepLR

    return StepLR(opt, span_rounds(params.step_size, rounds), params.gamma)


def cosine(params: CosineParams, opt: Any, rounds: int) -> Any:
    from torch.optim.lr_scheduler import CosineAnnealingLR

    t_max = rounds if params.t_max is None else span_rounds(params.t_max, rounds)
    return CosineAnnealingLR(opt, t_max, params.eta_min)


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
        self._warned = False
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
        """Advance after a round; plateau watches `record[monitor]` when present, and
        warns once (`ScheduleWarning`) when an evaluated round's record lacks it."""
        if self._sched is None:
            return
        self._opt.step()  # no gradients: a no-op that keeps torch's step-order check quiet
        if not isinstance(self.schedule, PlateauParams):
            self._sched.step()
            return
        monitor = self.schedule.monitor
        evaluated = any(k.startswith(EVAL_PREFIX) for k in record)
        if record.get(monitor) is not None:
            self._sched.step(record[monitor])
        elif (
            monitor not in record
            and not self._warned
            and (evaluated or not monitor.startswith(EVAL_PREFIX))
        ):
            self._warned = True
            warn_schedule(
                "local.lr_schedule.monitor",
                f"{monitor!r} is not in the round record ({', '.join(sorted(record))}): "
                "the lr never decays",
            )

    def state_dict(self) -> dict[str, Any]:
        if self._opt is None:
            return {}
        return {"opt": self._opt.state_dict(), "sched": self._sched.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self._opt is None:
            return
        self._opt.load_state_dict(state["opt"])
        self._sched.load_state_dict(state["sched"])
