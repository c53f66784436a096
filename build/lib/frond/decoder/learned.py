"""Stage 4, learned: the implicit decoder (`frond.decoder.net.ImplicitDecoder`) behind the
`ImageDecoder` protocol, queried at the output's pixel centres (any resolution), a chunk of frames
per call."""
from __future__ import annotations

import numpy as np

from ..nn.stage import LearnedStage, image_tensor
from ..types import AlignedFace, FieldFrame, OutputSpace, SourceEncoding


class LearnedDecoder(LearnedStage):
    """Warped source features queried at continuous coordinates: one network call per chunk."""

    batched = True

    def prepare(self, face: AlignedFace, source: SourceEncoding, space: OutputSpace) -> None:
        import torch

        with torch.inference_mode():
            self.out_hw = (space.height, space.width)
            self.source = image_tensor(face.image, self.device)
            self.features = self.model.decoder.encode_source(self.source)

    def render_batch(self, fields: list[FieldFrame], driving_keypoints: np.ndarray) -> np.ndarray:
        """T fields (their grid and occlusion), driving_keypoints (T, 68, 2) unused -> (T, H, W, 3) uint8."""
        import torch

        from .net import resample_grid

        with torch.inference_mode():
            grid = torch.stack([torch.as_tensor(f.dense(), dtype=torch.float32) for f in fields]).to(self.device)
            occ = torch.stack([torch.as_tensor(f.occlusion, dtype=torch.float32) for f in fields]).to(self.device)
            if tuple(grid.shape[1:3]) != self.out_hw:
                grid = resample_grid(grid, self.out_hw)
                occ = torch.nn.functional.interpolate(occ[:, None], size=self.out_hw, mode="bilinear",
                                                      align_corners=False)[:, 0]
            t = grid.shape[0]
            out = self.model.decoder(self.source.expand(t, -1, -1, -1), grid, occ.clamp(0, 1),
                                     source_features=[f.expand(t, -1, -1, -1) for f in self.features])
            img = ((out["image"].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return img.permute(0, 2, 3, 1).cpu().numpy()

    def render(self, field: FieldFrame, driving_keypoints: np.ndarray) -> np.ndarray:
        """-> (H, W, 3) uint8 RGB at out_hw."""
        return self.render_batch([field], np.asarray(driving_keypoints)[None])[0]
