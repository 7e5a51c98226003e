"""Corpus builders: one module per corpus family, each reading the published layout into
the standard manifest (:mod:`raysim.data.manifest`). :func:`build_manifest` picks one by name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from raysim.data.corpora._common import (
    EMOTION_NAMES,
    FOUR_CLASSES,
    CorpusLayoutError,
    SkippedFilesWarning,
)
from raysim.data.corpora.crema_d import build_crema_d_manifest
from raysim.data.corpora.demand import build_demand_manifest
from raysim.data.corpora.emodb import build_emodb_manifest
from raysim.data.corpora.esc import build_esc10_manifest, build_esc50_manifest
from raysim.data.corpora.fsd50k import SPEECH_LIKE_LABELS, build_fsd50k_manifest
from raysim.data.corpora.fsdd import build_fsdd_manifest
from raysim.data.corpora.iemocap import build_iemocap_manifest
from raysim.data.corpora.librispeech import build_librispeech_manifest
from raysim.data.corpora.msp_improv import build_msp_improv_manifest
from raysim.data.corpora.ravdess import build_ravdess_manifest
from raysim.data.corpora.urdu import build_urdu_manifest
from raysim.data.corpora.voicebank import build_voicebank_manifest
from raysim.data.corpora.wham import build_wham_manifest

BUILDERS: dict[str, Callable[..., pd.DataFrame]] = {
    "librispeech": build_librispeech_manifest,
    "voicebank_demand": build_voicebank_manifest,
    "wham_noise": build_wham_manifest,
    "fsd50k": build_fsd50k_manifest,
    "demand": build_demand_manifest,
    "esc50": build_esc50_manifest,
    "esc10": build_esc10_manifest,
    "fsdd": build_fsdd_manifest,
    "iemocap": build_iemocap_manifest,
    "msp_improv": build_msp_improv_manifest,
    "crema_d": build_crema_d_manifest,
    "ravdess": build_ravdess_manifest,
    "emodb": build_emodb_manifest,
    "urdu": build_urdu_manifest,
}


def build_manifest(corpus: str, root: str | Path, **kwargs) -> pd.DataFrame:
    """Build the manifest of `corpus` (a key of :data:`BUILDERS`) found at `root`.

    Keyword arguments go to that corpus's builder (all take ``probe`` and ``on_error``).
    """
    key = corpus.lower().replace("-", "_")
    if key not in BUILDERS:
        raise KeyError(f"unknown corpus {corpus!r}; known: {', '.join(sorted(BUILDERS))}")
    return BUILDERS[key](root, **kwargs)


__all__ = [
    "BUILDERS",
    "EMOTION_NAMES",
    "FOUR_CLASSES",
    "SPEECH_LIKE_LABELS",
    "CorpusLayoutError",
    "SkippedFilesWarning",
    "build_manifest",
    *(f.__name__ for f in BUILDERS.values()),
]
