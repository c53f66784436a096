"""Small geometric helpers shared by the networks, the stages and the trainer.

Coordinates follow `frond.types`: normalised crop space, x and y in [-1, 1], x right,
y down, with pixel centres at `(2 i + 1) / S - 1` (the `align_corners=False`
convention of `torch.nn.functional.grid_sample`).
"""
from __future__ import annotations

import numpy as np
import torch

LEFT_EYE = slice(36, 42)  # iBUG-68 indices of the first eye (image left)
RIGHT_EYE = slice(42, 48)  # iBUG-68 indices of the second eye
MOUTH = slice(48, 68)  # outer + inner lips
INNER_LIP_TOP, INNER_LIP_BOTTOM = 62, 66  # middle of the inner lips
NOSE_TIP, CHIN = 30, 8
JAW_LEFT, JAW_RIGHT = 0, 16


def coordinate_grid(h: int, w: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """Pixel-centre coordinates of an (h, w) image in normalised crop space -> (h, w, 2) as (x, y)."""
    ys = (torch.arange(h, device=device, dtype=dtype) * 2 + 1) / h - 1
    xs = (torch.arange(w, device=device, dtype=dtype) * 2 + 1) / w - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], dim=-1)


def pixels_to_normalised(points: np.ndarray, size: int) -> np.ndarray:
    """Crop pixel coordinates (pixel centre of index i at i) -> normalised crop space."""
    return ((np.asarray(points, dtype=np.float64) + 0.5) * 2.0 / size - 1.0).astype(np.float32)


def normalised_to_pixels(points: np.ndarray, size: int) -> np.ndarray:
    """Inverse of `pixels_to_normalised`."""
    return ((np.asarray(points, dtype=np.float64) + 1.0) * size / 2.0 - 0.5).astype(np.float32)


def keypoint_heatmaps(keypoints: torch.Tensor, grid: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian heatmaps (FOMM, Siarohin et al. 2019, eq. 6 as an unnormalised Gaussian).

    keypoints (B, K, 2), grid (H, W, 2) -> (B, K, H, W) in [0, 1].
    """
    diff = grid[None, None] - keypoints[:, :, None, None, :]  # (B, K, H, W, 2)
    return torch.exp(-(diff ** 2).sum(-1) / (2.0 * sigma ** 2))


def mouth_open(keypoints):
    """Mouth opening = inner-lip gap / inter-ocular distance.

    keypoints (..., 68, 2), numpy or torch -> (...,). Inner-lip points 62 (upper middle)
    and 66 (lower middle); eye centres are the means of 36-41 and 42-47.
    """
    lib = torch if isinstance(keypoints, torch.Tensor) else np
    gap = keypoints[..., INNER_LIP_BOTTOM, :] - keypoints[..., INNER_LIP_TOP, :]
    eyes = keypoints[..., RIGHT_EYE, :].mean(-2) - keypoints[..., LEFT_EYE, :].mean(-2)
    iod = lib.sqrt((eyes ** 2).sum(-1))
    return lib.sqrt((gap ** 2).sum(-1)) / lib.clip(iod, 1e-6, None)


def mouth_width(keypoints):
    """Mouth width (corners 48, 54) / inter-ocular distance, (..., 68, 2) -> (...,)."""
    lib = torch if isinstance(keypoints, torch.Tensor) else np
    corners = keypoints[..., 54, :] - keypoints[..., 48, :]
    eyes = keypoints[..., RIGHT_EYE, :].mean(-2) - keypoints[..., LEFT_EYE, :].mean(-2)
    return lib.sqrt((corners ** 2).sum(-1)) / lib.clip(lib.sqrt((eyes ** 2).sum(-1)), 1e-6, None)


def head_pose_from_keypoints(keypoints: np.ndarray) -> np.ndarray:
    """A crude geometric head pose from 2D landmarks, (..., 68, 2) -> (..., 3) degrees.

    roll: angle of the line between the eye centres; yaw: offset of the nose tip from
    the middle of the jaw's extremes (points 0, 16), as the sine of an angle; pitch: the
    nose tip's height between the eye line and the chin relative to a frontal face.
    It is the conditioning of the global stream, not a calibrated 3D pose.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    left = kp[..., LEFT_EYE, :].mean(-2)
    right = kp[..., RIGHT_EYE, :].mean(-2)
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
