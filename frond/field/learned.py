"""Stage 3, learned: the dense field network (`frond.field.net.DenseMotionField`) behind the
`DenseFieldEstimator` protocol.

`MotionSequence.head_pose` is the pose *change* from the source (yaw, pitch, roll degrees, then the shift);
the network's global stream gets the absolute rotation = the source's geometric pose + that change (the shift
is in the driving keypoints).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..face.head import head_pose_from_keypoints
from ..face.ibug import px_to_norm_affine
from ..nn.stage import LearnedStage, batch_of_one, image_tensor
from ..types import AlignedFace, FieldFrame, OutputSpace, SourceEncoding

if TYPE_CHECKING:
    import torch


class LearnedDenseField(LearnedStage):
    """The dense field network, evaluated on the crop and resampled onto the output space."""

    def prepare(self, face: AlignedFace, source: SourceEncoding, space: OutputSpace) -> None:
        import torch

        if source.keypoint_features is None:
            raise ValueError("the learned dense field needs the learned encoder's keypoint features (the same weights' encoder)")
        with torch.inference_mode():
            self.out_hw = (face.size, face.size)  # the network's field lives on the crop ...
            self.query = output_query(space, face.size, self.device)  # ... and is resampled onto the output space
            self.source = image_tensor(face.image, self.device)
            self.source_kp = batch_of_one(source.keypoints, self.device)
            self.source_pose = head_pose_from_keypoints(np.asarray(source.keypoints, dtype=np.float32))
            self.kp_features = batch_of_one(source.keypoint_features, self.device)
            self.source_code = batch_of_one(source.global_code, self.device)

    def frames(self, driving_keypoints: np.ndarray, head_poses: np.ndarray) -> list[FieldFrame]:
        """Batched: driving_keypoints (T, 68, 2), head_poses (T, 5) change from the source -> T fields."""
        import torch

        t = driving_keypoints.shape[0]
        with torch.inference_mode():
            kp = torch.as_tensor(np.asarray(driving_keypoints, np.float32), device=self.device)
            pose = torch.as_tensor(np.asarray(head_poses, np.float32)[:, :3] + self.source_pose[None], device=self.device)
            code = self.model.encoder.global_code(kp, pose)
            rep = lambda x: x.expand(t, *x.shape[1:])  # noqa: E731
            out = self.model.field(rep(self.source), rep(self.source_kp), kp, rep(self.kp_features),
                                   rep(self.source_code), code, self.out_hw)
            grid, occ = out["grid"].float(), out["occlusion"].float()
            if self.query is not None:  # a continuous field: sample it at the output pixels' crop coordinates
                grid, occ = resample_field(grid, occ, self.query)
        grid_np, occ_np = grid.cpu().numpy(), occ.cpu().numpy()
        return [FieldFrame(grid=grid_np[i], occlusion=occ_np[i]) for i in range(t)]


def output_query(space: OutputSpace, size: int, device: str) -> torch.Tensor | None:
    """Normalised crop coordinates of every output pixel (1, H, W, 2), or None when the output is the crop itself."""
    import torch

    crop = px_to_norm_affine(size)
    if (space.height, space.width) == (size, size) and np.allclose(space.out_to_norm, crop, atol=1e-9):
        return None
    ys, xs = np.mgrid[0:space.height, 0:space.width].astype(np.float64)
    pts = np.stack([xs, ys], -1) @ space.out_to_norm[:, :2].T + space.out_to_norm[:, 2]
    return torch.as_tensor(pts[None].astype(np.float32), device=device)


def resample_field(grid: torch.Tensor, occ: torch.Tensor, query: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """grid (T, S, S, 2), occ (T, S, S) on the crop -> the same at query (1, H, W, 2); identity outside the crop."""
    import torch

    t = grid.shape[0]
    q = query.expand(t, -1, -1, -1)
    g = torch.nn.functional.grid_sample(grid.permute(0, 3, 1, 2), q, padding_mode="border", align_corners=False)
    o = torch.nn.functional.grid_sample(occ[:, None], q, padding_mode="zeros", align_corners=False)[:, 0]
    inside = (q.abs() <= 1).all(-1, keepdim=True)
    return torch.where(inside, g.permute(0, 2, 3, 1), q), o
