"""Where example data lives: a folder given on the command line or in an environment
variable, never a path guessed from where the code sits."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ROOT_ENV = "RAYSIM_DATA_ROOT"


class DataRootError(FileNotFoundError):
    """A data folder that was not given, or that is missing what a command needs."""


def resolve_root(
    given: str | Path | None, env: str, *, flag: str, needs: tuple[str, ...] = ()
) -> Path:
    """`given`, else $`env`, as an existing folder holding every entry of `needs`.

    Raises DataRootError naming the folder, the flag and the variable, so the user knows
    which of the two to set.
    """
    from_flag = given not in (None, "")
    value = given if from_flag else os.environ.get(env)
    if not value:
        raise DataRootError(f"no folder given: pass {flag} DIR or set {env}")
    root = Path(value).expanduser().resolve()
    source = flag if from_flag else f"${env}"
    if not root.is_dir():
        raise DataRootError(f"folder {root} (from {source}) does not exist; "
                            f"pass {flag} DIR or set {env}")  # fmt: skip
    missing = [n for n in needs if not (root / n).exists()]
    if missing:
        raise DataRootError(f"folder {root} (from {source}) has no {', '.join(missing)}; "
                            f"pass {flag} DIR or set {env}")  # fmt: skip
    return root
