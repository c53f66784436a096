"""Building blocks: convolutions, residual blocks, a small U-Net hourglass."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def norm(channels: int) -> nn.GroupNorm:
    """GroupNorm (batch-size independent, so DDP and batch 1 behave the same)."""
    return nn.GroupNorm(4 if channels % 4 == 0 else 1, channels)


class ConvBlock(nn.Sequential):
    """conv 3x3 -> GroupNorm -> SiLU, (B, Cin, H, W) -> (B, Cout, H / stride, W / stride)."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__(nn.Conv2d(cin, cout, 3, stride, 1), norm(cout), nn.SiLU())


class ResBlock(nn.Module):
    """Pre-activation residual block, (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            norm(channels), nn.SiLU(), nn.Conv2d(channels, channels, 3, 1, 1),
            norm(channels), nn.SiLU(), nn.Conv2d(channels, channels, 3, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Hourglass(nn.Module):
    """A small U-Net (the hourglass of FOMM's dense motion network), resolution-preserving.

    (B, Cin, H, W) -> (B, out_channels, H, W); H and W divisible by 2 ** depth.
    """

    def __init__(self, cin: int, channels: int, depth: int, max_channels: int = 256) -> None:
        super().__init__()
        widths = [min(channels * 2 ** i, max_channels) for i in range(depth + 1)]
        self.stem = ConvBlock(cin, widths[0])
        self.down = nn.ModuleList(ConvBlock(widths[i], widths[i + 1], stride=2) for i in range(depth))
        self.up = nn.ModuleList(ConvBlock(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(depth)))
        self.out_channels = widths[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        skips = [x]
        for down in self.down:
            x = down(x)
            skips.append(x)
        skips.pop()
        for up in self.up:
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            x = up(torch.cat([x, skips.pop()], dim=1))
        return x


def fourier_features(xy: torch.Tensor, n_freqs: int) -> torch.Tensor:
    """Positional encoding of coordinates (NeRF, Mildenhall et al. 2020, eq. 4).

    xy (..., 2) -> (..., 2 + 4 * n_freqs).
    """
    freqs = (2.0 ** torch.arange(n_freqs, device=xy.device, dtype=xy.dtype)) * torch.pi
    angles = xy[..., None] * freqs  # (..., 2, F)
    enc = torch.cat([angles.sin(), angles.cos()], dim=-1).flatten(-2)
    return torch.cat([xy, enc], dim=-1)
