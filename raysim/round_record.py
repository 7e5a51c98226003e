"""The record of one federated round, as one type.

The aggregator builds it, a simulation's history holds it, a sweep trial
reports it to Tune and the sweep's results read it back. Flat (what users see:
history dicts, Tune result keys, CSV columns) it is one dict: the fixed counters
below, then the task's own per-round values (the task params' ``summarize_round``)
under their own names, then the evaluation's metrics prefixed ``eval_`` (rounds
with an evaluation only), then the privacy values prefixed ``dp_`` (runs with
differential privacy only), then the virtual-time values prefixed ``sys_`` (runs with
a ``system:`` section only), then ``wall_s``. Torch-free, like the aggregator.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: prefix of the evaluation metrics in the flat record (``eval_uar``)
EVAL_PREFIX = "eval_"
#: prefix of the privacy values in the flat record (``dp_epsilon``)
DP_PREFIX = "dp_"
#: prefix of the system-heterogeneity values in the flat record (``sys_virtual_time``)
SYS_PREFIX = "sys_"
_PREFIXES = (EVAL_PREFIX, DP_PREFIX, SYS_PREFIX)


@dataclass(frozen=True)
class RoundRecord:
    """One round's counters, task values and evaluation.

    Attributes:
        round: the round's number, from 1.
        sampled: clients sampled.
        reporting: clients aggregated.
        dropped: sampled clients that were unavailable.
        rejected: clients whose update was not finite (logged, not aggregated).
        idle: clients with nothing to train on (counted, not aggregated).
        lr: the clients' learning rate this round.
        train_loss: mean training loss over the aggregated clients' samples
            (None when no client reported).
        bytes_down: simulated traffic to the clients (model and strategy state).
        bytes_up: simulated traffic from the clients.
        wall_s: the round's wall-clock time.
        task: the task's per-round values, by name.
        eval: the evaluation's metrics by name, without the prefix (empty on rounds
            without an evaluation).
        privacy: with differential privacy (`raysim.privacy`), ``epsilon`` spent after
            this round, ``delta``, the ``unit`` ε protects (client or speaker), the round's
            ``clip`` norm C and ``noise_std`` (the std of the noise on the mean update),
            and ``unclipped_share`` with adaptive clipping; empty without.
        system: with a ``system:`` section (`raysim.system`), the round's virtual
            seconds ``virtual_s`` and the cumulative ``virtual_time``; ``stragglers``
            (deadline mode) and ``staleness_mean``/``staleness_max`` (fedbuff); empty
            without.
    """

    round: int
    sampled: int
    reporting: int
    dropped: int
    rejected: int
    idle: int
    lr: float
    train_loss: float | None
    bytes_down: int
    bytes_up: int
    wall_s: float
    task: dict[str, float] = field(default_factory=dict)
    eval: dict[str, float] = field(default_factory=dict)
    privacy: dict[str, Any] = field(default_factory=dict)
    system: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # flat, a task value under a fixed or eval_ name would read back as something else
        clash = [k for k in self.task if k in _FIXED or k.startswith(_PREFIXES)]
        if clash:
            raise ValueError(f"task values {clash} clash with the round record's own keys")

    def to_dict(self) -> dict[str, Any]:
        """The flat record (keys in the order users have always seen them)."""
        counts = {name: getattr(self, name) for name in _FIXED if name != "wall_s"}
        evals = {EVAL_PREFIX + k: v for k, v in self.eval.items()}
        dp = {DP_PREFIX + k: v for k, v in self.privacy.items()}
        system = {SYS_PREFIX + k: v for k, v in self.system.items()}
        return {**counts, **self.task, **evals, **dp, **system, "wall_s": self.wall_s}

    @classmethod
    def from_dict(cls, flat: Mapping[str, Any]) -> RoundRecord:
        """The record of a flat dict: its fixed keys (all required), ``eval_*`` keys as
        the evaluation and every other key as a task value. Numbers read back from a
        table (numpy scalars, floats for counts) get the fields' types."""
        missing = [name for name in _FIXED if name not in flat]
        if missing:
            raise ValueError(f"not a round record: no {', '.join(missing)}")
        rest = {k: v for k, v in flat.items() if k not in _FIXED}
        loss = flat["train_loss"]
        return cls(
            **{name: int(flat[name]) for name in _COUNTS},
            lr=float(flat["lr"]),
            train_loss=None if loss is None else float(loss),
            wall_s=float(flat["wall_s"]),
            task={k: v for k, v in rest.items() if not k.startswith(_PREFIXES)},
            eval={
                k.removeprefix(EVAL_PREFIX): v for k, v in rest.items() if k.startswith(EVAL_PREFIX)
            },
            privacy={
                k.removeprefix(DP_PREFIX): v for k, v in rest.items() if k.startswith(DP_PREFIX)
            },
            system={
                k.removeprefix(SYS_PREFIX): v for k, v in rest.items() if k.startswith(SYS_PREFIX)
            },
        )


_FIXED = tuple(
    f.name
    for f in dataclasses.fields(RoundRecord)
    if f.name not in ("task", "eval", "privacy", "system")
)
_COUNTS = ("round", "sampled", "reporting", "dropped", "rejected", "idle", "bytes_down", "bytes_up")
