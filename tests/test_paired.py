"""The paired comparison: pairing by (seed, fold), the Wilcoxon p-values, edge cases,
and the analysis/paired_test.py entry point."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from scipy.stats import wilcoxon

from raysim.analysis.paired import paired_comparison


def runs(values: dict[tuple[int, int], float], variant: str = "x") -> list[dict]:
    return [{"seed": s, "fold": f, "uar": v, "variant": variant, "mode": variant,
             "strategy": "scaffold"} for (s, f), v in values.items()]  # fmt: skip


A = {(s, f): 0.80 + 0.01 * f + 0.002 * s for s in range(3) for f in range(5)}
B = {k: v - 0.02 + 0.004 * (k[1] % 2) for k, v in A.items()}


def test_pairs_by_seed_and_fold_and_matches_scipy():
    result = paired_comparison(runs(A), list(reversed(runs(B))), names=("a", "b"))
    keys = sorted(A)
    xa, xb = [A[k] for k in keys], [B[k] for k in keys]
    assert result.pairs == 15 and result.wins == 15 and result.losses == 0
    assert result.mean_diff == pytest.approx(sum(xa) / 15 - sum(xb) / 15)
    assert result.p_two_sided == pytest.approx(wilcoxon(xa, xb).pvalue)
    assert result.p_greater == pytest.approx(wilcoxon(xa, xb, alternative="greater").pvalue)
    assert result.p_greater < 0.001
    assert "+1.84 UAR points over 15 pairs (15 wins, 0 losses)" in result.line()


def test_only_common_pairs_count_and_equal_runs_have_no_p_value():
    partial = {k: v for k, v in B.items() if k[0] == 0}
    assert paired_comparison(runs(A), runs(partial)).pairs == 5
    same = paired_comparison(runs(A), runs(A))
    assert same.p_two_sided is None and same.mean_diff == 0 and "n/a" in same.line()


def test_no_common_pair_and_duplicate_pairs_are_errors():
    with pytest.raises(ValueError, match="no \\(seed, fold\\) in common"):
        paired_comparison(runs({(0, 0): 0.5}), runs({(1, 0): 0.5}))
    with pytest.raises(ValueError, match="two runs for seed 0, fold 0"):
        paired_comparison(runs({(0, 0): 0.5}) * 2, runs({(0, 0): 0.5}))


def _cli():
    path = Path(__file__).parents[1] / "analysis" / "paired_test.py"
    spec = importlib.util.spec_from_file_location("paired_test_cli", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_entry_point_reads_semi_fedser_outputs(tmp_path, capsys):
    out = tmp_path / "runs.json"
    out.write_text(json.dumps({"config": {}, "runs": runs(A, "new") + runs(B, "labelled_only")}))
    assert _cli().main([str(out), "--a", "new", "--b", "labelled_only"]) == 0
    assert "new vs labelled_only" in capsys.readouterr().out
    assert _cli().main([str(out), "--a", "typo", "--b", "labelled_only"]) == 2
    assert "no runs of variant 'typo' (found: labelled_only, new)" in capsys.readouterr().err
