"""Augmentation of render-stage pairs: a horizontal flip and a colour jitter, the same for
the source and the driving frame (the target must stay the source's animation).

- Flip: images mirrored, keypoints x -> -x (normalised crop space is symmetric about 0), and
  the iBUG-68 indices swapped left <-> right (`FLIP_68`) so that every landmark keeps its
  meaning (the encoder embeds each landmark's identity); poses recomputed from the flipped
  keypoints (`head_pose_from_keypoints`, as `prepare` made them).
- Colour: x' = clip(s (g * b * x - y) + y ...) in [0, 1]: brightness b, per-channel gain g
  (white balance), contrast c about the mean grey, saturation s about the pixel's grey y
  (Rec. 601 luma) -- the photometric jitter of ColorJitter, without the hue rotation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..face.head import head_pose_from_keypoints
from ..face.ibug import FLIP_68

LUMA = torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)


@dataclass(frozen=True)
class AugmentConfig:
    """Render-pair augmentation (0 turns a part off)."""

    flip: float = 0.5  # probability of a horizontal flip
    brightness: float = 0.2  # brightness factor drawn from [1 - x, 1 + x]
    contrast: float = 0.2  # contrast factor drawn from [1 - x, 1 + x]
    saturation: float = 0.2  # saturation factor drawn from [1 - x, 1 + x]
    channel_gain: float = 0.05  # per-channel gain drawn from [1 - x, 1 + x] (white balance)

    @classmethod
    def off(cls) -> "AugmentConfig":
        return cls(flip=0.0, brightness=0.0, contrast=0.0, saturation=0.0, channel_gain=0.0)


def flip_keypoints(keypoints: np.ndarray) -> np.ndarray:
    """(..., 68, 2) -> the mirrored face, landmarks renumbered so that each keeps its meaning."""
    out = np.asarray(keypoints)[..., FLIP_68, :].copy()
    out[..., 0] *= -1
    return out


def jitter_colours(images: list[torch.Tensor], rng: np.random.Generator, cfg: AugmentConfig) -> list[torch.Tensor]:
    """The same random colour change on each (3, H, W) image in [-1, 1]."""
    u = lambda x: 1.0 + float(rng.uniform(-x, x)) if x > 0 else 1.0  # noqa: E731
    bright, contrast, sat = u(cfg.brightness), u(cfg.contrast), u(cfg.saturation)
    gain = torch.tensor([u(cfg.channel_gain) for _ in range(3)]).view(3, 1, 1) * bright
    out = []
    for img in images:
        x = (img + 1) / 2 * gain
        x = (x - x.mean()) * contrast + x.mean()
        grey = (x * LUMA).sum(0, keepdim=True)
        x = (grey + (x - grey) * sat).clamp(0, 1)
        out.append(x * 2 - 1)
    return out


def augment_pair(item: dict[str, torch.Tensor], rng: np.random.Generator, cfg: AugmentConfig) -> dict[str, torch.Tensor]:
    """A render pair (see `data.pair`) -> the same pair flipped and/or recoloured."""
    item = dict(item)
    if cfg.flip > 0 and rng.random() < cfg.flip:
        for side in ("source", "driving"):
            item[side] = item[side].flip(-1)
            kp = flip_keypoints(item[f"{side}_kp"].numpy())
            item[f"{side}_kp"] = torch.from_numpy(kp)
            item[f"{side}_pose"] = torch.from_numpy(head_pose_from_keypoints(kp))
    if max(cfg.brightness, cfg.contrast, cfg.saturation, cfg.channel_gain) > 0:
        item["source"], item["driving"] = jitter_colours([item["source"], item["driving"]], rng, cfg)
    return item
