"""Round progress: a bar on a terminal; in a log or a pipe, whole lines never cut."""

from __future__ import annotations

import io

from raysim.progress import RoundProgress

LONG = {f"eval_{name}": 0.5 for name in ("accuracy", "uar", "f1", "loss", "a_rather_long_metric")}


def test_a_pipe_gets_whole_lines_for_evaluations_and_the_first_and_last_round():
    out = io.StringIO()  # not a terminal
    with RoundProgress(True, 6, 0, file=out) as advance:
        for r in range(1, 7):
            advance({"round": r, "train_loss": 0.25, **(LONG if r % 3 == 0 else {})})
    lines = out.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["1/6", "3/6", "6/6"]
    for line in lines[1:]:
        assert line.endswith("eval_a_rather_long_metric=0.5000")  # whole, past 80 columns
        assert len(line) > 80 and "…" not in line
    assert lines[0].endswith("train_loss=0.2500")


def test_disabled_progress_prints_nothing():
    out = io.StringIO()
    with RoundProgress(False, 2, 0, file=out) as advance:
        advance({"round": 1, **LONG})
    assert out.getvalue() == ""
