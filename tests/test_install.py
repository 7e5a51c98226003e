"""The install: torch and torchaudio are one release, its extension loads, and the lock
file, pyproject and the environment agree on them."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from install_check import REINSTALL, release, torch_pair_problem

REPO = Path(__file__).resolve().parents[1]


def _lock_pins() -> dict[str, str]:
    pins = re.findall(
        r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", (REPO / "requirements.lock").read_text(), re.M
    )
    return {name.lower(): v for name, v in pins}


def test_torch_and_torchaudio_are_one_release_that_loads():
    assert torch_pair_problem() is None, torch_pair_problem()
    import torch
    import torchaudio.functional as AF

    wave = torch.sin(torch.arange(800) / 5.0)
    assert AF.resample(wave, 8000, 16000).shape == (1600,)


def test_a_mismatched_pair_is_named_with_the_fix(monkeypatch):
    import install_check

    real = install_check.version
    monkeypatch.setattr(
        install_check, "version", lambda name: "2.11.1" if name == "torchaudio" else real(name)
    )
    problem = install_check.torch_pair_problem()
    assert problem is not None and f"torch {real('torch')} and torchaudio 2.11.1" in problem
    assert "rm -rf .venv && make test" in problem


def test_pyproject_pins_the_pair_and_the_lock_and_environment_agree():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = dict(d.split("==") for d in deps if d.startswith(("torch==", "torchaudio==")))
    assert set(pinned) == {"torch", "torchaudio"}, "pyproject must pin torch and torchaudio"
    assert pinned["torch"] == pinned["torchaudio"], f"pyproject pins a mismatched pair {pinned}"
    lock = _lock_pins()
    for name in ("torch", "torchaudio", "ray", "torchmetrics", "opensmile"):
        assert release(version(name)) == lock[name], (
            f"{name} {version(name)} is installed but requirements.lock pins {lock[name]}; "
            f"{REINSTALL}"
        )
    assert lock["torch"] == pinned["torch"]
