"""Small geometric helpers shared by the networks, the stages and the trainer.

Coordinates follow `frond.types`: normalised crop space, x and y in [-1, 1], x right,
y down, with pixel centres at `(2 i + 1) / S - 1` (the `align_corners=False`
convention of `torch.nn.functional.grid_sample`).
"""
from __future__ import annotations

import numpy as np
import torch

from ..face.ibug import CHIN, NOSE_TIP, eye_centres

JAW_LEFT, JAW_RIGHT = 0, 16  # the jaw's extremes (iBUG-68; the layout lives in `frond.face.ibug`)


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


def head_pose_from_keypoints(keypoints: np.ndarray) -> np.ndarray:
    """A crude geometric head pose from 2D landmarks, (..., 68, 2) -> (..., 3) degrees.

    roll: angle of the line between the eye centres; yaw: offset of the nose tip from
    the middle of the jaw's extremes (points 0, 16), as the sine of an angle; pitch: the
    nose tip's height between the eye line and the chin relative to a frontal face.
    It is the conditioning of the global stream, not a calibrated 3D pose.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    left, right = eye_centres(kp)
    eyes = right - left
    roll = np.arctan2(eyes[..., 1], eyes[..., 0])
    cos, sin = np.cos(-roll), np.sin(-roll)
    mid = (left + right) / 2

    def unroll(p: np.ndarray) -> np.ndarray:
        d = p - mid
        return np.stack([cos * d[..., 0] - sin * d[..., 1], sin * d[..., 0] + cos * d[..., 1]], -1)

    nose = unroll(kp[..., NOSE_TIP, :])
    jaw_l, jaw_r, chin = unroll(kp[..., JAW_LEFT, :]), unroll(kp[..., JAW_RIGHT, :]), unroll(kp[..., CHIN, :])
    half_width = np.maximum((jaw_r[..., 0] - jaw_l[..., 0]) / 2, 1e-6)
    centre = (jaw_r[..., 0] + jaw_l[..., 0]) / 2
    yaw = np.arcsin(np.clip((nose[..., 0] - centre) / half_width, -1, 1))
    ratio = nose[..., 1] / np.maximum(chin[..., 1], 1e-6)
    pitch = np.arcsin(np.clip((ratio - 0.45) / 0.5, -1, 1))
    return np.stack([np.degrees(yaw), np.degrees(pitch), np.degrees(roll)], -1).astype(np.float32)


def affine_from_params(params: torch.Tensor) -> torch.Tensor:
    """Identity + a small delta: params (B, 6) -> (B, 2, 3) affine acting on (x, y, 1)."""
    eye = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], device=params.device, dtype=params.dtype)
    return eye[None] + params.view(-1, 2, 3)
