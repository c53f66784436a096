"""Stage 2, audio -> motion in a continuous trajectory space (B-spline trajectories of the keypoints)
and the head's global motion.

- `prior`: phones -> visemes -> mouth keypoint trajectories (training-free);
- `learned`: the trained network's forward pass in numpy (`net` is its PyTorch twin, for training);
- shared by both: `articulation` (the mouth's space), `trajectory` (B-splines, P-spline stiffness),
  `idle` (blinks, brows, head pose), `blink`, `head`, `shape`.
"""
from .learned import LearnedMotionEstimator
from .prior import PriorMotionEstimator

VARIANTS = {"prior": PriorMotionEstimator, "learned": LearnedMotionEstimator}

__all__ = ["VARIANTS", "LearnedMotionEstimator", "PriorMotionEstimator"]
