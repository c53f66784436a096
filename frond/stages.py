"""The four stage interfaces (docs/DESIGN.md). Each has a training-free prior and a learned variant.

Each stage lives in its own package (`frond.encoder`, `frond.motion`, `frond.field`,
`frond.decoder`) with both variants, `prior.py` and `learned.py`, side by side; `frond.registry`
lists them. The pipeline only talks to these protocols, so the variants are interchangeable per
stage, and can be mixed. Every stage says what it is with typed attributes: `learned`, and the
`weights` it came from; `name` is for display only.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Protocol, TypedDict

import numpy as np

from .types import AlignedFace, AudioClip, FieldFrame, MotionSequence, OutputSpace, SourceEncoding

if TYPE_CHECKING:
    from .config import GenerationSettings

LEARNED, PRIOR = "learned", "prior"  # the two variants of every stage (`frond.registry`), as settings name them
PRIOR_NAME = "training-free prior"  # the display name of every training-free stage


def learned_name(weights: str) -> str:
    """The display name of a stage learned from `weights` (a Hub id[@revision] or a folder)."""
    return f"learned: {weights}"


class Stage(Protocol):
    """What every stage says about itself."""

    name: str  # for display: PRIOR_NAME or learned_name(weights)
    learned: bool  # a trained network (True) or the prior (False)
    weights: str | None  # the weights id a learned stage came from; None for the prior


class KeypointEncoder(Stage, Protocol):
    """Stage 1: keypoints + global code of the source portrait."""

    def encode(self, face: AlignedFace) -> SourceEncoding:
        """The aligned face -> keypoints (68, 2) in normalised crop space, a global code (G,) and,
        for a learned encoder, per-keypoint features."""
        ...


class MotionEstimator(Stage, Protocol):
    """Stage 2: audio -> keypoint trajectories (continuous time) + global motion (head pose)."""

    def prefetch(self, audio: AudioClip) -> None:
        """Start the slow audio analysis (phones, in a helper process) now; `estimate` collects it."""
        ...

    def estimate(self, audio: AudioClip, source_keypoints: np.ndarray, times: np.ndarray,
                 settings: GenerationSettings) -> MotionSequence:
        """source_keypoints (68, 2), times (T,) seconds -> the motion sampled at `times`."""
        ...


class DenseFieldEstimator(Stage, Protocol):
    """Stage 3: local keypoint motion + global motion -> one dense field per frame."""

    def prepare(self, face: AlignedFace, source: SourceEncoding, space: OutputSpace) -> None:
        """Per-source precomputation (once per generation); `space` says where frames go."""
        ...

    def frames(self, driving_keypoints: np.ndarray, head_poses: np.ndarray) -> list[FieldFrame]:
        """Batched: driving_keypoints (T, 68, 2), head_poses (T, 5) (`frond.face.head.POSE_AXES`) -> T fields over
        the output space (H, W)."""
        ...


class ImageDecoder(Stage, Protocol):
    """Stage 4: source + field -> output frames."""

    batched: bool  # True: render chunks with `render_batch` (one device call); False: `render` frames on threads

    def prepare(self, face: AlignedFace, source: SourceEncoding, space: OutputSpace) -> None:
        """Per-source precomputation: encode the source once per generation."""
        ...

    def render(self, field: FieldFrame, driving_keypoints: np.ndarray) -> np.ndarray:
        """A field over the output space, driving_keypoints (68, 2) -> (H, W, 3) uint8 RGB frame."""
        ...

    def render_batch(self, fields: list[FieldFrame], driving_keypoints: np.ndarray) -> np.ndarray:
        """T fields, driving_keypoints (T, 68, 2) -> (T, H, W, 3) uint8 RGB frames."""
        ...


class PriorStage:
    """What every training-free stage says about itself (a base of the four priors)."""

    name: str = PRIOR_NAME
    learned: bool = False
    weights: str | None = None


@dataclass
class Stages:
    """One implementation of each stage, in the paper's order."""

    encoder: KeypointEncoder
    motion: MotionEstimator
    field: DenseFieldEstimator
    decoder: ImageDecoder

    def items(self) -> list[tuple[str, Stage]]:
        """(stage name, stage) in order: encoder, motion, field, decoder."""
        return [(f.name, getattr(self, f.name)) for f in fields(self)]


class LearnedStages(TypedDict, total=False):
    """The stages a set of weights trained (`frond.weights.load_learned_stages`)."""

    encoder: KeypointEncoder
    motion: MotionEstimator
    field: DenseFieldEstimator
    decoder: ImageDecoder
