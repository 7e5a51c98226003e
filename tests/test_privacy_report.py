"""ε spent where users read results: the live view, the sweep tables, the report (with
its unit of privacy and the ε–utility curve over seeds), and `raysim.describe`."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import raysim
from raysim.analysis.privacy import epsilon_figure, epsilon_utility, utility_markdown
from raysim.analysis.report import write_report
from raysim.analysis.tables import formatted, summarize
from raysim.config import parse_config
from raysim.privacy import plan_privacy
from raysim.round_record import RoundRecord
from raysim.sweep.live import LiveView
from raysim.sweep.results import Experiment, _trial_row
from raysim.sweep.spec import parse_sweep
from raysim.sweep.trainable import TrialReport

BASE = {
    "rounds": 10,
    "task": {"name": "feature_classification", "hidden": [8]},
    "data": {
        "source": "synthetic_features", "dim": 4, "n_train": 200, "n_test": 50,
        "partition": {"name": "iid", "n_clients": 8},
    },
    "sampling": {"fraction": 0.5},
    "strategy": {"name": "fedavg"},
    "privacy": {"epsilon": 3.0, "delta": 1e-3, "clip": 0.5},
    "eval": {"every": 5},
}  # fmt: skip
EPSILONS = [8.0, math.inf, 1.0, 3.0]  # in no order: the report sorts them, ∞ last
#: the synthetic outcome: UAR grows with ε; seed s adds 0.01 s
UAR = {1.0: 0.30, 3.0: 0.45, 8.0: 0.60, math.inf: 0.90}
NOISE_STD = {1.0: 0.8, 3.0: 0.35, 8.0: 0.2, math.inf: 0.0}


def _record(eps: float, uar: float, unit: str = "client") -> RoundRecord:
    dp = {"epsilon": eps, "delta": 1e-3, "unit": unit, "clip": 0.5, "noise_std": NOISE_STD[eps]}
    return RoundRecord(
        round=10, sampled=4, reporting=4, dropped=0, rejected=0, idle=0, lr=0.1,
        train_loss=0.5, bytes_down=1000, bytes_up=1000, wall_s=0.1,
        eval={"uar": uar}, privacy=dp,
    )  # fmt: skip


def _report(eps: float, uar: float, unit: str = "client") -> TrialReport:
    return TrialReport(_record(eps, uar, unit), {"uar": uar}, 10, "node0")


@pytest.fixture
def experiment(tmp_path: Path) -> Experiment:
    """A finished ε × seed sweep (4 × 3 trials) as `load_experiment` builds it: each
    trial's row made from its last round's report by the loader's own code."""
    sweep = parse_sweep({
        "name": "dp_test", "config": BASE,
        "space": {"privacy.epsilon": {"grid": EPSILONS}, "seed": {"grid": [0, 1, 2]}},
        "tune": {"metric": "eval_uar", "mode": "max"},
        "report": {"labels": {"privacy.epsilon": "epsilon (per client)"}},
    })  # fmt: skip
    rows = []
    for i, (eps, seed) in enumerate((e, s) for e in EPSILONS for s in (0, 1, 2)):
        trial = SimpleNamespace(
            trial_id=f"t{i:02d}", status="TERMINATED",
            config={"privacy.epsilon": eps, "seed": seed},
        )  # fmt: skip
        rows.append(_trial_row(sweep, trial, [(_report(eps, UAR[eps] + 0.01 * seed), 0)]))
    return Experiment(tmp_path, sweep, pd.DataFrame(rows), pd.DataFrame())


def test_sweep_table_shows_epsilon_spent_and_its_unit(experiment):
    table = summarize(experiment)
    cells = formatted(experiment, table).set_index("epsilon (per client)")
    assert cells.loc["inf", "ε spent"] == "∞ per client"
    assert cells.loc["3", "ε spent"] == "3 per client"
    assert cells.loc["8", "eval_uar"] == "0.6100 ± 0.0100"


