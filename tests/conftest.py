"""Shared fixtures: one Ray instance for the whole test session, and the data root."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("RAYSIM_DATA_ROOT", REPO.parent / "shared" / "data"))
SHARED_BENCH = Path(os.environ.get("RAYSIM_SHARED_BENCH", REPO.parent / "shared" / "bench"))


@pytest.fixture(scope="session")
def ray_session():
    """Start Ray once per test session (it costs seconds on 2 cores) and share it."""
    import ray

    from raysim.ray_runtime import init_ray, shutdown_ray

    init_ray(num_cpus=int(os.environ.get("RAYSIM_TEST_CPUS", "2")), log_to_driver=False)
    yield ray
    shutdown_ray()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The small real audio sets beside the project (../shared/data)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set RAYSIM_DATA_ROOT)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def workloads():
    """The reference workloads module (../shared/bench/workloads.py), for parity tests."""
    if not (SHARED_BENCH / "workloads.py").is_file():
        pytest.skip(f"benchmark workloads not found at {SHARED_BENCH}")
    sys.path.insert(0, str(SHARED_BENCH))
    try:
        return importlib.import_module("workloads")
    finally:
        sys.path.remove(str(SHARED_BENCH))


@pytest.fixture
def gen():
    """A seeded CPU torch generator."""
    import torch

    return torch.Generator().manual_seed(0)
