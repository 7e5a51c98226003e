"""The random streams' tags keep their values: changing one changes every result."""

from __future__ import annotations

import numpy as np
import pytest

from raysim.rng import ProceduralStream, Stream
from raysim.ser.masks import label_mask

# the values every published result was drawn with
PINNED = {
    Stream.LABEL_RATE: 0x1AB,
    Stream.LABELLED_CLIENT: 0xC1A,
    Stream.PSEUDO_LABEL_SCORING: 0x5C0,
    Stream.PSEUDO_LABEL_PAIRING: 0xA11,
    ProceduralStream.TRAITS: 1,
    ProceduralStream.UTTERANCE: 2,
    ProceduralStream.NOISE: 3,
}


@pytest.mark.parametrize(("tag", "value"), PINNED.items(), ids=lambda t: getattr(t, "name", ""))
def test_tags_keep_their_values(tag, value):
    assert int(tag) == value


def test_a_call_site_draws_from_seed_keys_and_tag_in_that_order():
    # label_mask(n, rate, seed, client): [seed, client, LABEL_RATE], as before the enum
    rng = np.random.default_rng([3, 7, 0x1AB])
    count = int(np.floor(0.4 * 20 + rng.random()))
    expected = np.zeros(20, dtype=bool)
    expected[rng.choice(20, size=count, replace=False)] = True
    np.testing.assert_array_equal(label_mask(20, 0.4, seed=3, client_id=7), expected)
