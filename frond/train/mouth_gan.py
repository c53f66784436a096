"""Optional adversarial and feature-matching terms on the mouth region (render stage).

The mouth interior and teeth are what the warped source lacks and what L1/SSIM/VGG blur
most. A small patch discriminator D (PatchGAN, Isola et al. 2017, with spectral norm,
Miyato et al. 2018) sees only a square crop around the driving mouth:
- D's hinge loss (Lim & Ye 2017): L_D = E[relu(1 - D(x))] + E[relu(1 + D(G))],
- the generator's hinge term: L_adv = -E[D(G)],
- feature matching (pix2pixHD, Wang et al. 2018, eq. 4): L_fm = sum_l |D_l(G) - D_l(x)|_1 over
  D's intermediate activations.
D is training-only: it lives in the checkpoint, never in the published weights.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..face.ibug import MOUTH
from ..nn.geometry import coordinate_grid

MIN_SIDE = 0.25  # smallest crop side, normalised crop units (a closed, narrow mouth)


def mouth_crop(images: torch.Tensor, keypoints: torch.Tensor, size: int) -> torch.Tensor:
    """images (B, 3, H, W), keypoints (B, 68, 2) -> (B, 3, size, size): a square around the mouth
    (centre of the lip landmarks, side 1.6 x the larger of the mouth's width and height)."""
    lips = keypoints[:, MOUTH].float()
    centre = lips.mean(1)  # (B, 2)
    extent = (lips.max(1).values - lips.min(1).values).max(-1).values  # (B,)
    half = (1.6 * extent).clamp(min=MIN_SIDE) / 2
    unit = coordinate_grid(size, size, device=images.device, dtype=torch.float32)  # (s, s, 2) in [-1, 1]
    grid = centre[:, None, None] + half[:, None, None, None] * unit[None]
    return F.grid_sample(images, grid.to(images.dtype), padding_mode="border", align_corners=False)


class MouthDiscriminator(nn.Module):
    """(B, 3, s, s) mouth crops in [-1, 1] -> {"logits": (B, 1, s / 8, s / 8), "features": [...]}."""

    def __init__(self, channels: int = 32) -> None:
        super().__init__()
        widths = [3, channels, 2 * channels, 4 * channels]
        self.blocks = nn.ModuleList(
            nn.Sequential(spectral_norm(nn.Conv2d(widths[i], widths[i + 1], 4, 2, 1)), nn.LeakyReLU(0.2))
            for i in range(3))
        self.head = spectral_norm(nn.Conv2d(widths[-1], 1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor | list[torch.Tensor]]:
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)
        return {"logits": self.head(x), "features": features}


class MouthGAN:
    """The discriminator, its optimiser and both sides' losses. Under DDP, D is wrapped too and each
    D step is one forward of real and fake together (one backward, one gradient all-reduce)."""

    def __init__(self, device: str, crop: int = 64, channels: int = 32, lr: float = 2e-4, ddp: bool = False) -> None:
        self.crop = crop
        self.net = MouthDiscriminator(channels).to(device)
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=lr, betas=(0.5, 0.999), weight_decay=0.0)
        self.wrapped: nn.Module = self.net
        if ddp:
            from torch.nn.parallel import DistributedDataParallel

            index = torch.device(device).index if device.startswith("cuda") else None
            self.wrapped = DistributedDataParallel(self.net, device_ids=[index] if index is not None else None)

    def generator_terms(self, fake: torch.Tensor, real: torch.Tensor, keypoints: torch.Tensor) -> dict[str, torch.Tensor]:
        """fake, real (B, 3, H, W), driving keypoints (B, 68, 2) -> {"mouth_adv", "mouth_fm"} (D frozen)."""
        self.net.requires_grad_(False)
        fake_out = self.net(mouth_crop(fake, keypoints, self.crop))
        with torch.no_grad():
            real_out = self.net(mouth_crop(real, keypoints, self.crop))
        fm = sum((f.float() - r.float()).abs().mean() for f, r in zip(fake_out["features"], real_out["features"]))
        return {"mouth_adv": -fake_out["logits"].float().mean(), "mouth_fm": fm / len(fake_out["features"])}

    def step(self, fake: torch.Tensor, real: torch.Tensor, keypoints: torch.Tensor, autocast: bool = False) -> torch.Tensor:
        """One discriminator update on detached crops -> its hinge loss (a detached scalar)."""
        self.net.requires_grad_(True)
        crops = mouth_crop(torch.cat([real, fake.detach()]), keypoints.repeat(2, 1, 1), self.crop)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            logits = self.wrapped(crops)["logits"].float()
        real_logits, fake_logits = logits.chunk(2)
        loss = F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss.detach()

    def state_dict(self) -> dict:
        return {"net": self.net.state_dict(), "opt": self.opt.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])
