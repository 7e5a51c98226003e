"""Shared fixtures: one Ray instance for the whole test session, and the data root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("RAYSIM_DATA_ROOT", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def ray_session():
    """Start Ray once per test session (it costs seconds on 2 cores) and share it."""
    import ray

    if not ray.is_initialized():
        ray.init(
            num_cpus=int(os.environ.get("RAYSIM_TEST_CPUS", "2")),
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The small real audio sets beside the project (../shared/data)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set RAYSIM_DATA_ROOT)")
    return SHARED_DATA
