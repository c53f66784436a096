"""Stage 4, the implicit image decoder (FROND, Sec. III-C: "an implicit neural network"
that "recovers the high-frequency detail of the input portrait").

1. A CNN encodes the source at `levels` scales: the latent grid (1 / `downsample` of the
   training resolution) and `levels - 1` coarser ones (each halves the side, doubles the width).
2. The features of every scale are warped by the dense field (resampled to that scale) and
   masked by the occlusion, x_l' = (1 - O_l) * W(x_l, grid_l) (the occlusion-aware generator of
   FOMM, Siarohin et al. 2019, eq. 8, applied at every scale as in TPSMM, Zhao & Zhang 2022,
   Sec. 3.4). An encoder-decoder runs from the coarsest: residual blocks, then up-sampling
   steps that join the next finer warped level and its occlusion. Its coarse context lets the
   network synthesise what the warped pixels lack (the mouth interior, teeth, revealed skin).
   Residual blocks at the latent grid refine the result -> latent codes (B, L, h, w).
   With `levels=1` this is the single-scale decoder that came first (same modules).
3. Every output pixel is a query at a continuous coordinate x: an MLP reads the latent of
   each of the 4 nearest cells, the relative coordinate x - v, the cell size of the output
   pixel (LIIF, Chen et al. 2021, "Learning Continuous Image Representation with Local
   Implicit Image Function", eq. 2-4: local ensemble with area weights, cell decoding),
   plus the source colour sampled at full resolution where the field points and the
   occlusion. It outputs a colour and a blend weight: out = (1 - m) * warped source + m * rgb.
   The full-resolution warped source carries the portrait's high-frequency detail, the MLP
   what the source lacks; queries at any (H', W') give any output resolution.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.blocks import ConvBlock, ResBlock
from ..nn.config import DecoderConfig
from ..nn.geometry import coordinate_grid


def resample_grid(grid: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """A backward map (B, H, W, 2) resampled to (B, h, w, 2) (antialiased when shrinking)."""
    if tuple(grid.shape[1:3]) == tuple(hw):
        return grid
    shrink = grid.shape[1] > hw[0]
    out = F.interpolate(grid.permute(0, 3, 1, 2), size=hw, mode="bilinear", align_corners=False, antialias=shrink)
    return out.permute(0, 2, 3, 1)


class ImplicitDecoder(nn.Module):
    """source (B, 3, H, W) + field (grid (B, H', W', 2), occlusion (B, H', W')) -> image (B, 3, H', W')."""

    def __init__(self, config: DecoderConfig, image_size: int) -> None:
        super().__init__()
        self.config = config
        self.feature_size = image_size // config.downsample
        c, lat = config.channels, config.latent
        stages: list[nn.Module] = [ConvBlock(3, c // 2)]
        width, steps = c // 2, config.downsample.bit_length() - 1
        for _ in range(steps):
            stages.append(ConvBlock(width, c, stride=2))
            width = c
        stages.append(ResBlock(c))
        self.source_encoder = nn.Sequential(*stages)
        widths = [min(c * 2 ** i, config.max_channels) for i in range(config.levels)]
        self.down = nn.ModuleList(
            nn.Sequential(ConvBlock(widths[i], widths[i + 1], stride=2), ResBlock(widths[i + 1]))
            for i in range(config.levels - 1))
        self.middle = ResBlock(widths[-1]) if config.levels > 1 else nn.Identity()
        self.up = nn.ModuleList(ConvBlock(widths[i + 1] + widths[i] + 1, widths[i]) for i in range(config.levels - 1))
        self.refine = nn.Sequential(
            nn.Conv2d(c + 1, lat, 3, padding=1), *[ResBlock(lat) for _ in range(config.res_blocks)]
        )
        layers: list[nn.Module] = []
        width = lat + 2 + 2 + 3 + 1
        for _ in range(config.mlp_layers):
            layers += [nn.Conv2d(width, config.mlp_hidden, 1), nn.SiLU()]
            width = config.mlp_hidden
        last = nn.Conv2d(width, 4, 1)
        assert last.bias is not None
        nn.init.normal_(last.weight, std=1e-3)
        nn.init.constant_(last.bias, 0.0)
        with torch.no_grad():
            last.bias[3] = -4.0  # start as "the warped source" (m ~ 0.02)
        self.mlp = nn.Sequential(*layers, last)

    def encode_source(self, source_image: torch.Tensor) -> list[torch.Tensor]:
        """source (B, 3, H, W) in [-1, 1] -> features per scale, finest first: (B, C_l, h / 2^l, w / 2^l),
        (h, w) = training resolution / downsample."""
        s = self.feature_size * self.config.downsample
        if source_image.shape[-2:] != (s, s):
            source_image = F.interpolate(source_image, size=(s, s), mode="bilinear", align_corners=False, antialias=True)
        feats = [self.source_encoder(source_image)]
        for down in self.down:
            feats.append(down(feats[-1]))
        return feats

    def warp_and_decode(self, feats: list[torch.Tensor], grid: torch.Tensor, occ: torch.Tensor) -> torch.Tensor:
        """Occlusion-masked warping at every scale, coarsest to finest -> latent (B, L, h, w).

        feats from `encode_source`; grid (B, H', W', 2); occ (B, 1, H', W')."""
        warped = []
        for f in feats:
            hw = (f.shape[-2], f.shape[-1])
            occ_l = F.interpolate(occ, size=hw, mode="bilinear", align_corners=False, antialias=occ.shape[-1] > hw[1])
            f = F.grid_sample(f, resample_grid(grid, hw), padding_mode="border", align_corners=False) * (1 - occ_l)
            warped.append((f, occ_l))
        x = self.middle(warped[-1][0])
        for i in reversed(range(len(self.up))):
            f, occ_l = warped[i]
            x = F.interpolate(x, size=f.shape[-2:], mode="bilinear", align_corners=False)
            x = self.up[i](torch.cat([x, f, occ_l], dim=1))
        return self.refine(torch.cat([x, warped[0][1]], dim=1))

    def forward(
        self,
        source_image: torch.Tensor,
        grid: torch.Tensor,
        occlusion: torch.Tensor,
        source_features: list[torch.Tensor] | None = None,
    ) -> dict[str, torch.Tensor]:
        """source_image (B, 3, H, W) in [-1, 1] at any resolution; grid (B, H', W', 2) backward map
        in normalised crop space; occlusion (B, H', W') in [0, 1].

        Returns {"image": (B, 3, H', W') in about [-1, 1], "blend": (B, 1, H', W') the weight m of
        the synthesised colour, "warped": (B, 3, H', W') the source resampled by the field}.
        `source_features`: `encode_source(source_image)`, when already computed.
        """
        feats = self.encode_source(source_image) if source_features is None else source_features
        dtype = feats[0].dtype
        grid = grid.to(dtype)
        occ = occlusion[:, None].to(dtype)
        latent = self.warp_and_decode(feats, grid, occ)  # (B, L, h, w)
        warped = F.grid_sample(source_image.to(dtype), grid, padding_mode="border", align_corners=False)
        out = self.query(latent, warped, occ)
        rgb, blend = out[:, :3], torch.sigmoid(out[:, 3:4])
        return {"image": (1 - blend) * warped + blend * rgb, "blend": blend, "warped": warped}

    def query(self, latent: torch.Tensor, warped: torch.Tensor, occ: torch.Tensor) -> torch.Tensor:
        """LIIF query at the pixel centres of the output: latent (B, L, h, w), warped (B, 3, H', W'),
        occ (B, 1, H', W') -> MLP outputs (B, 4, H', W') (local ensemble of the 4 nearest latents)."""
        b, _, h, w = latent.shape
        big_h, big_w = warped.shape[-2:]
        dev, dt = latent.device, latent.dtype
        coord = coordinate_grid(big_h, big_w, device=dev, dtype=dt)[None].expand(b, -1, -1, -1)  # (B, H', W', 2)
        latent_coord = coordinate_grid(h, w, device=dev, dtype=dt).permute(2, 0, 1)[None].expand(b, -1, -1, -1)
        scale = torch.tensor([w, h], device=dev, dtype=dt)
        cell = torch.tensor([2.0 / big_w * w, 2.0 / big_h * h], device=dev, dtype=dt)
        cell = cell[None, :, None, None].expand(b, -1, big_h, big_w)
        shifts = [(-1, -1), (-1, 1), (1, -1), (1, 1)] if self.config.local_ensemble else [(0, 0)]
        inputs, areas = [], []
        eps = 1e-6
        for vx, vy in shifts:
            offset = torch.tensor([vx / w + eps, vy / h + eps], device=dev, dtype=dt)
            c = (coord + offset).clamp(-1 + 1e-6, 1 - 1e-6)
            q_feat = F.grid_sample(latent, c, mode="nearest", align_corners=False)
            q_coord = F.grid_sample(latent_coord, c, mode="nearest", align_corners=False)  # (B, 2, H', W')
            rel = (coord.permute(0, 3, 1, 2) - q_coord) * scale[None, :, None, None]
            inputs.append(torch.cat([q_feat, rel, cell, warped, occ], dim=1))
            areas.append((rel[:, 0] * rel[:, 1]).abs() + 1e-9)
        preds = self.mlp(torch.cat(inputs, dim=0)).split(b, dim=0)
        if len(preds) == 1:
            return preds[0]
        total = torch.stack(areas).sum(0)
        # LIIF: each prediction is weighted by the area of the *opposite* rectangle
        weights = [areas[3], areas[2], areas[1], areas[0]]
        return sum(p * (wt / total)[:, None] for p, wt in zip(preds, weights))
