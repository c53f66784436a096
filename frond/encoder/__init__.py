"""Stage 1, the two-stream encoder: keypoints (68, iBUG layout) + a global code of the portrait.

- `prior`: the training-free encoder: the detected landmarks and the rigid head's geometry;
- `learned`: the adapter running the two-stream network (`net`) from trained weights.
"""
from .learned import LearnedKeypointEncoder
from .prior import PriorKeypointEncoder

VARIANTS = {"prior": PriorKeypointEncoder, "learned": LearnedKeypointEncoder}

__all__ = ["VARIANTS", "LearnedKeypointEncoder", "PriorKeypointEncoder"]
