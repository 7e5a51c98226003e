"""Speech-enhancement building blocks: models, losses and metrics (pure PyTorch, no
federated logic). Methods and their paper settings are described in METHODS.md."""

from raysim.se.losses import (
    PURisk,
    fedenhance_mixit_loss,
    mixit_assignments,
    mixit_loss,
    neg_si_sdr,
    neg_si_snr,
    nnpu_loss,
    pit_neg_si_sdr,
    pn_loss,
    si_snr,
    snr_max_loss,
    supervised_fedenhance_loss,
)
from raysim.se.metrics import enhancement_scores, evaluate_enhancement, select_slot
from raysim.se.models import ConvTasNet, PulseCNN, SuDORMRF, build_se_model

__all__ = [
    "ConvTasNet",
    "PURisk",
    "PulseCNN",
    "SuDORMRF",
    "build_se_model",
    "enhancement_scores",
    "evaluate_enhancement",
    "fedenhance_mixit_loss",
    "mixit_assignments",
    "mixit_loss",
    "neg_si_sdr",
    "neg_si_snr",
    "nnpu_loss",
    "pit_neg_si_sdr",
    "pn_loss",
    "select_slot",
    "si_snr",
    "snr_max_loss",
    "supervised_fedenhance_loss",
]
