"""The install: torch and torchaudio are one release, its extension loads, and the lock
file, pyproject and the environment agree on them."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REINSTALL = "reinstall from the lock file: rm -rf .venv && make test"


def _release(v: str) -> str:
    return v.split("+")[0]  # drop the local build tag (+cpu, +cu130)


def _lock_pins() -> dict[str, str]:
    pins = re.findall(
        r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", (REPO / "requirements.lock").read_text(), re.M
    )
    return {name.lower(): v for name, v in pins}


def test_torch_and_torchaudio_are_the_same_release():
    torch_v, audio_v = version("torch"), version("torchaudio")
    assert _release(torch_v) == _release(audio_v), (
        f"torch {torch_v} and torchaudio {audio_v} are different releases and do not load "
        f"together; {REINSTALL}"
    )


def test_torchaudio_extension_loads():
    try:
        import torch
        import torchaudio.functional as AF
    except OSError as err:  # libtorchaudio.so built against another torch
        raise AssertionError(f"torchaudio's extension does not load: {err}; {REINSTALL}") from err
    wave = torch.sin(torch.arange(800) / 5.0)
    assert AF.resample(wave, 8000, 16000).shape == (1600,)


def test_pyproject_pins_the_pair_and_the_lock_and_environment_agree():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = dict(d.split("==") for d in deps if d.startswith(("torch==", "torchaudio==")))
    assert set(pinned) == {"torch", "torchaudio"}, "pyproject must pin torch and torchaudio"
    assert pinned["torch"] == pinned["torchaudio"], f"pyproject pins a mismatched pair {pinned}"
    lock = _lock_pins()
    for name in ("torch", "torchaudio", "ray", "torchmetrics", "opensmile"):
        assert _release(version(name)) == lock[name], (
            f"{name} {version(name)} is installed but requirements.lock pins {lock[name]}; "
            f"{REINSTALL}"
        )
    assert lock["torch"] == pinned["torch"]
