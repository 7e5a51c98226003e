"""User errors at the command line: one line and exit status 2; the traceback with --debug.

A user error is a mistake in what the user gave (a config key or value, a path, a
corpus folder, a manifest, an audio file): its message names the key and the value,
and a traceback would only bury it. Every other exception is a bug and keeps its
traceback. Entry points run their body through :func:`run_cli`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

#: (module, class) of every user error; a module that was never imported raised none
USER_ERRORS: tuple[tuple[str, str], ...] = (
    ("raysim.config", "ConfigError"),
    ("raysim.data.roots", "DataRootError"),
    ("raysim.data.errors", "DataConfigError"),
    ("raysim.data.manifest", "ManifestError"),
    ("raysim.data.corpora._common", "CorpusLayoutError"),
    ("raysim.features.store", "FeatureStoreError"),
    ("raysim.audio.io", "AudioError"),
    ("raysim.system.traces", "TraceError"),
)


def is_user_error(err: BaseException) -> bool:
    """Whether `err` is one of :data:`USER_ERRORS` (looked up without importing)."""
    for module, name in USER_ERRORS:
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and isinstance(err, cls):
            return True
    return False


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """The ``--debug`` option: show a user error's traceback too."""
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the traceback of a user error (a bad key or value, a missing path) too",
    )


def run_cli(body: Callable[[], int], debug: bool = False) -> int:
    """``body()``'s exit status; a user error prints its message on stderr and gives 2
    (with `debug`, it propagates with its traceback). Other exceptions propagate."""
    try:
        return body()
    except Exception as err:
        if debug or not is_user_error(err):
            raise
        print(err, file=sys.stderr)
        return 2
