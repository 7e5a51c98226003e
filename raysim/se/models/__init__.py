"""Speech-enhancement models (pure PyTorch) and a name → class registry."""

from __future__ import annotations

from torch import nn

from raysim.se.models.consistency import mixture_consistency
from raysim.se.models.convtasnet import ConvTasNet
from raysim.se.models.pulse_cnn import PulseCNN
from raysim.se.models.sudormrf import SuDORMRF

SE_MODELS: dict[str, type[nn.Module]] = {
    "sudormrf": SuDORMRF,
    "convtasnet": ConvTasNet,
    "pulse_cnn": PulseCNN,
}


def build_se_model(name: str, **kwargs) -> nn.Module:
    """Instantiate the model registered as `name` with constructor `kwargs`."""
    try:
        cls = SE_MODELS[name]
    except KeyError:
        raise ValueError(f"unknown SE model {name!r}; choose from {sorted(SE_MODELS)}") from None
    return cls(**kwargs)


__all__ = [
    "SE_MODELS",
    "ConvTasNet",
    "PulseCNN",
    "SuDORMRF",
    "build_se_model",
    "mixture_consistency",
]
