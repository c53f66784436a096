"""Stage 2, audio-driven motion in a continuous trajectory space (FROND, Sec. III-B).

Log-mel audio -> a temporal CNN at 100 Hz -> resampled at the B-spline's control-point
times -> conditioned on the source (its keypoints and global code, FiLM: Perez et al.
2018) -> a bidirectional GRU over control points -> per control point: offsets of all 68
keypoints from the source and the head pose's change. The network predicts the
*coefficients* of a cubic B-spline (`trajectory.BSplineTrajectory`), so its output is a
function of time, smooth by construction and stiffened by a P-spline penalty.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .audio_features import FRAMES_PER_SECOND
from .config import MotionConfig
from .trajectory import BSplineTrajectory

POSE_UNITS = 10.0  # network output units -> degrees


class AudioMotionEstimator(nn.Module):
    """mel (B, n_mels, M) + source keypoints (B, K, 2) + global code (B, G) -> spline coefficients."""

    def __init__(self, config: MotionConfig, n_keypoints: int, global_dim: int) -> None:
        super().__init__()
        self.config = config
        self.n_keypoints = n_keypoints
        self.trajectory = BSplineTrajectory(config.knot_hz)
        h = config.hidden
        self.audio = nn.Sequential(
            nn.Conv1d(config.n_mels, h, 5, padding=2), nn.SiLU(),
            nn.Conv1d(h, h, 5, padding=4, dilation=2), nn.SiLU(),
            nn.Conv1d(h, h, 5, padding=8, dilation=4), nn.SiLU(),
        )
        self.condition = nn.Sequential(nn.Linear(n_keypoints * 2 + global_dim, h), nn.SiLU(), nn.Linear(h, 2 * h))
        self.gru = nn.GRU(h, h // 2, num_layers=2, batch_first=True, bidirectional=True)
        self.kp_head = nn.Linear(h, n_keypoints * 2)
        self.pose_head = nn.Linear(h, 3)
        for head in (self.kp_head, self.pose_head):
            nn.init.zeros_(head.bias)
            nn.init.normal_(head.weight, std=1e-3)

    def forward(
        self,
        mel: torch.Tensor,
        source_keypoints: torch.Tensor,
        global_code: torch.Tensor,
        stiffness: float | None = None,
    ) -> dict[str, torch.Tensor]:
        """mel (B, n_mels, M) at 100 frames/s (frame m at m / 100 s).

        Returns {"coefficients": (B, n, K, 2) keypoint offsets from the source,
        "pose_coefficients": (B, n, 3) degrees of pose change, "knot_times": (n,) seconds},
        with n = `trajectory.n_control(duration)` and duration = (M - 1) / 100 s.
        """
        b, _, m = mel.shape
        duration = (m - 1) / FRAMES_PER_SECOND
        n = self.trajectory.n_control(duration)
        feats = self.audio(mel)  # (B, h, M)
        # sample the 100 Hz features at the control-point times (linear, clamped at the ends)
        knots = self.trajectory.knot_times(n, device=mel.device)
        pos = (knots * FRAMES_PER_SECOND).clamp(0, m - 1)
        grid_x = pos / max(m - 1, 1) * 2 - 1
        grid = torch.stack([grid_x, torch.zeros_like(grid_x)], -1)[None, None].expand(b, 1, n, 2)
        feats = F.grid_sample(feats[:, :, None, :], grid.to(feats.dtype), align_corners=True)[:, :, 0]  # (B, h, n)
        cond = self.condition(torch.cat([source_keypoints.flatten(1), global_code], dim=-1))
        scale, shift = cond.chunk(2, dim=-1)
        x = feats.transpose(1, 2) * (1 + scale[:, None]) + shift[:, None]  # (B, n, h)
        x, _ = self.gru(x)
        offsets = torch.tanh(self.kp_head(x)) * self.config.max_offset
        coefficients = offsets.view(b, n, self.n_keypoints, 2)
        pose_coefficients = self.pose_head(x) * POSE_UNITS
        lam = self.config.stiffness if stiffness is None else stiffness
        return {
            "coefficients": self.trajectory.stiffen(coefficients, lam),
            "pose_coefficients": self.trajectory.stiffen(pose_coefficients, lam),
            "knot_times": knots,
        }

    def sample(self, outputs: dict[str, torch.Tensor], source_keypoints: torch.Tensor,
               source_pose: torch.Tensor, times: torch.Tensor) -> dict[str, torch.Tensor]:
        """Evaluate the trajectories at `times` (T,) seconds.

        -> {"keypoints": (B, T, K, 2), "head_pose": (B, T, 3) degrees}.
        """
        offsets = self.trajectory.evaluate(outputs["coefficients"], times)
        pose = self.trajectory.evaluate(outputs["pose_coefficients"], times)
        return {"keypoints": source_keypoints[:, None] + offsets, "head_pose": source_pose[:, None] + pose}
