"""Strategy and server-optimizer maths against hand computations (no Ray)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import BaseModel
from torch import nn

from raysim.config import LocalConfig
from raysim.engine.exact_sum import ExactSum, merge_sums
from raysim.engine.local import train_client
from raysim.registry import SERVER_OPTIMIZERS, STRATEGIES
from raysim.tasks.base import ClientContext, LocalData, Task


class _NoParams(BaseModel):
    pass


class _Point(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(dim, dtype=torch.float32))


class QuadraticTask(Task):
    """f_i(w) = ½‖w − a_i‖², so g_i(w) = w − a_i exactly."""

    def build_model(self):
        return _Point(2)

    def local_data(self, model, data, state, ctx):
        return LocalData({"a": torch.tensor(data["a"])})

    def loss(self, model, batch, ctx):
        return 0.5 * ((model.w - batch["a"][0]) ** 2).sum()

    def evaluate(self, model, data):
        return {}


def _train(strategy, x, payload, a, state, steps, lr):
    task = QuadraticTask(_NoParams(), {})
    cfg = LocalConfig.model_validate(
        {"optimizer": {"name": "sgd", "lr": lr}, "steps": steps, "batch_size": 1, "shuffle": False}
    )
    ctx = ClientContext(0, 0, 0, np.random.default_rng(0))
    data = {"a": np.array([a], np.float32)}
    return train_client(task, task.build_model(), strategy, cfg, lr, x, payload, data, state, ctx)


@pytest.mark.parametrize("option", ["I", "II"])
def test_scaffold_two_clients_match_hand_computation(option):
    lr, steps, population = 0.1, 2, 4
    x = np.array([0.0, 0.0], np.float32)
    a = [np.array([1.0, 2.0]), np.array([-1.0, 0.5])]
    c_i = [np.array([0.05, 0.05]), np.zeros(2)]  # client 2 has never trained: c_2 = 0
    strategy = STRATEGIES.make(dict(name="scaffold", option=option), 2, population)
    strategy.c = np.array([0.1, -0.2], np.float32)
    c = strategy.c.astype(np.float64)

    # by hand: y ← y − η (g_i(y) − c_i + c), K = 2 steps from x
    expected_y, expected_ci = [], []
    for ai, ci in zip(a, c_i, strict=True):
        y = x.astype(np.float64)
        for _ in range(steps):
            y = y - lr * ((y - ai) - ci + c)
        expected_y.append(y)
        if option == "I":
            expected_ci.append(x - ai)  # g_i(x)
        else:
            expected_ci.append(ci - c + (x - y) / (steps * lr))

    results = [
        _train(
            strategy,
            x,
            strategy.broadcast(),
            a[k],
            {"c_i": c_i[k].astype(np.float32)} if k == 0 else None,
            steps,
            lr,
        )
        for k in range(2)
    ]
    for k, res in enumerate(results):
        np.testing.assert_allclose(x + res.delta, expected_y[k], atol=1e-6)
        np.testing.assert_allclose(res.state["c_i"], expected_ci[k], atol=1e-6)
        np.testing.assert_allclose(res.extra["dc"], expected_ci[k] - c_i[k], atol=1e-6)

    sums = merge_sums(
        [
            {"delta": ExactSum.of(r.delta.astype(np.float64)), "dc": ExactSum.of(r.extra["dc"])}
            for r in results
        ]
    )
    delta = strategy.pseudo_gradient(sums, weight_total=2.0, n_reporting=2)
    mean_dy = (expected_y[0] + expected_y[1]) / 2 - x
    mean_dc = ((expected_ci[0] - c_i[0]) + (expected_ci[1] - c_i[1])) / 2
    np.testing.assert_allclose(delta, mean_dy, atol=1e-6)  # η_g = 1, uniform mean
    np.testing.assert_allclose(strategy.c, c + (2 / population) * mean_dc, atol=1e-6)


def test_fedprox_adds_proximal_gradient():
    lr, mu = 0.1, 0.5
    x = np.array([0.3, -0.4], np.float32)
    strategy = STRATEGIES.make(dict(name="fedprox", mu=mu), 2, 1)
    res = _train(strategy, x, {}, np.array([1.0, 1.0]), None, 2, lr)
    y = x.astype(np.float64)
    for _ in range(2):
        y = y - lr * ((y - 1.0) + mu * (y - x))
    np.testing.assert_allclose(x + res.delta, y, atol=1e-6)


def _fedopt_by_hand(name, deltas, lr=1e-2, b1=0.9, b2=0.99, tau=1e-3):
    x = np.zeros(3)
    m = np.zeros(3)
    v = np.full(3, tau**2)
    for d in deltas:
        m = b1 * m + (1 - b1) * d
        if name == "adagrad":
            v = v + d**2
        elif name == "adam":
            v = b2 * v + (1 - b2) * d**2
        else:
            v = v - (1 - b2) * d**2 * np.sign(v - d**2)
        x = x + lr * m / (np.sqrt(v) + tau)
    return x


@pytest.mark.parametrize("name", ["adagrad", "adam", "yogi"])
def test_fedopt_server_optimizers_follow_reddi_et_al(name):
    deltas = [np.array([0.1, -0.2, 0.05]), np.array([0.3, 0.0, -0.1]), np.array([-0.05, 0.2, 0.2])]
    opt = SERVER_OPTIMIZERS.make(dict(name=name), 3)
    x = np.zeros(3, np.float32)
    for d in deltas:
        x = opt.step(x, d)
    np.testing.assert_allclose(x, _fedopt_by_hand(name, deltas), rtol=1e-5, atol=1e-7)


def test_fedavgm_is_server_momentum():
    opt = SERVER_OPTIMIZERS.make(dict(name="avgm", lr=1.0, momentum=0.5), 2)
    x = opt.step(np.zeros(2, np.float32), np.array([1.0, 2.0]))
    x = opt.step(x, np.array([1.0, 0.0]))
    # m1 = [1, 2]; m2 = 0.5 m1 + [1, 0] = [1.5, 1]; x = m1 + m2
    np.testing.assert_allclose(x, [2.5, 3.0])


def test_fedavg_weights_by_samples_or_uniformly():
    d1, d2 = np.array([1.0, 0.0]), np.array([0.0, 4.0])
    for weighting, expected in (("samples", [0.25, 3.0]), ("uniform", [0.5, 2.0])):
        s = STRATEGIES.make(dict(name="fedavg", weighting=weighting), 2, 2)
        w1, w2 = s.client_weight(10), s.client_weight(30)
        sums = {"delta": ExactSum.of(w1 * d1).add(ExactSum.of(w2 * d2))}
        np.testing.assert_allclose(s.pseudo_gradient(sums, w1 + w2, 2), expected)


def test_plateau_schedule_lowers_lr_when_the_monitored_loss_stalls():
    from raysim.engine.lr_schedule import RoundLR

    cfg = LocalConfig.model_validate(
        {"optimizer": {"lr": 0.1}, "lr_schedule": {"name": "plateau", "patience": 1, "factor": 0.5}}
    )
    sched = RoundLR(cfg.lr_schedule, cfg.optimizer.lr, rounds=10)
    for loss in (1.0, 0.9, 0.9, 0.9):
        sched.end_round({"train_loss": loss})
    assert sched.lr == 0.05


def test_scaffold_after_step_correction_bypasses_the_optimizer():
    """With Adam, 'after_step' moves y by −η(c − c_i) after each Adam step, by hand."""
    lr, steps = 0.1, 2
    x = np.array([0.0, 0.0], np.float32)
    a = np.array([1.0, 2.0])
    strategy = STRATEGIES.make(dict(name="scaffold", correction="after_step"), 2, population=2)
    strategy.c = np.array([0.1, -0.2], np.float32)
    c_i = np.array([0.05, 0.05], np.float32)
    task = QuadraticTask(_NoParams(), {})
    cfg = LocalConfig.model_validate(
        {"optimizer": {"name": "adam", "lr": lr}, "steps": steps, "batch_size": 1, "shuffle": False}
    )
    ctx = ClientContext(0, 0, 0, np.random.default_rng(0))
    res = train_client(
        task, task.build_model(), strategy, cfg, lr, x, strategy.broadcast(),
        {"a": np.array([a], np.float32)}, {"c_i": c_i}, ctx,
    )  # fmt: skip
    # by hand: Adam on g = y − a (no correction inside), then y ← y − η (c − c_i)
    y, m, v = x.astype(np.float64), np.zeros(2), np.zeros(2)
    for t in range(1, steps + 1):
        g = y - a
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g**2
        y = y - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        y = y - lr * (strategy.c - c_i)
    np.testing.assert_allclose(x + res.delta, y, atol=1e-5)
