"""The four stage interfaces. Each has a training-free prior and a learned implementation.

The pipeline only talks to these protocols, so a learned module (from `frond.models`)
and a prior (from `frond.motion`, `frond.field`, `frond.render`) are interchangeable per
stage, and can be mixed.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np

from .config import GenerationSettings
from .types import AlignedFace, AudioClip, FieldFrame, MotionSequence, OutputSpace


class KeypointEncoder(Protocol):
    """Stage 1: keypoints + global code of the source portrait."""

    name: str  # "training-free prior" or "learned: <id>"

    def encode(self, face: AlignedFace) -> tuple[np.ndarray, np.ndarray]:
        """Return keypoints (68, 2) in normalised crop space and a global code (G,)."""
        ...


class MotionEstimator(Protocol):
    """Stage 2: audio -> keypoint trajectories (continuous time) + global motion."""

    name: str

    def estimate(
        self,
        audio: AudioClip,
        source_keypoints: np.ndarray,
        global_code: np.ndarray,
        times: np.ndarray,
        settings: GenerationSettings,
    ) -> MotionSequence:
        """source_keypoints (68, 2), global_code (G,), times (T,) -> motion sampled at `times`."""
        ...


class DenseFieldEstimator(Protocol):
    """Stage 3: local keypoint motion + global motion -> one dense field."""

    name: str

    def prepare(self, face: AlignedFace, source_keypoints: np.ndarray, space: OutputSpace) -> None:
        """Per-source precomputation (called once per generation); `space` says where frames go."""
        ...

    def frame(self, driving_keypoints: np.ndarray, head_pose: np.ndarray) -> FieldFrame:
        """driving_keypoints (68, 2), head_pose (3,) -> the field over the output space (H, W)."""
        ...


class ImageDecoder(Protocol):
    """Stage 4: source + field -> output frame."""

    name: str

    def prepare(self, face: AlignedFace, source_keypoints: np.ndarray, space: OutputSpace) -> None:
        """Per-source precomputation: encode the source once per generation."""
        ...

    def render(self, field: FieldFrame, driving_keypoints: np.ndarray) -> np.ndarray:
        """field over the output space, driving_keypoints (68, 2) -> (H, W, 3) uint8 RGB frame."""
        ...
