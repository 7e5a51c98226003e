"""FedScale's device traces: device capacity and client behaviour (availability).

FedScale (Lai et al., ICML 2022) ships two traces, each a mapping from a client id to a
record (its ``client_device_capacity`` and ``client_behave_trace`` files):

- device capacity: ``{"computation": ms per sample, "communication": kbit/s}``;
- behaviour: ``{"active": [s, ...], "inactive": [s, ...], "finish_time": s, "duration":
  s, "model": device}``: the client is online in ``[active[i], inactive[i])``, and the
  pattern repeats every ``finish_time`` seconds.

Two forms are read: JSON Lines, one client a line with its id under ``client_id`` and
the record's keys beside it (what ships in ``experiments/traces/``), and FedScale's own
pickle of the whole mapping, read with an unpickler that refuses every class, so that a
trace file cannot run code. A record that is not what FedScale writes fails naming the
file and the line (the client, in a pickle). Simulated client ``c`` takes the trace's
``c mod n``-th record, in file order (FedScale maps its clients onto traces the same way).
"""

from __future__ import annotations

import bisect
import io
import json
import math
import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class TraceError(ValueError):
    """A trace file that cannot be read; the message names the file and the line."""


@dataclass(frozen=True)
class Capacity:
    """One device's capacity, in raysim's units."""

    speed: float  # samples per second (1000 / FedScale's ms per sample)
    bandwidth: float  # bytes per second, each way (FedScale's kbit/s × 125)


@dataclass(frozen=True)
class Behaviour:
    """One client's availability: online in ``[active[i], inactive[i])`` of each period."""

    active: tuple[float, ...]
    inactive: tuple[float, ...]
    period: float

    def _interval(self, t: float) -> tuple[float, int]:
        """(the start of t's period, the index of the last interval starting by t or -1)."""
        base = math.floor(t / self.period) * self.period
        return base, bisect.bisect_right(self.active, t - base) - 1

    def online_at(self, t: float) -> bool:
        """Whether the client is online at virtual time t."""
        base, i = self._interval(t)
        return i >= 0 and t - base < self.inactive[i]

    def online_until(self, t: float) -> float:
        """When the interval holding t ends (t itself if the client is offline at t); an
        interval running into the next period's first one continues there."""
        if not self.online_at(t):
            return t
        base, i = self._interval(t)
        end = base + self.inactive[i]
        if self.inactive[i] >= self.period and self.active[0] == 0.0:
            end += self.inactive[0]
        return end

    def next_online(self, t: float) -> float:
        """The first time at or after t at which the client is online."""
        if self.online_at(t):
            return t
        base, i = self._interval(t)
        if i + 1 < len(self.active):
            return base + self.active[i + 1]
        return base + self.period + self.active[0]


def _records(path: Path) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """(where, client id, record) of each client in a trace file, in file order."""
    raw = path.read_bytes()
    if raw[:1] == b"\x80":  # pickle protocol ≥ 2: FedScale's own file
        try:
            table = _PlainUnpickler(io.BytesIO(raw)).load()
        except (pickle.UnpicklingError, EOFError, ValueError) as err:
            raise TraceError(f"{path}: not a FedScale trace pickle ({err})") from None
        if not isinstance(table, dict):
            raise TraceError(f"{path}: a FedScale trace is a mapping of client id to record")
        for cid, record in table.items():
            yield f"{path}, client {cid!r}", cid, record
        return
    for n, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        where = f"{path}, line {n}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise TraceError(f"{where}: not JSON ({err.msg} at column {err.colno})") from None
        if not isinstance(record, dict) or "client_id" not in record:
            raise TraceError(f"{where}: expected a JSON object with a client_id")
        yield where, record.pop("client_id"), record


class _PlainUnpickler(pickle.Unpickler):
    """Plain values only (dicts, lists, numbers, strings): no class is ever loaded."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"it names {module}.{name}; only plain values are read")


def _number(where: str, record: dict[str, Any], key: str, positive: bool = True) -> float:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TraceError(f"{where}: {key} must be a finite number (got {value!r})")
    if positive and value <= 0:
        raise TraceError(f"{where}: {key} must be > 0 (got {value!r})")
    return float(value)


def _times(where: str, record: dict[str, Any], key: str) -> list[float]:
    value = record.get(key)
    if not isinstance(value, list) or not value:
        raise TraceError(f"{where}: {key} must be a non-empty list of seconds (got {value!r})")
    return [_number(where, {key: v}, key, positive=False) for v in value]


def _empty(path: Path, n: int) -> None:
    if n == 0:
        raise TraceError(f"{path}: no client records")


def read_capacity_trace(path: str | Path) -> list[Capacity]:
    """The device capacities of a FedScale capacity trace, in file order."""
    path = Path(path)
    out = []
    for where, _, record in _records(path):
        computation = _number(where, record, "computation")
        communication = _number(where, record, "communication")
        out.append(Capacity(speed=1000.0 / computation, bandwidth=communication * 125.0))
    _empty(path, len(out))
    return out


def read_behaviour_trace(path: str | Path) -> list[Behaviour]:
    """The availability patterns of a FedScale behaviour trace, in file order."""
    path = Path(path)
    out = []
    for where, _, record in _records(path):
        active, inactive = _times(where, record, "active"), _times(where, record, "inactive")
        period = _number(where, record, "finish_time")
        if len(active) != len(inactive):
            raise TraceError(
                f"{where}: {len(active)} active times but {len(inactive)} inactive times "
                "(each online interval has both)"
            )
        bounds = [b for pair in zip(active, inactive, strict=True) for b in pair]
        if bounds[0] < 0 or any(a >= b for a, b in zip(bounds, bounds[1:], strict=False)):
            raise TraceError(
                f"{where}: active/inactive times must alternate and increase from 0 "
                f"(active {active}, inactive {inactive})"
            )
        if inactive[-1] > period:
            raise TraceError(
                f"{where}: inactive time {inactive[-1]} is past finish_time {period}, the period"
            )
        out.append(Behaviour(tuple(active), tuple(inactive), period))
    _empty(path, len(out))
    return out
