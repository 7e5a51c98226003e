"""raysim's SE losses and metrics against the reference workloads' own code beside the
project (../shared/bench/workloads.py), bit for bit where the formulation is the same."""

from __future__ import annotations

import pytest
import torch

from raysim.se.losses import mixit_assignments, mixit_loss, neg_si_snr, si_snr
from raysim.se.metrics import evaluate_enhancement
from raysim.se.models import ConvTasNet


def test_si_snr_matches_workload_bit_for_bit(workloads, gen):
    est, ref = torch.randn(3, 4, 500, generator=gen), torch.randn(3, 4, 500, generator=gen)
    assert torch.equal(si_snr(est, ref), workloads.si_snr(est, ref))


def test_mixit_assignments_match_workload(workloads):
    assert torch.equal(mixit_assignments(4), workloads._MIXIT_A)


def test_oracle_si_snri_reproduces_eval_w2(workloads):
    test = workloads.w2_test(seed=0, n_test=8)
    model = workloads.make_w2_model(seed=0)
    threads = torch.get_num_threads()
    try:
        expected = workloads.eval_w2(model, test)  # sets 1 thread
    finally:
        torch.set_num_threads(threads)
    mix, speech = torch.from_numpy(test["mix"]), torch.from_numpy(test["speech"])
    with torch.no_grad():
        est = model(mix)
    out = evaluate_enhancement(est, speech, mix, workloads.FS, metrics=("si_snri",), slot="oracle")
    assert out["si_snri"] == pytest.approx(expected, abs=1e-5)


def test_mixit_general_with_neg_si_snr_equals_workload(workloads, gen):
    est = torch.randn(3, 4, 800, generator=gen, requires_grad=True)
    m1, m2 = torch.randn(3, 800, generator=gen), torch.randn(3, 800, generator=gen)
    ours = mixit_loss(est, torch.stack([m1, m2], 1), neg_si_snr)
    ref = workloads.mixit_loss(est, m1, m2)
    assert torch.equal(ours, ref)
    (g_ours,) = torch.autograd.grad(ours, est)
    (g_ref,) = torch.autograd.grad(ref, est)
    torch.testing.assert_close(g_ours, g_ref, atol=0, rtol=0)


@pytest.mark.parametrize("seed", [0, 7])
def test_convtasnet_defaults_reproduce_w2_separator_bit_for_bit(workloads, seed):
    torch.manual_seed(seed)
    ref = workloads.W2Separator()
    torch.manual_seed(seed)
    ours = ConvTasNet()
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert torch.equal(_flat(ours), _flat(ref))
    x = torch.randn(3, workloads.W2_LEN)
    with torch.no_grad():
        assert torch.equal(ours(x), ref(x))


def _flat(model: torch.nn.Module) -> torch.Tensor:
    return torch.nn.utils.parameters_to_vector(model.parameters()).detach()
