"""The check a run makes before Ray starts: every file and folder its config names exists.

Validating a config (`raysim.config`) reads nothing from disk, so a config can be
built, dumped and validated again anywhere (a sweep trial on another node). This
check looks at the paths once, where a run starts, before Ray does: a missing
feature store or corpus folder fails in milliseconds as ``dotted.key: message``
lines (a :class:`~raysim.config.ConfigError`), not seconds later as a traceback.
"""

from __future__ import annotations

from raysim.config import ConfigError, SimulationConfig
from raysim.data.sources import path_problem


def input_problems(config: SimulationConfig) -> list[str]:
    """One ``dotted.key: message`` line per input the config names that cannot be read
    (the data source's own :meth:`~raysim.data.sources.SourceParams.input_problems`, the
    warm-start checkpoint); nothing is read, only looked up."""
    lines = [f"data.{key}: {message}" for key, message in config.data.input_problems()]
    if config.init_checkpoint:
        what = "a raysim checkpoint or a flat-state file to take global weights from"
        problem = path_problem(config.init_checkpoint, "file", what)
        if problem:
            lines.append(f"init_checkpoint: {problem}")
    for key in ("capacity_trace", "behaviour_trace"):
        trace = config.system and getattr(config.system, key)
        problem = trace and path_problem(trace, "file", "a FedScale trace (raysim.system)")
        if problem:
            lines.append(f"system.{key}: {problem}")
    return lines


def check_inputs(config: SimulationConfig, prefix: str = "") -> None:
    """Raise ConfigError listing :func:`input_problems` (each key after `prefix`, e.g.
    ``config.`` in a sweep file), if there are any."""
    problems = input_problems(config)
    if problems:
        raise ConfigError("\n".join(prefix + line for line in problems))
