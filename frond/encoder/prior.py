"""Stage 1, training-free: the keypoint encoder without weights (docs/DESIGN.md).

The keypoints are the face's 68 landmarks (already in the aligned crop's normalised
space); the global code summarises the head's geometry (`frond.face.head`): the centre
and radii of its face ellipsoid and the inter-ocular distance, (5,).
"""
from __future__ import annotations

import numpy as np

from ..face.head import HeadGeometry
from ..stages import PriorStage
from ..types import AlignedFace, SourceEncoding


class PriorKeypointEncoder(PriorStage):
    """Stage 1, training-free: landmarks are the keypoints; the global code is the head geometry."""

    def encode(self, face: AlignedFace) -> SourceEncoding:
        geometry = HeadGeometry(face.keypoints)
        code = np.concatenate([geometry.centre, geometry.radii, [geometry.iod]]).astype(np.float32)
        return SourceEncoding(keypoints=face.keypoints.astype(np.float32), global_code=code)
