"""Speech-enhancement models (pure PyTorch), registered in `raysim.registry.SE_MODELS`
with their params in `raysim.tasks.se_model_params` (torch-free)."""

from __future__ import annotations

from torch import nn

from raysim.registry import SE_MODELS, Named
from raysim.se.models.consistency import mixture_consistency
from raysim.se.models.convtasnet import ConvTasNet
from raysim.se.models.pulse_cnn import PulseCNN
from raysim.se.models.sudormrf import SuDORMRF


def build_se_model(params: Named | dict | str) -> nn.Module:
    """The registered model `params` names (typed params, a dict or a bare name),
    constructed with its params as keyword arguments."""
    params = SE_MODELS.parse(params)
    return SE_MODELS.impl(params.name)(**params.model_dump(exclude={"name"}))


__all__ = [
    "ConvTasNet",
    "PulseCNN",
    "SuDORMRF",
    "build_se_model",
    "mixture_consistency",
]
