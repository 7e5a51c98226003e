"""The `centralized:` section of a config: how the pooled-data reference trains.

Read by `experiments/centralized.py` (and ignored by federated runs), so one YAML holds
both the federation and its centralized reference. Pydantic only (no torch, no Ray):
the driver validates it with the rest of the config.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CentralizedConfig(BaseModel):
    """Centralized training on the pooled client data (`raysim.centralized`).

    The model, loss, local optimizer (`local.optimizer`, `local.lr_schedule` stepped
    once per epoch, `local.clip_grad_norm`, `local.shuffle`) and evaluation are the
    federated run's; this section only says how long, on what, and where to keep
    checkpoints.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    epochs: int = Field(100, ge=1, description="passes over the pooled training rows")
    batch_size: int | None = Field(
        None, ge=1, description="global minibatch, split evenly over the workers "
        "(default: local.batch_size)"
    )  # fmt: skip
    num_workers: int = Field(
        1, ge=1, description="Ray Train DDP workers (gloo on CPU, nccl on GPU)"
    )
    use_gpu: bool = Field(False, description="one GPU per worker")
    cpus_per_worker: float = Field(1.0, gt=0)
    select: str | None = Field(
        None, description="validation metric (higher is better) that picks the epoch "
        "(default: si_sdri for speech enhancement, uar otherwise)"
    )  # fmt: skip
    val_fraction: float = Field(
        0.5, gt=0, lt=1, description="share of the held-out rows that selects the epoch; "
        "the rest is the test share the chosen epoch is reported on"
    )  # fmt: skip
    pool: Literal["rows", "clients"] = Field(
        "rows", description="rows: the clients' raw rows concatenated and prepared as one "
        "client; clients: each client's rows prepared as that client (its own "
        "standardisation, label mask...) and the results concatenated"
    )  # fmt: skip
    checkpoint_every: int = Field(
        1, ge=0, description="epochs between Ray Train checkpoints (the last epoch always)"
    )
    keep: int = Field(2, ge=1, description="Ray Train checkpoints kept")
    max_failures: int = Field(
        1, ge=-1, description="Ray Train restarts of a failed worker group, each from "
        "the latest checkpoint (-1: no limit)"
    )  # fmt: skip
    storage_path: str | None = Field(
        None, description="Ray Train storage (a shared path or URI on a cluster); "
        "default: ~/ray_results"
    )  # fmt: skip
    run_name: str | None = Field(
        None, description="Ray Train run name; rerunning with the same run_name and "
        "storage_path resumes from its latest checkpoint"
    )  # fmt: skip

    def selection_metric(self, task_name: str) -> str:
        """The validation metric that picks the epoch for a task."""
        return self.select or DEFAULT_SELECT.get(task_name, "uar")


DEFAULT_SELECT = {"speech_enhancement": "si_sdri"}
"""Task → the validation metric that picks the epoch (other tasks: ``uar``)."""
