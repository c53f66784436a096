"""Stage 1, the two-stream encoder (FROND, Sec. III-A: "local facial movement keypoints"
and "their overall motion context as a global code").

- Local stream: a CNN over the source image, sampled at each keypoint (bilinear, like the
  keypoint features of FOMM), plus the keypoint's position and identity -> per-keypoint
  features (B, K, C_k). The keypoints themselves are the 68 iBUG landmarks, the same
  space as the training-free path, so trajectories and fields mean the same in both.
- Global stream: a PointNet-style set encoder (Qi et al. 2017: shared point MLP, then a
  symmetric pooling) over all keypoints plus the head pose -> a global code (B, G). It is
  a function of the face's geometry only, so the code of a *driving* frame can be
  computed from its keypoints and pose alone.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.blocks import ConvBlock, fourier_features
from ..nn.config import EncoderConfig

POSE_SCALE = 30.0  # degrees -> network units


class TwoStreamEncoder(nn.Module):
    """image (B, 3, H, W) in [-1, 1] + keypoints (B, K, 2) -> per-keypoint features + global code."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        c, k = config.channels, config.n_keypoints
        self.identity = nn.Parameter(torch.randn(k, 8) * 0.1)  # which landmark a point is
        self.cnn = nn.Sequential(ConvBlock(3, c), ConvBlock(c, c, 2), ConvBlock(c, 2 * c), ConvBlock(2 * c, 2 * c, 2))
        point_in = 2 + 4 * 4 + 8
        self.local_mlp = nn.Sequential(
            nn.Linear(2 * c + point_in, config.hidden), nn.SiLU(), nn.Linear(config.hidden, config.kp_features)
        )
        self.point_mlp = nn.Sequential(
            nn.Linear(point_in, config.hidden), nn.SiLU(), nn.Linear(config.hidden, config.hidden), nn.SiLU()
        )
        self.global_mlp = nn.Sequential(
            nn.Linear(2 * config.hidden + 3, config.hidden), nn.SiLU(), nn.Linear(config.hidden, config.global_dim)
        )

    def _points(self, keypoints: torch.Tensor) -> torch.Tensor:
        """keypoints (B, K, 2) -> point descriptors (B, K, 2 + 16 + 8)."""
        ident = self.identity[None].expand(keypoints.shape[0], -1, -1).to(keypoints.dtype)
        return torch.cat([fourier_features(keypoints, 4), ident], dim=-1)

    def global_code(self, keypoints: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
        """Global stream: keypoints (B, K, 2), pose (B, 3) degrees -> global code (B, G)."""
        h = self.point_mlp(self._points(keypoints))  # (B, K, hidden)
        pooled = torch.cat([h.max(dim=1).values, h.mean(dim=1), pose / POSE_SCALE], dim=-1)
        return self.global_mlp(pooled)

    def local_features(self, image: torch.Tensor, keypoints: torch.Tensor) -> torch.Tensor:
        """Local stream: image (B, 3, H, W), keypoints (B, K, 2) -> (B, K, C_k)."""
        size = self.config.image_size
        if image.shape[-1] != size or image.shape[-2] != size:
            image = F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        fmap = self.cnn(image)  # (B, 2c, S/4, S/4)
        sampled = F.grid_sample(fmap, keypoints[:, :, None, :].to(fmap.dtype), align_corners=False)  # (B, 2c, K, 1)
        sampled = sampled[..., 0].transpose(1, 2)  # (B, K, 2c)
        return self.local_mlp(torch.cat([sampled, self._points(keypoints).to(sampled.dtype)], dim=-1))

    def forward(self, image: torch.Tensor, keypoints: torch.Tensor, pose: torch.Tensor) -> dict[str, torch.Tensor]:
        """-> {"keypoints": (B, K, 2), "kp_features": (B, K, C_k), "global_code": (B, G)}."""
        return {
            "keypoints": keypoints,
            "kp_features": self.local_features(image, keypoints),
            "global_code": self.global_code(keypoints, pose),
        }
