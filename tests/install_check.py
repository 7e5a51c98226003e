"""Whether torch and torchaudio in this environment are one release that loads together.

Checked before collection (tests/conftest.py), since a mismatched torchaudio fails at
import, in every module that uses it, with an undefined-symbol error that does not say
what to do; and as a test of its own (tests/test_install.py).
"""

from __future__ import annotations

from importlib.metadata import version

REINSTALL = "reinstall from the lock file: rm -rf .venv && make test"


def release(v: str) -> str:
    """The release of a version string, without its local build tag (+cpu, +cu130)."""
    return v.split("+")[0]


def torch_pair_problem() -> str | None:
    """What is wrong with the installed torch/torchaudio pair, or None."""
    torch_v, audio_v = version("torch"), version("torchaudio")
    if release(torch_v) != release(audio_v):
        return (f"torch {torch_v} and torchaudio {audio_v} are different releases and do "
                f"not load together; {REINSTALL}")  # fmt: skip
    try:
        import torchaudio.functional  # noqa: F401
    except OSError as err:  # libtorchaudio.so built against another torch
        return f"torchaudio {audio_v}'s extension does not load: {err}; {REINSTALL}"
    return None
