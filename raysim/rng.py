"""Every seeded random stream in raysim, named in one place.

A stream is numpy's Generator seeded by ``[seed, *keys]``: the run seed, the ids
that make it per round or per client, and a tag naming its purpose. Purposes never
share draws, and a client's draws never depend on which worker ran it or in which
order. The tags' values are fixed forever: changing one changes every result.
"""

from __future__ import annotations

from enum import IntEnum, unique

import numpy as np


@unique  # two purposes sharing a tag would share draws
class Stream(IntEnum):
    """The purpose tag of each random stream (where it goes in the key: see the caller)."""

    CLIENT_TRAINING = 0xC11E  # [seed, round, client, tag]: shuffling, dropout, augmentation
    COHORT = 0x5A3  # [seed, round, tag]: which clients a round samples
    AVAILABILITY = 0xA7A1  # [seed, client, tag]: a client's reporting probability
    PARTITION = 0xDA7A  # [seed, tag, partitioner]: client partitions
    HELD_OUT_GROUPS = 0x7E57  # [seed, tag]: the server's held-out groups
    SYNTHETIC_FEATURES = 0x5F  # [seed, tag]: the synthetic feature clusters
    LABEL_RATE = 0x1AB  # [seed, client, tag]: which rows of a client are labelled
    LABELLED_CLIENT = 0xC1A  # [seed, client, tag]: whether a client is labelled at all
    PSEUDO_LABEL_SCORING = 0x5C0  # [seed, round, client, tag]
    PSEUDO_LABEL_PAIRING = 0xA11  # [seed, round, client, tag]
    CENTRALIZED_SPLIT = 0xCE5  # [seed, tag]: validation vs test rows of a centralized run
    TEST_SUBSET = 0x7E5  # [seed, tag]: the SE test examples kept under max_test_examples
    DP_CENTRAL_NOISE = 0xD9C  # [seed, round, tag]: the aggregator's noise on the update sum
    DP_LOCAL_NOISE = 0xD91  # [seed, round, client, tag]: a client's local-DP noise
    UNIT_COHORT = 0x5A4  # [seed, round, tag]: which units (speakers) a round samples
    SYSTEM_PROFILE = 0x5B5  # [seed, client, tag]: a client's speed and bandwidths
    FEDBUFF_DRAW = 0xFB1  # [seed, start, tag]: which client fills a FedBuff slot


@unique
class ProceduralStream(IntEnum):
    """The tags of the built-in procedural corpus (:mod:`raysim.data.procedural`), keyed
    ``[corpus seed, tag, ...]``: small values that predate :class:`Stream` and may equal
    other small tags, so they are an enum of their own rather than aliases in ``Stream``."""

    TRAITS = 1  # [seed, tag, speaker]: a speaker's voice
    UTTERANCE = 2  # [seed, tag, speaker, emotion, utterance]: one utterance
    NOISE = 3  # [seed, tag, noise class, clip]: one noise clip


@unique
class MixtureStream(IntEnum):
    """The tags of the SE mixture recipe (:mod:`raysim.data.se_recipe`), keyed
    ``[seed, tag, ...]``; small values of their own, as :class:`ProceduralStream`'s."""

    SPLIT = 1  # [seed, tag]: held-out speakers and noise files
    PARTITION = 2  # [seed, tag]: iid speech shards, then the noise classes per client
    CLIENT = 3  # [seed, tag, client]: a client's pairs, noises, SNRs and clips
    TEST = 4  # [seed, tag]: the test examples


#: Held-out folds are dealt once for every run seed (SER papers' fixed folds).
FOLD_DEAL_SEED = 0xF01D


def stream(seed: int, *keys: int) -> np.random.Generator:
    """The generator seeded by ``[seed, *keys]`` (keys: ids and a :class:`Stream` tag)."""
    return np.random.default_rng([int(seed), *(int(k) for k in keys)])
