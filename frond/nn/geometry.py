"""Small geometric helpers shared by the networks, the stages and the trainer.

Coordinates follow `frond.types`: normalised crop space, x and y in [-1, 1], x right,
y down, with pixel centres at `(2 i + 1) / S - 1` (the `align_corners=False`
convention of `torch.nn.functional.grid_sample`).
"""
from __future__ import annotations

import torch


def coordinate_grid(h: int, w: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Pixel-centre coordinates of an (h, w) image in normalised crop space -> (h, w, 2) as (x, y)."""
    ys = (torch.arange(h, device=device, dtype=dtype) * 2 + 1) / h - 1
    xs = (torch.arange(w, device=device, dtype=dtype) * 2 + 1) / w - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=-1)


def keypoint_heatmaps(keypoints: torch.Tensor, grid: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian heatmaps (FOMM, Siarohin et al. 2019, eq. 6 as an unnormalised Gaussian).

    keypoints (B, K, 2), grid (H, W, 2) -> (B, K, H, W) in [0, 1].
    """
    diff = grid[None, None] - keypoints[:, :, None, None, :]  # (B, K, H, W, 2)
    return torch.exp(-(diff ** 2).sum(-1) / (2.0 * sigma ** 2))


def affine_from_params(params: torch.Tensor) -> torch.Tensor:
    """Identity + a small delta: params (B, 6) -> (B, 2, 3) affine acting on (x, y, 1)."""
    eye = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], device=params.device, dtype=params.dtype)
    return eye[None] + params.view(-1, 2, 3)
