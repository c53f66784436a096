"""Stage 3, the continuous dense motion field: local keypoint motion fused with the head's global motion.

- `prior`: thin-plate splines through the keypoints, the head's rigid motion, the lips' split (`lips`, `tps`);
- `learned`: the adapter running the fusion network (`net`, `keypoint_motion`) from trained weights.
"""
from .learned import LearnedDenseField
from .prior import PriorDenseField

VARIANTS = {"prior": PriorDenseField, "learned": LearnedDenseField}

__all__ = ["VARIANTS", "LearnedDenseField", "PriorDenseField"]
