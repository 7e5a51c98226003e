"""SE models: shapes, parameter counts, mixture consistency, PULSE masking."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from raysim.registry import SE_MODELS
from raysim.se.models import ConvTasNet, PulseCNN, SuDORMRF, build_se_model


def _flat(model: torch.nn.Module) -> torch.Tensor:
    return torch.nn.utils.parameters_to_vector(model.parameters()).detach()


def test_convtasnet_config_and_consistency():
    torch.manual_seed(0)
    free = ConvTasNet(n_src=2, n_filters=16, hidden=32, n_blocks=2, mixture_consistency=False)
    torch.manual_seed(0)
    proj = ConvTasNet(n_src=2, n_filters=16, hidden=32, n_blocks=2)
    x = torch.randn(2, 1003)
    with torch.no_grad():
        y_free, y_proj = free(x), proj(x)
    assert y_free.shape == y_proj.shape == (2, 2, 1003)
    assert (y_free.sum(1) - x).abs().max() > 1e-2  # not consistent by itself
    torch.testing.assert_close(y_proj.sum(1), x, atol=1e-5, rtol=0)
    # the projection only adds an equal share of the residual to every slot
    share = (x - y_free.sum(1)) / 2
    torch.testing.assert_close(y_proj, y_free + share.unsqueeze(1), atol=1e-6, rtol=0)


def test_sudormrf_default_size_and_shapes():
    torch.manual_seed(0)
    model = SuDORMRF()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"SuDORMRF default parameters: {n_params}")
    assert 0.6e6 <= n_params <= 1.0e6
    x = torch.randn(1, 16000)  # 1 s at 16 kHz
    with torch.no_grad():
        y = model(x)
    assert y.shape == (1, 3, 16000)
    torch.testing.assert_close(y.sum(1), x, atol=1e-4, rtol=0)


def test_sudormrf_small_config_any_length_and_gradients():
    torch.manual_seed(0)
    model = SuDORMRF(
        n_src=2,
        enc_kernel=21,
        enc_bases=32,
        bottleneck=16,
        ublock_channels=32,
        n_blocks=2,
        upsampling_depth=3,
        groups=4,
        mixture_consistency=False,
    )
    x = torch.randn(2, 1234)
    y = model(x)
    assert y.shape == (2, 2, 1234)
    y.pow(2).mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    with pytest.raises(ValueError, match="odd"):
        SuDORMRF(enc_kernel=40)
    with pytest.raises(ValueError, match="divide"):
        SuDORMRF(bottleneck=250, groups=16)


def _constant_logit_cnn(value: float) -> PulseCNN:
    model = PulseCNN().eval()
    last = model.net[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(value)
    return model


def test_pulse_cnn_shapes():
    torch.manual_seed(0)
    model = PulseCNN(channels=4, blocks=1).eval()
    wave = torch.randn(2, 8000)
    spec = model.stft(wave)
    assert spec.is_complex() and spec.shape == (2, 513, 8000 // 256 + 1)
    assert model(spec.abs()).shape == spec.shape
    assert model.enhance(wave).shape == wave.shape


def test_pulse_enhance_mask_convention_round_trip():
    wave = torch.randn(2, 8000)
    with torch.no_grad():
        keep = _constant_logit_cnn(-1.0).enhance(wave)  # z < 0 everywhere: mask all ones
        drop = _constant_logit_cnn(1.0).enhance(wave)  # z > 0 everywhere: all noise
        soft = _constant_logit_cnn(0.0).enhance(wave, soft=True)  # σ(−0) = 0.5
    torch.testing.assert_close(keep, wave, atol=1e-5, rtol=0)
    assert drop.abs().max() == 0
    torch.testing.assert_close(soft, wave / 2, atol=1e-5, rtol=0)


def test_registry():
    assert set(SE_MODELS.names()) == {"sudormrf", "convtasnet", "pulse_cnn"}
    params = {"name": "convtasnet", "n_src": 2, "n_filters": 8, "hidden": 16, "n_blocks": 1}
    model = build_se_model(params)
    assert isinstance(model, ConvTasNet) and model.n_src == 2
    assert isinstance(build_se_model({"name": "pulse_cnn", "channels": 2}), PulseCNN)
    with pytest.raises(ValidationError, match="unknown SE model 'tasnet'"):
        build_se_model("tasnet")
    with pytest.raises(ValidationError, match="did you mean 'n_blocks'"):
        build_se_model({"name": "convtasnet", "nblocks": 2})
