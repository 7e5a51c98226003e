"""The corpus builders and the SE mixture source on the real example audio beside the
project (FSDD 8 kHz WAV, URDU 44.1 kHz WAV, ESC-10 44.1 kHz OGG)."""

from __future__ import annotations

import numpy as np
import pytest
from corpus_checks import CHECKS

from raysim.data.corpora import build_manifest
from raysim.data.se_sources import SEMixturesParams, se_mixtures


@pytest.mark.parametrize("corpus", sorted(CHECKS))
def test_published_layout(shared_data, corpus):
    CHECKS[corpus](build_manifest(corpus, shared_data / corpus), shared_data / corpus)


def test_se_mixtures_from_real_speech_and_noise(shared_data):
    params = SEMixturesParams.model_validate(
        {
            "source": "se_mixtures",
            "speech": {"corpus": "fsdd", "root": str(shared_data / "fsdd"), "max_files": 60},
            "noise": {"corpus": "esc10", "root": str(shared_data / "esc10"), "max_files": 20},
            "partition": {"name": "group", "n_clients": 2},
            "chunk_seconds": 0.5,
            "sample_rate": 8000,
            "p_supervised": 0.5,
            "held_out": {"by": "split"},
            "test_snrs_db": [0.0],
            "max_test_examples": 4,
        }  # fmt: skip
    )
    source = se_mixtures(params, seed=0)
    sup = source.clients.get(0)
    assert sup["mixture"].shape[1] == 4000 and np.isfinite(sup["mixture"]).all()
    np.testing.assert_allclose(sup["mixture"], sup["speech"] + sup["noise"], atol=1e-6)
    assert source.eval_data["mixture"].shape == (4, 4000)
