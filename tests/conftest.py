"""Shared fixtures: one Ray instance for the whole test session, and the test corpora.

The suite is self-contained: `corpus_root` writes tiny FSDD, URDU and ESC-10 layouts from
synthesised audio. `tests/external/` adds checks against the real example audio and the
reference workloads beside the project (`../shared`, or RAYSIM_DATA_ROOT and
RAYSIM_SHARED_BENCH); it is collected only where they exist, as the report header says.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("RAYSIM_DATA_ROOT", REPO.parent / "shared" / "data"))
SHARED_BENCH = Path(os.environ.get("RAYSIM_SHARED_BENCH", REPO.parent / "shared" / "bench"))

#: tests/external modules, collected only where what they check against exists
EXTERNAL = {
    "external/test_real_corpora.py": SHARED_DATA.is_dir(),
    "external/test_workload_parity.py": (SHARED_BENCH / "workloads.py").is_file(),
}
collect_ignore = [module for module, present in EXTERNAL.items() if not present]


def pytest_configure(config) -> None:
    from install_check import torch_pair_problem

    problem = torch_pair_problem()
    if problem:  # before collection, which would fail in every torchaudio module
        raise pytest.UsageError(problem)


def pytest_report_header(config) -> list[str]:
    found = {"real example audio": SHARED_DATA, "reference workloads": SHARED_BENCH}
    return [
        f"tests/external, {what}: {'found at' if path.is_dir() else 'not collected: no'} {path}"
        for what, path in found.items()
    ]


@pytest.fixture(scope="session")
def corpus_root(tmp_path_factory) -> Path:
    """Tiny synthetic corpora in the published layouts: `fsdd/`, `urdu/`, `esc10/`."""
    from synthetic_corpora import write_all

    return write_all(tmp_path_factory.mktemp("corpora"))


@pytest.fixture(scope="session")
def ray_session():
    """Start Ray once per test session (it costs seconds on 2 cores) and share it."""
    import ray

    from raysim.ray_runtime import init_ray, shutdown_ray

    # Ray Train's controller polls its workers every 2 s and starts a preemption
    # watcher actor: seconds per tiny fit here, where no node is preempted
    os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.2")
    os.environ.setdefault("RAY_TRAIN_ENABLE_PREEMPTION_WATCHER", "0")
    cpus = int(os.environ.get("RAYSIM_TEST_CPUS", "2"))
    init_ray(num_cpus=cpus, log_to_driver=False, state_api=True)  # Ray Train's tests need it
    yield ray
    shutdown_ray()


@pytest.fixture(autouse=True, scope="module")
def _no_engine_actors_kept_across_modules():
    """Engine actors that one module's simulations keep (`reuse_actors`) hold CPUs
    that other modules' sweeps and Ray Train runs need: stopped after each module."""
    yield
    from raysim.engine import warm

    warm.clear()


@pytest.fixture
def gen():
    """A seeded CPU torch generator."""
    import torch

    return torch.Generator().manual_seed(0)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The small real audio sets beside the project (tests/external only)."""
    return SHARED_DATA


@pytest.fixture(scope="session")
def workloads():
    """The reference workloads module beside the project (tests/external only)."""
    sys.path.insert(0, str(SHARED_BENCH))
    try:
        return importlib.import_module("workloads")
    finally:
        sys.path.remove(str(SHARED_BENCH))
