"""A model's floating-point state as one flat float32 vector (what FL aggregates).

Parameters come first, then floating buffers (e.g. BatchNorm statistics), so
gradient-based corrections (FedProx, SCAFFOLD) act on the prefix
``vec[:num_params(model)]``.
"""

from __future__ import annotations

from weakref import WeakKeyDictionary

import numpy as np
import torch
from torch import nn

_TENSORS: WeakKeyDictionary[nn.Module, list[torch.Tensor]] = WeakKeyDictionary()


def _tensors(model: nn.Module) -> list[torch.Tensor]:
    # cached: walking the module tree costs more than a small client's training step
    if model not in _TENSORS:
        bufs = [b for b in model.buffers() if b.is_floating_point()]
        _TENSORS[model] = list(model.parameters()) + bufs
    return _TENSORS[model]


def num_params(model: nn.Module) -> int:
    """Number of trainable parameter entries (the gradient-bearing prefix)."""
    return sum(p.numel() for p in model.parameters())


def state_size(model: nn.Module) -> int:
    """Length of the flat state vector."""
    return sum(t.numel() for t in _tensors(model))


def get_flat(model: nn.Module) -> np.ndarray:
    """A copy of the model's floating state as float32 numpy."""
    with torch.no_grad():
        return torch.cat([t.detach().reshape(-1).float().cpu() for t in _tensors(model)]).numpy()


def set_flat(model: nn.Module, vec: np.ndarray) -> None:
    """Copy `vec` into the model (never aliases it: later training leaves `vec` intact)."""
    src = torch.from_numpy(
        np.array(vec, dtype=np.float32)
    )  # copy: object-store arrays are read-only
    i = 0
    with torch.no_grad():
        for t in _tensors(model):
            n = t.numel()
            t.copy_(src[i : i + n].view_as(t))
            i += n
    if i != len(src):
        raise ValueError(f"state vector has {len(src)} entries, model expects {i}")


def flat_grad(model: nn.Module) -> torch.Tensor:
    """The parameters' gradients as one flat CPU tensor (zeros where a grad is missing)."""
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in model.parameters()]
    return torch.cat([g.reshape(-1) for g in grads]).cpu()


def add_to_grads(model: nn.Module, vec: torch.Tensor) -> None:
    """grad += vec, with `vec` laid out like the parameter prefix of the flat state."""
    i = 0
    for p in model.parameters():
        n = p.numel()
        piece = vec[i : i + n].view_as(p).to(p.device)
        if p.grad is None:
            p.grad = piece.clone()
        else:
            p.grad.add_(piece)
        i += n


@torch.no_grad()
def add_to_params(model: nn.Module, vec: torch.Tensor) -> None:
    """param += vec, with `vec` laid out like the parameter prefix of the flat state."""
    i = 0
    for p in model.parameters():
        n = p.numel()
        p.add_(vec[i : i + n].view_as(p).to(p.device))
        i += n
