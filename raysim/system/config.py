"""The ``system:`` config section: client system profiles and the aggregation mode.

Torch-free and Ray-free (the driver validates it). Every key is a plain config key, so a
Tune sweep covers ``system.mode``, ``system.deadline``, ``system.over_commit``,
``system.concurrency``, ``system.buffer_size`` and ``system.speed.sigma`` like any other.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from raysim.privacy import invalid


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LogNormal(_Section):
    """A per-client quantity drawn log-normally: median · exp(σ·z), z ~ N(0, 1), from
    (seed, client) so that it never depends on which clients were drawn before."""

    median: float = Field(gt=0)
    sigma: float = Field(0.0, ge=0, description="σ of the log; 0: every client the median")


class SystemConfig(_Section):
    """Client compute and network speeds, availability over virtual time, and how the
    server aggregates (`raysim.system`). A client's time for one local update is its
    work ÷ speed + the bytes it downloads ÷ its down bandwidth + the bytes it uploads ÷
    its up bandwidth; work is what the worker balancer counts (samples) times the local
    passes over them."""

    mode: Literal["sync", "deadline", "fedbuff"] = Field(
        "sync",
        description="sync: wait for every sampled client; deadline: over-commit and drop "
        "stragglers; fedbuff: asynchronous buffered aggregation (Nguyen et al. 2022)",
    )
    speed: LogNormal = Field(
        default_factory=lambda: LogNormal(median=100.0, sigma=0.0),
        description="work units (samples) per virtual second",
    )
    bandwidth_down: LogNormal = Field(
        default_factory=lambda: LogNormal(median=1.25e6, sigma=0.0),
        description="bytes per virtual second, server to client (default 10 Mbit/s)",
    )
    bandwidth_up: LogNormal = Field(
        default_factory=lambda: LogNormal(median=1.25e6, sigma=0.0),
        description="bytes per virtual second, client to server",
    )
    capacity_trace: str | None = Field(
        None,
        description="FedScale device-capacity trace (computation ms/sample, communication "
        "kbit/s per client): replaces speed and the bandwidths",
    )
    behaviour_trace: str | None = Field(
        None,
        description="FedScale behaviour trace (active/inactive intervals per client): a "
        "client is online only inside its intervals",
    )
    deadline: float | None = Field(
        None, gt=0, description="deadline mode: virtual seconds a round waits at most"
    )
    over_commit: float = Field(
        0.3, ge=0, description="deadline mode: sample ⌈(1+o)·k⌉ clients, aggregate the first k"
    )
    concurrency: int = Field(100, ge=1, description="fedbuff: M, clients training at once")
    buffer_size: int = Field(10, ge=1, description="fedbuff: K, arrivals per server update")
    staleness: Literal["sqrt", "none"] = Field(
        "sqrt", description="fedbuff: s(τ) = 1/√(1+τ) (sqrt) or 1 (none)"
    )


def system_problems(cfg: Any) -> list[tuple[str, str, Any]]:
    """Why `cfg` (a SimulationConfig with a system section) cannot run, as (dotted key,
    message, value); empty when it can."""
    mode = cfg.system.mode
    problems = []
    if mode == "fedbuff" and cfg.strategy.name in ("scaffold", "fednova"):
        problems.append((
            "strategy.name",
            f"{cfg.strategy.name} cannot run with system.mode=fedbuff: its server rule "
            "assumes one round's cohort trained from one model; use fedavg or fedprox",
            cfg.strategy.name,
        ))  # fmt: skip
    if mode != "sync" and cfg.privacy is not None:
        problems.append((
            "system.mode",
            f"{mode} cannot run with privacy: the accountant assumes k of N clients sampled "
            "per round, and deadline or fedbuff aggregation changes who takes part; use sync",
            mode,
        ))  # fmt: skip
    return problems


def check_system(cfg: Any) -> None:
    """Raise a validation error located at the keys of :func:`system_problems`."""
    problems = system_problems(cfg)
    if problems:
        raise invalid("SimulationConfig", problems)