def test_epsilon_utility_table_has_every_seed_in_epsilon_order(experiment):
    table = epsilon_utility(experiment)
    assert table["epsilon"].tolist() == [1.0, 3.0, 8.0, math.inf]
    assert table["mean"].tolist() == pytest.approx([0.31, 0.46, 0.61, 0.91])
    assert table["std"].tolist() == pytest.approx([0.01] * 4)
    assert [s for s, _ in table["runs"][0]] == [0, 1, 2]
    assert [v for _, v in table["runs"][0]] == pytest.approx([0.30, 0.31, 0.32])
    assert table["noise_std"].tolist() == pytest.approx([0.8, 0.35, 0.2, 0.0])
    assert set(table["unit"]) == {"client"}
    text = utility_markdown(experiment, table)
    assert (
        "| ∞ | ∞ per client | 0 | 0.9100 ± 0.0100 | 0: 0.9000, 1: 0.9100, 2: 0.9200 | 3 |" in text
    )


def test_epsilon_figure_draws_the_means_and_every_seed(experiment):
    fig = epsilon_figure(experiment, epsilon_utility(experiment))
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "3", "8", "∞"]
    assert "per client" in ax.get_xlabel() and ax.get_ylabel() == "eval_uar"
    (errorbars,) = ax.containers
    mean_line = errorbars.lines[0]
    assert mean_line.get_ydata().tolist() == pytest.approx([0.31, 0.46, 0.61, 0.91])
    seeds = ax.collections[-1]  # the scatter, drawn after the error bars
    expected = [(x, UAR[e] + 0.01 * s) for x, e in enumerate(sorted(UAR)) for s in (0, 1, 2)]
    np.testing.assert_allclose(sorted(map(tuple, seeds.get_offsets())), expected)


def test_report_states_the_unit_and_plots_utility_against_epsilon(experiment, tmp_path):
    report = write_report(experiment, tmp_path / "report").read_text()
    assert "- unit of privacy: **client**: ε bounds what the models reveal about the" in report
    assert "δ = 0.001" in report and "central DP-FedAvg (rdp accounting)" in report
    assert "## Privacy–utility: eval_uar against ε per client" in report
    assert "0: 0.3000, 1: 0.3100, 2: 0.3200" in report  # every seed of ε = 1
    assert (tmp_path / "report" / "epsilon_utility.png").stat().st_size > 10_000
    trials = report.split("## Trials")[1]
    assert trials.count("∞ per client") == 3 and trials.count("| 1 per client |") == 3


def test_report_without_privacy_has_no_privacy_lines(experiment, tmp_path):
    trials = experiment.trials
    plain = trials[trials["config/privacy.epsilon"] == 1.0]  # one setting, three seeds
    experiment.trials = plain.drop(columns=[c for c in trials if c.startswith("dp_")])
    report = write_report(experiment, tmp_path / "plain").read_text()
    assert "eval_uar: 0.3100 ± 0.0100 over 3 runs" in report
    assert "- privacy:" not in report and "unit of privacy" not in report and "ε" not in report


def test_live_view_shows_epsilon_spent_and_the_unit(capsys):
    def trial(i: int, report: TrialReport | None) -> SimpleNamespace:
        last = report.to_dict() if report else {}
        config = {"privacy.epsilon": 8.0, "seed": i}
        return SimpleNamespace(trial_id=f"t{i}", status="RUNNING", last_result=last, config=config)

    private = [trial(0, _report(3.0, 0.4, "speaker")), trial(1, None)]
    table = LiveView("eval_uar", "max", 10).render(private)
    headers = [c.header for c in table.columns]
    assert headers[6] == "ε spent"
    assert list(table.columns[6].cells) == ["3 per speaker", ""]
    plain = [trial(0, TrialReport(_record(1.0, 0.4), {"uar": 0.4}, 10, "n"))]
    plain[0].last_result = {k: v for k, v in plain[0].last_result.items() if "dp_" not in k}
    assert "ε spent" not in [
        c.header for c in LiveView("eval_uar", "max", 10).render(plain).columns
    ]
    view = LiveView("eval_uar", "max", 10)
    view.on_step_end(0, private[:1])  # not a terminal: one line per status change
    assert "latest eval_uar=0.4 ε=3 per speaker epsilon=8" in capsys.readouterr().out


def test_describe_shows_the_solved_privacy_plan():
    fed = raysim.describe(BASE, show=False)
    config = parse_config(BASE)
    plan, _ = plan_privacy(config, fed.n_clients, None, curve=False)
    assert fed.notes[-1] == f"privacy: {plan.describe()}"
    assert fed.notes[-1].startswith("privacy: central DP, (3, 0.001)-DP per client over 10 rounds")
    assert plan.noise_multiplier > 0 and plan.epsilons == []
