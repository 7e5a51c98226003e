"""Progress of a simulation's rounds: a live bar on a terminal, whole lines elsewhere.

On a terminal a rich bar is redrawn in place. In a log or a pipe a bar cannot be
redrawn (rich prints it once, cut at the console's width, mid-word), so there each
round with an evaluation, the first and the last round, and otherwise one round
every :data:`LINE_EVERY_S` seconds print one whole line each, never wrapped or cut.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from raysim.round_record import EVAL_PREFIX

#: most seconds between two lines of rounds without an evaluation (not on a terminal)
LINE_EVERY_S = 30.0

Advance = Callable[[dict[str, Any]], None]


def shown_metrics(record: dict[str, Any]) -> str:
    """The round's training loss and evaluation metrics, as ``key=value`` pairs."""
    shown = {k: v for k, v in record.items() if k.startswith(EVAL_PREFIX) or k == "train_loss"}
    return "  ".join(f"{k}={v:.4f}" for k, v in shown.items() if isinstance(v, float))


def progress_line(record: dict[str, Any], total: int, elapsed: float) -> str:
    """One whole line about a finished round: its number, the time so far, its metrics."""
    head = f"round {record.get('round', '?')}/{total}  {elapsed:.0f} s"
    metrics = shown_metrics(record)
    return f"{head}  {metrics}" if metrics else head


class RoundProgress:
    """Context manager giving an ``advance(record)`` to call after every round.

    Args:
        enabled: False: advance does nothing.
        total: rounds of the run; done: rounds already done (a resumed run).
        file: where to write (default: stdout); a bar only if it is a terminal.
    """

    def __init__(self, enabled: bool, total: int, done: int, file: TextIO | None = None):
        self.enabled, self.total, self.done = enabled, total, done
        self.file = file
        self._bar: Any = None

    def __enter__(self) -> Advance:
        if not self.enabled:
            return lambda record: None
        from rich.console import Console

        console = Console(file=self.file or sys.stdout)
        return self._bar_advance(console) if console.is_terminal else self._line_advance()

    def _bar_advance(self, console: Any) -> Advance:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._bar = Progress(
            TextColumn("round"), MofNCompleteColumn(), BarColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"), console=console,
        )  # fmt: skip
        self._bar.start()
        task = self._bar.add_task("rounds", total=self.total, completed=self.done, info="")

        def advance(record: dict[str, Any]) -> None:
            self._bar.update(task, advance=1, info=shown_metrics(record))

        return advance

    def _line_advance(self) -> Advance:
        start = time.monotonic()
        last: float | None = None
        file = self.file or sys.stdout

        def advance(record: dict[str, Any]) -> None:
            nonlocal last
            now = time.monotonic()
            evaluated = any(k.startswith(EVAL_PREFIX) for k in record)
            edge = last is None or record.get("round") == self.total
            if evaluated or edge or now - last >= LINE_EVERY_S:
                print(progress_line(record, self.total, now - start), file=file, flush=True)
                last = now

        return advance

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
