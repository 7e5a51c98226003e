"""Search spaces from YAML, validated against :class:`SimulationConfig` before any trial.

A space maps dotted config keys to one domain each (one key may not lie inside
another)::

    sampling.fraction: {grid: [0.1, 0.3]}              # every value (Tune grid search)
    local.optimizer: {grid: [{name: sgd, lr: 0.1},     # a mapping is merged into the
                             {name: adam, lr: 1e-3}]}  # section: keys that vary together
    strategy.mu: {loguniform: [1.0e-4, 1.0e-1]}        # sampled, num_samples times
    seed: {choice: [0, 1, 2]}                          # also: uniform, randint [low, high)

Validation builds a config for every value of every key (each alone on the base,
which attributes an error to its key) and then for every combination of grid
values and sampled bounds, all through :func:`raysim.config.parse_config`.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from raysim.config import ConfigError, parse_config
from raysim.dotted import merge, unflatten

log = logging.getLogger(__name__)

DOMAINS = ("grid", "choice", "uniform", "loguniform", "randint")
# Beyond this many combinations only each key's values are validated, one key at a time.
MAX_COMBINATIONS = 10_000


@dataclass(frozen=True)
class Dimension:
    """One swept config key and its domain."""

    key: str
    kind: str
    values: tuple[Any, ...]  # grid/choice: the values; uniform/loguniform/randint: (low, high)

    def to_tune(self) -> Any:
        """The Ray Tune domain object."""
        from ray import tune

        if self.kind == "grid":
            return tune.grid_search(list(self.values))
        if self.kind == "choice":
            return tune.choice(list(self.values))
        return getattr(tune, self.kind)(*self.values)

    def candidates(self) -> list[Any]:
        """Values to validate: every listed value, or a range's extreme values."""
        if self.kind in ("grid", "choice"):
            return list(self.values)
        low, high = self.values
        return [low, high - 1] if self.kind == "randint" else [low, high]


def _parse_dimension(key: str, spec: Any) -> Dimension:
    where = f"space.{key}"
    if not isinstance(spec, Mapping) or len(spec) != 1 or next(iter(spec)) not in DOMAINS:
        raise ConfigError(f"{where}: expected a mapping with one of {', '.join(DOMAINS)}")
    kind, values = next(iter(spec.items()))
    if not isinstance(values, list) or not values:
        raise ConfigError(f"{where}.{kind}: expected a non-empty list (got {values!r})")
    if kind in ("grid", "choice"):
        return Dimension(key, kind, tuple(values))
    if len(values) != 2 or not all(isinstance(v, int | float) for v in values):
        raise ConfigError(f"{where}.{kind}: expected [low, high] numbers (got {values!r})")
    low, high = values
    if kind == "randint" and not all(isinstance(v, int) for v in values):
        raise ConfigError(f"{where}.randint: bounds must be integers (got {values!r})")
    if not low < high or (kind == "loguniform" and low <= 0):
        need = "0 < low < high" if kind == "loguniform" else "low < high"
        raise ConfigError(f"{where}.{kind}: need {need} (got {values!r})")
    return Dimension(key, kind, (low, high))


def parse_space(raw: Mapping[str, Any] | None) -> list[Dimension]:
    """Parse the `space:` mapping of a sweep file (ConfigError naming the key)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"space: expected a mapping of dotted keys (got {raw!r})")
    dims = [_parse_dimension(str(key), spec) for key, spec in raw.items()]
    keys = [d.key for d in dims]
    for a, b in itertools.permutations(keys, 2):
        if b.startswith(a + "."):
            raise ConfigError(f"space.{b}: overlaps space.{a}; sweep one or the other")
    return dims


def apply(base: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """The config of one trial: `params` ({dotted key: value}) deep-merged into `base`."""
    return merge(base, unflatten(params))


def _check(base: Mapping[str, Any], params: dict[str, Any], what: str) -> None:
    try:
        parse_config(apply(base, params))
    except ConfigError as err:
        raise ConfigError(f"{what}: {err}") from None


def validate_space(base: Mapping[str, Any], dims: list[Dimension]) -> None:
    """Build and validate trial configs before anything runs.

    Raises ConfigError naming the base config, or the space key and value at fault.
    """
    _check(base, {}, "config")
    for dim in dims:
        for value in dim.candidates():
            _check(base, {dim.key: value}, f"space.{dim.key} = {value!r}")
    combos = math.prod(len(d.candidates()) for d in dims)
    if len(dims) < 2:
        return
    if combos > MAX_COMBINATIONS:
        log.warning("search space has %d combinations: validated each key alone", combos)
        return
    for values in itertools.product(*(d.candidates() for d in dims)):
        params = dict(zip((d.key for d in dims), values, strict=True))
        shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
        _check(base, params, f"space combination ({shown})")


def describe(value: Any) -> Any:
    """A swept value as one cell: a section as 'sgd lr=0.01 momentum=0.9', else itself."""
    if not isinstance(value, Mapping):
        return value
    parts = [str(value["name"])] if "name" in value else []
    for key, item in value.items():
        if isinstance(item, Mapping):
            parts += [describe(item)] if item else []
        elif key != "name":
            parts.append(f"{key}={item}")
    return " ".join(parts)


def param_space(dims: list[Dimension]) -> dict[str, Any]:
    """The Tune `param_space`: {dotted key: domain}."""
    return {d.key: d.to_tune() for d in dims}
