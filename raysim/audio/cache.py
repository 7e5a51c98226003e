"""Decoded audio kept in memory per process, and fixed-length chunks of it."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from raysim.audio.io import load_audio


class AudioCache:
    """Decoded files (mono float32 at one rate) kept per process, least recently used out.

    Bounded by the bytes held (`max_bytes`), so long corpora cannot exhaust memory.
    Returned arrays are read-only: they are shared between callers.
    """

    def __init__(self, max_bytes: int = 256 * 2**20):
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self._bytes = 0

    def load(self, path: str, sample_rate: int) -> np.ndarray:
        """The file at `sample_rate`, decoded once while it stays in the cache."""
        key = (str(path), int(sample_rate))
        wave = self._items.get(key)
        if wave is not None:
            self._items.move_to_end(key)
            return wave
        wave, _ = load_audio(path, sample_rate)
        wave.flags.writeable = False
        self._items[key] = wave
        self._bytes += wave.nbytes
        while self._bytes > self.max_bytes and len(self._items) > 1:
            _, old = self._items.popitem(last=False)
            self._bytes -= old.nbytes
        return wave


#: the cache every caller in a process shares unless it brings its own
PROCESS_CACHE = AudioCache()


def chunk(wave: np.ndarray, offset: int, n: int, fill: str) -> np.ndarray:
    """`n` samples from `offset`; past the end: zeros (``pad``) or wrap around (``loop``)."""
    if offset + n <= len(wave):
        return np.array(wave[offset : offset + n], dtype=np.float32)
    if fill == "loop":
        return np.take(wave, (offset + np.arange(n)) % len(wave)).astype(np.float32)
    out = np.zeros(n, dtype=np.float32)
    part = wave[offset : offset + n]
    out[: len(part)] = part
    return out
