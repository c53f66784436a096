"""Stage 3, the dense motion field (FROND, Sec. III-B: local and global motion "fused into
a continuous dense motion field").

Candidate motions, each a backward map z -> where to sample the source:
- identity (the background),
- the global motion: an affine transform predicted from the global codes of source and
  driving frames (identity at initialisation),
- with `keypoint_motion="tps"`, a thin-plate spline through all keypoint pairs (TPSMM,
  Zhao & Zhang 2022, eq. 1-2): the lips' non-rigid shape in one smooth map,
- one motion per keypoint: z + (s_k - d_k), the zero-order motion of FOMM (Siarohin et
  al. 2019, eq. 4 without the Jacobian; `keypoint_motion="translation"`), or the first-order
  s_k + J_k (z - d_k) with a local affine J_k (`"affine"`, `"tps"`; see `keypoint_motion.py`).
A U-Net hourglass sees the source, the source deformed by the global motion (and by the
TPS), the keypoint heatmap differences (FOMM eq. 6), the keypoint features splatted at the
driving keypoints and the global codes, and predicts fusion weights (softmax over the
candidates, FOMM eq. 7), a small residual flow and the occlusion logit. The weights are
predicted on a coarse grid but are interpolated as logits and combined with the *analytic*
motions at the query coordinates (the TPS from its coarse lattice, bilinearly), so the
field is a continuous function of position and can be evaluated at any output resolution.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.blocks import Hourglass
from ..nn.config import FieldConfig
from ..nn.geometry import affine_from_params, coordinate_grid, keypoint_heatmaps
from .keypoint_motion import first_order_grid, local_affines, tps_apply, tps_fit


class DenseMotionField(nn.Module):
    """(source, keypoints, global codes) -> grid (B, H, W, 2) backward map + occlusion (B, H, W)."""

    def __init__(self, config: FieldConfig, n_keypoints: int, kp_features: int, global_dim: int) -> None:
        super().__init__()
        self.config = config
        self.n_keypoints = n_keypoints
        self.tps = config.keypoint_motion == "tps"
        self.n_fixed = 3 if self.tps else 2  # candidates before the keypoints': identity, global [, TPS]
        self.splat = nn.Linear(kp_features, config.splat_features)
        self.global_proj = nn.Linear(2 * global_dim, 8)
        self.global_affine = nn.Sequential(nn.Linear(2 * global_dim, 64), nn.SiLU(), nn.Linear(64, 6))
        affine_head = self.global_affine[-1]
        assert isinstance(affine_head, nn.Linear)
        nn.init.zeros_(affine_head.weight)
        nn.init.zeros_(affine_head.bias)
        cin = 3 * self.n_fixed - 3 + 3 + n_keypoints + config.splat_features + 8 + 2
        self.hourglass = Hourglass(cin, config.channels, config.depth)
        c = self.hourglass.out_channels
        self.mask_head = nn.Conv2d(c, n_keypoints + self.n_fixed, 3, padding=1)
        self.flow_head = nn.Conv2d(c, 2, 3, padding=1)
        self.occlusion_head = nn.Conv2d(c, 1, 3, padding=1)
        for head in (self.mask_head, self.flow_head):
            assert head.bias is not None
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        assert self.occlusion_head.bias is not None
        nn.init.normal_(self.occlusion_head.weight, std=1e-3)
        nn.init.constant_(self.occlusion_head.bias, -4.0)

    def forward(
        self,
        source_image: torch.Tensor,
        source_keypoints: torch.Tensor,
        driving_keypoints: torch.Tensor,
        kp_features: torch.Tensor,
        source_code: torch.Tensor,
        driving_code: torch.Tensor,
        out_hw: tuple[int, int],
    ) -> dict[str, torch.Tensor]:
        """source_image (B, 3, H, W) in [-1, 1]; keypoints (B, K, 2); kp_features (B, K, C_k);
        codes (B, G); out_hw the output (H', W').

        Returns {"grid": (B, H', W', 2), "occlusion": (B, H', W'), "weights": (B, n_fixed + K, r, r),
        "affine": (B, 2, 3), "jacobians": (B, K, 2, 2)} with r = config.resolution; n_fixed = 2
        (identity, global), 3 with the TPS candidate; jacobians are identities for zero order.
        """
        b, r = source_image.shape[0], self.config.resolution
        dtype = source_image.dtype
        z = coordinate_grid(r, r, device=source_image.device, dtype=dtype)  # (r, r, 2)
        codes = torch.cat([source_code, driving_code], dim=-1)
        affine = affine_from_params(self.global_affine(codes))  # (B, 2, 3)

        src = F.interpolate(source_image, size=(r, r), mode="bilinear", align_corners=False, antialias=True)
        global_grid = self._apply_affine(affine, z[None].expand(b, -1, -1, -1))
        src_global = F.grid_sample(src, global_grid, padding_mode="border", align_corners=False)
        motions = self.keypoint_motions(source_keypoints, driving_keypoints, z[None].expand(b, -1, -1, -1))
        deformed = [src, src_global]
        if self.tps:
            deformed.append(F.grid_sample(src, motions["tps"].to(dtype), padding_mode="border", align_corners=False))
        heat_drv = keypoint_heatmaps(driving_keypoints, z, self.config.sigma)  # (B, K, r, r)
        heat_src = keypoint_heatmaps(source_keypoints, z, self.config.sigma)
        splat = torch.einsum("bkhw,bkc->bchw", heat_drv, self.splat(kp_features))
        gmap = self.global_proj(codes)[:, :, None, None].expand(-1, -1, r, r)
        coords = z.permute(2, 0, 1)[None].expand(b, -1, -1, -1)
        x = torch.cat([*deformed, heat_drv - heat_src, splat, gmap, coords], dim=1)
        feats = self.hourglass(x)

        prior = torch.cat([torch.zeros_like(heat_drv[:, :self.n_fixed]), torch.log(heat_drv + 1e-4)], dim=1)
        logits = self.mask_head(feats) + prior  # (B, n_fixed + K, r, r)
        flow = torch.tanh(self.flow_head(feats)) * 0.1
        occ_logit = self.occlusion_head(feats)
        grid, occlusion = self.evaluate(logits, flow, occ_logit, affine, source_keypoints, driving_keypoints,
                                        motions, out_hw)
        return {"grid": grid, "occlusion": occlusion, "weights": logits.softmax(dim=1), "affine": affine,
                "jacobians": motions["jacobians"]}

    def keypoint_motions(self, source_keypoints: torch.Tensor, driving_keypoints: torch.Tensor,
                         lattice: torch.Tensor) -> dict[str, torch.Tensor]:
        """keypoints (B, K, 2), lattice (B, r, r, 2) -> {"jacobians": (B, K, 2, 2)[, "tps": (B, r, r, 2) the
        TPS evaluated on the lattice]}; identity Jacobians for zero-order motion."""
        b, k = source_keypoints.shape[:2]
        if self.config.keypoint_motion == "translation":
            jac = torch.eye(2, device=lattice.device).expand(b, k, 2, 2)
        else:
            jac = local_affines(source_keypoints, driving_keypoints, self.config.neighbours)
        out = {"jacobians": jac}
        if self.tps:
            w, aff = tps_fit(driving_keypoints, source_keypoints)
            out["tps"] = tps_apply(driving_keypoints, w, aff, lattice)
        return out

    @staticmethod
    def _apply_affine(affine: torch.Tensor, pts: torch.Tensor) -> torch.Tensor:
        """affine (B, 2, 3), pts (B, H, W, 2) -> (B, H, W, 2)."""
        return torch.einsum("bij,bhwj->bhwi", affine[:, :, :2], pts) + affine[:, None, None, :, 2]

    def evaluate(self, logits, flow, occ_logit, affine, source_keypoints, driving_keypoints, motions, out_hw):
        """Evaluate the continuous field at the pixel centres of out_hw (FOMM eq. 7: sum of the
        candidate motions weighted by the softmax masks, plus the residual flow).

        logits (B, n_fixed + K, r, r), flow (B, 2, r, r), occ_logit (B, 1, r, r), motions from
        `keypoint_motions` -> grid (B, H', W', 2), occlusion (B, H', W'). The coarse quantities
        (and the TPS lattice) are interpolated bilinearly (continuous in position); the identity,
        global and per-keypoint motions are evaluated exactly at each query.
        """
        h, w = out_hw
        b = logits.shape[0]
        z = coordinate_grid(h, w, device=logits.device, dtype=logits.dtype)[None].expand(b, -1, -1, -1)
        up = lambda t: F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)  # noqa: E731
        weights = up(logits).softmax(dim=1)  # (B, n_fixed + K, H', W')
        dt = weights.dtype
        w_id, w_glob, w_kp = weights[:, 0], weights[:, 1], weights[:, self.n_fixed:]
        grid = (
            z * w_id[..., None]
            + self._apply_affine(affine, z) * w_glob[..., None]
            + first_order_grid(w_kp, source_keypoints.to(dt), driving_keypoints.to(dt), motions["jacobians"].to(dt), z)
            + up(flow).permute(0, 2, 3, 1)
        )
        if self.tps:
            grid = grid + up(motions["tps"].to(dt).permute(0, 3, 1, 2)).permute(0, 2, 3, 1) * weights[:, 2, ..., None]
        occlusion = torch.sigmoid(up(occ_logit))[:, 0]
        return grid, occlusion
