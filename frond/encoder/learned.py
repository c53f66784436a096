"""Stage 1, learned: the two-stream encoder (`frond.encoder.net.TwoStreamEncoder`) behind the
`KeypointEncoder` protocol."""
from __future__ import annotations

import numpy as np

from ..face.head import head_pose_from_keypoints
from ..nn.stage import LearnedStage, batch_of_one, image_tensor
from ..types import AlignedFace, SourceEncoding


class LearnedKeypointEncoder(LearnedStage):
    """Keypoints = the face's 68 landmarks; the two streams give the global code (G,) and per-keypoint
    features (68, C_k), which the learned field uses."""

    def encode(self, face: AlignedFace) -> SourceEncoding:
        import torch

        kp = face.keypoints.astype(np.float32)
        pose = head_pose_from_keypoints(kp)
        with torch.inference_mode():
            enc = self.model.encoder(image_tensor(face.image, self.device), batch_of_one(kp, self.device),
                                     batch_of_one(pose, self.device))
        return SourceEncoding(keypoints=kp, global_code=enc["global_code"][0].float().cpu().numpy(),
                              keypoint_features=enc["kp_features"][0].float().cpu().numpy())
