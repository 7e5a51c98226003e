"""The clients' learning rate across rounds, decided by the server.

Local optimizers are fresh every round, so the schedule lives on the server:
torch's own schedulers drive a one-parameter placeholder optimizer whose lr
is handed to the round's clients. torch is imported only when a schedule is
set: a constant lr keeps the aggregator free of torch.
"""

from __future__ import annotations

from typing import Any

from raysim.config import LocalConfig


class RoundLR:
    """Step, cosine or reduce-on-plateau schedule over rounds (torch.optim.lr_scheduler)."""

    def __init__(self, cfg: LocalConfig, rounds: int):
        self.cfg = cfg.lr_schedule
        self._constant_lr = cfg.optimizer.lr
        self._opt: Any = None
        self._sched: Any = None
        s = self.cfg
        if s.name == "constant":
            return
        import torch

        self._opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=cfg.optimizer.lr)
        sched = torch.optim.lr_scheduler
        if s.name == "step":
            self._sched = sched.StepLR(self._opt, s.step_size, s.gamma)
        elif s.name == "cosine":
            self._sched = sched.CosineAnnealingLR(self._opt, s.t_max or rounds, s.eta_min)
        elif s.name == "plateau":
            self._sched = sched.ReduceLROnPlateau(
                self._opt, mode=s.mode, factor=s.factor, patience=s.patience, min_lr=s.eta_min
            )

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
        if self.cfg.name == "plateau":
            value = record.get(self.cfg.monitor)
            if value is not None:
                self._sched.step(value)
        else:
            self._sched.step()

    def state_dict(self) -> dict[str, Any]:
        if self._opt is None:
            return {}
        return {
            "opt": self._opt.state_dict(),
            "sched": self._sched.state_dict() if self._sched else {},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self._opt is None:
            return
        self._opt.load_state_dict(state["opt"])
        if self._sched is not None:
            self._sched.load_state_dict(state["sched"])
