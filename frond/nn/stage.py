"""What every learned stage adapter shares: the model it runs, its device, how it names itself,
and the conversions between the pipeline's numpy arrays and the networks' tensors.

torch is imported on first use, so the stage packages can export their learned variants
without putting torch on the default (training-free, numpy) path.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..stages import learned_name

if TYPE_CHECKING:
    import torch

    from ..weights.model import FrondModel


def image_tensor(image: np.ndarray, device: str) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float in [-1, 1]."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(image)).to(device).permute(2, 0, 1)[None].float() / 127.5 - 1.0


def batch_of_one(x: np.ndarray, device: str) -> torch.Tensor:
    """An array (...) -> a float32 tensor (1, ...) on `device`."""
    import torch

    return torch.as_tensor(np.asarray(x, dtype=np.float32), device=device)[None]


class LearnedStage:
    """A stage backed by a trained `FrondModel` (the base of the learned encoder, field and decoder)."""

    learned = True

    def __init__(self, model: FrondModel, weights_id: str, device: str = "cpu") -> None:
        self.model = model.eval()
        self.device = device
        self.weights: str | None = weights_id
        self.name = learned_name(weights_id)
