"""Persistent per-client state (SCAFFOLD's c_i, pseudo-labels, personal models).

Kept out of the algorithms behind a small interface. Only clients that ever
stored something occupy memory; per round only the sampled clients' states
travel (with their work assignment) and come back.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class ClientStateStore:
    """In-memory store: client id → dict of arrays."""

    def __init__(self) -> None:
        self._states: dict[int, dict[str, np.ndarray]] = {}

    def get_many(self, client_ids: list[int]) -> dict[int, dict[str, np.ndarray]]:
        """States of the given clients that have one."""
        return {c: self._states[c] for c in client_ids if c in self._states}

    def put(self, client_id: int, state: dict[str, np.ndarray]) -> None:
        self._states[client_id] = state

    def __len__(self) -> int:
        return len(self._states)

    def state_dict(self) -> dict[str, Any]:
        """Arrays keyed by client id (string keys, as checkpoints store them)."""
        return {str(c): {k: np.array(v) for k, v in s.items()} for c, s in self._states.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._states = {int(c): {k: np.asarray(v) for k, v in s.items()} for c, s in state.items()}
