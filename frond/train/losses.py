"""Render and motion losses, and the image metrics (PSNR, SSIM). The perceptual (VGG19) term is in
`perceptual.py`, the mouth discriminator's in `mouth_gan.py`."""
from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F

from ..motion.articulation import POINTS
from ..motion.net import opening


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
    terms["total"] = cast(torch.Tensor, sum(weights.get(k, 0.0) * v for k, v in terms.items()))
    return terms


def _point_weights(device) -> torch.Tensor:
    """Per articulation coordinate (DIM,): inner lips x3, outer lips x2, jaw, cheeks and brows x1, mean 1."""
    w = torch.tensor([3.0 if p >= 60 else 2.0 if p >= 48 else 1.0 for p in POINTS], device=device)
    w = w.repeat_interleave(2)
    return w / w.mean()


def _pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Correlation along the last axis: (B, T) x2 -> (B,); 0 where either signal is flat."""
    a, b = a - a.mean(-1, keepdim=True), b - b.mean(-1, keepdim=True)
    den = (a.pow(2).sum(-1) * b.pow(2).sum(-1)).clamp(min=1e-12).sqrt()
    return (a * b).sum(-1) / den


def motion_losses(pred: torch.Tensor, target: torch.Tensor, rest: torch.Tensor,
                  weights: dict[str, float]) -> dict[str, torch.Tensor]:
    """Articulation losses: pred, target (B, T, DIM), rest (B, DIM) -> named terms + "total".

    shape: weighted L1 of the articulation; velocity: L1 of its frame differences; open: L1 of
    the inner-lip gap; sync: 1 - correlation of predicted and real gap over the window (timing,
    whatever the scale); amplitude: |log| of the ratio of their standard deviations (a mouth
    that moves as much as the real one, not the regression to the mean that L1 alone gives).
    """
    pred, target = pred.float(), target.float()
    w = _point_weights(pred.device)
    gap_pred, gap_real = opening(pred, rest.float()), opening(target, rest.float())
    moving = gap_real.std(-1) > 0.01  # windows where the real mouth moves
    sync = (1 - _pearson(gap_pred, gap_real))[moving].mean() if moving.any() else pred.new_zeros(())
    amplitude = (torch.log(gap_pred.std(-1) + 1e-3) - torch.log(gap_real.std(-1) + 1e-3)).abs()[moving].mean() \
        if moving.any() else pred.new_zeros(())
    terms = {
        "shape": ((pred - target).abs() * w).mean(),
        "velocity": (((pred[:, 1:] - pred[:, :-1]) - (target[:, 1:] - target[:, :-1])).abs() * w).mean(),
        "open": (gap_pred - gap_real).abs().mean(),
        "sync": sync,
        "amplitude": amplitude,
    }
    terms["total"] = cast(torch.Tensor, sum(weights.get(k, 0.0) * v for k, v in terms.items()))
    return terms


def head_losses(mean: torch.Tensor, log_spread: torch.Tensor, target: torch.Tensor, usable: torch.Tensor) -> torch.Tensor:
    """The global stream's loss: the Gaussian negative log-likelihood of the real head's motion within each
    window under the predicted mean and spread (`frond.motion.global_stream`).

    mean, log_spread, target (B, W, POSE_DIM) in the head's units; usable (B,) windows with a head track.
    Where the head sits in a window is arbitrary (it is where the portrait holds it), so the mean over the
    window is taken out of the target and of the prediction: what is learned is how the pose moves.
    """
    if not bool(usable.any()):
        return mean.new_zeros(())
    residual = (target - target.mean(1, keepdim=True)) - (mean - mean.mean(1, keepdim=True))
    log_spread = log_spread.clamp(-6.0, 3.0)
    nll = 0.5 * residual ** 2 * torch.exp(-2 * log_spread) + log_spread
    return nll[usable].mean()
