"""Render and motion losses, and the image metrics (PSNR, SSIM). The perceptual (VGG19) term is in
`perceptual.py`, the mouth discriminator's in `mouth_gan.py`."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models.geometry import mouth_open


def _gaussian_window(size: int, sigma: float, channels: int, device, dtype) -> torch.Tensor:
    x = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim(a: torch.Tensor, b: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """Mean SSIM (Wang et al. 2004), Gaussian window 11 / 1.5: (B, C, H, W) x2 -> (B,)."""
    c = a.shape[1]
    win = _gaussian_window(11 if min(a.shape[-2:]) >= 11 else 3, 1.5, c, a.device, a.dtype)
    pad = win.shape[-1] // 2
    conv = lambda x: F.conv2d(F.pad(x, [pad] * 4, mode="reflect"), win, groups=c)  # noqa: E731
    mu_a, mu_b = conv(a), conv(b)
    var_a = conv(a * a) - mu_a ** 2
    var_b = conv(b * b) - mu_b ** 2
    cov = conv(a * b) - mu_a * mu_b
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(1)


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """PSNR in dB, (B, C, H, W) x2 -> (B,)."""
    mse = ((a - b) ** 2).flatten(1).mean(1).clamp(min=1e-10)
    return 10 * torch.log10(data_range ** 2 / mse)


def multiscale_l1(pred: torch.Tensor, target: torch.Tensor, scales: int = 3) -> torch.Tensor:
    """Mean L1 over an image pyramid (average-pooled by 2 per level)."""
    total = pred.new_zeros(())
    for level in range(scales):
        if level:
            pred, target = F.avg_pool2d(pred, 2), F.avg_pool2d(target, 2)
        total = total + (pred - target).abs().mean()
    return total / scales


def gradient_l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between image gradients (finite differences): sharp edges where the target has them."""
    dx = lambda x: x[..., :, 1:] - x[..., :, :-1]  # noqa: E731
    dy = lambda x: x[..., 1:, :] - x[..., :-1, :]  # noqa: E731
    return (dx(pred) - dx(target)).abs().mean() + (dy(pred) - dy(target)).abs().mean()


def render_losses(pred: torch.Tensor, target: torch.Tensor, weights: dict[str, float],
                  perceptual: torch.nn.Module | None = None) -> dict[str, torch.Tensor]:
    """Reconstruction losses for (B, 3, H, W) images in [-1, 1] -> named terms + "total".

    perceptual: a `perceptual.PerceptualLoss` (VGG19 pyramid), or None for the terms that need no network.
    """
    terms = {
        "l1": multiscale_l1(pred.float(), target.float()),
        "ssim": 1 - ssim(pred.float(), target.float()).mean(),
        "grad": gradient_l1(pred.float(), target.float()),
    }
    if perceptual is not None:
        terms["perceptual"] = perceptual(pred, target)
    terms["total"] = sum(weights.get(k, 0.0) * v for k, v in terms.items())
    return terms


def motion_losses(pred_kp: torch.Tensor, target_kp: torch.Tensor, pred_pose: torch.Tensor,
                  target_pose: torch.Tensor, weights: dict[str, float]) -> dict[str, torch.Tensor]:
    """Trajectory losses: keypoints (B, T, K, 2), poses (B, T, 3) degrees -> named terms + "total".

    keypoint L1 (lips and jaw weighted x3), velocity L1 (frame differences), mouth-opening L1, pose L1.
    """
    pred_kp, target_kp = pred_kp.float(), target_kp.float()
    w = torch.ones(pred_kp.shape[2], device=pred_kp.device)
    w[48:68] = 3.0
    w[5:12] = 2.0
    w = w / w.mean()
    err = (pred_kp - target_kp).abs().sum(-1)  # (B, T, K)
    vel = ((pred_kp[:, 1:] - pred_kp[:, :-1]) - (target_kp[:, 1:] - target_kp[:, :-1])).abs().sum(-1)
    terms = {
        "kp": (err * w).mean(),
        "velocity": (vel * w).mean(),
        "open": (mouth_open(pred_kp) - mouth_open(target_kp)).abs().mean(),
        "pose": (pred_pose.float() - target_pose.float()).abs().mean() / 10.0,
    }
    terms["total"] = sum(weights.get(k, 0.0) * v for k, v in terms.items())
    return terms
