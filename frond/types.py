"""Data passed between the stages. Arrays are numpy; shapes are in the field comments.

Coordinates: keypoints live in the *normalised crop space*, x and y in [-1, 1] over the
aligned face crop (x right, y down), the same space for the training-free prior and the
learned networks, so plots and fields mean the same in either mode.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class AudioClip:
    """Decoded speech."""

    samples: np.ndarray  # (N,) float32 mono in [-1, 1] at `sample_rate` (analysis copy)
    sample_rate: int  # analysis sample rate (16 kHz)
    duration: float  # seconds
    path: Path | None = None  # the file it came from, muxed into the output as is re-encoded


@dataclass
class FaceDetection:
    """One face found in a portrait."""

    landmarks: np.ndarray  # (68, 2) float32, iBUG-68 layout, image pixels (x, y)
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 of the landmarks, image pixels
    backend: str  # which landmark backend found it


@dataclass
class AlignedFace:
    """The portrait's face, similarity-aligned to a canonical crop."""

    image: np.ndarray  # (S, S, 3) uint8 RGB crop
    keypoints: np.ndarray  # (68, 2) float32, normalised crop space [-1, 1]
    crop_from_image: np.ndarray  # (2, 3) float64 affine: image pixels -> crop pixels
    portrait: np.ndarray  # (H, W, 3) uint8 RGB, the whole (possibly downscaled) portrait
    detection: FaceDetection

    @property
    def size(self) -> int:
        return int(self.image.shape[0])


@dataclass
class SourceEncoding:
    """Stage 1's output: what the encoder found in the portrait, for the stages after it.

    The motion estimators take the keypoints only (the learned motion is audio-driven and
    speaker-independent); the dense field takes all of it.
    """

    keypoints: np.ndarray  # (68, 2) float32, normalised crop space
    global_code: np.ndarray  # (G,) float32: the motion context (prior: the head geometry; learned: the global stream)
    keypoint_features: np.ndarray | None = None  # (68, C) float32: the learned local stream's; None for the prior


@dataclass
class MotionSequence:
    """Audio-driven motion sampled at the output frame times.

    Produced by a motion estimator from a continuous-time trajectory, so the same
    motion can be sampled at any fps.
    """

    times: np.ndarray  # (T,) seconds, frame centres
    keypoints: np.ndarray  # (T, 68, 2) float32 driving keypoints, normalised crop space
    head_pose: np.ndarray  # (T, 5) float32: yaw, pitch, roll in degrees, shift x, y in inter-ocular distances (the global motion, `frond.face.head`)
    channels: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (T,), e.g. "open", "width", "round", "blink", "envelope"
    source: str = ""  # what produced it, for display (e.g. "<PRIOR_NAME>: pocketsphinx -> visemes")

    @property
    def n_frames(self) -> int:
        return int(self.times.shape[0])


@dataclass
class OutputSpace:
    """Where frames are rendered: the crop, or a region of the whole portrait (full frame)."""

    height: int  # output frame height, pixels
    width: int  # output frame width, pixels
    out_to_norm: np.ndarray  # (2, 3) affine: output pixels -> normalised crop space
    source: np.ndarray  # (Hs, Ws, 3) uint8 RGB image the training-free decoder samples from
    norm_to_source: np.ndarray  # (2, 3) affine: normalised crop space -> source pixels


@dataclass
class MouthSplit:
    """Where the lips meet, the backward map is discontinuous (a smooth map cannot fold).

    Above the line where the driving lips meet, the output samples the upper lip (and what
    lies above it), below it the lower lip: `upper` and `lower` are two smooth maps over a
    box around the mouth, and `weight` says which one each output pixel uses (1 = upper,
    fractional only where the line crosses a pixel). Both maps blend into the field's
    smooth map at the box's edge.
    """

    box: tuple[int, int, int, int]  # y0, y1, x0, x1 in output pixels
    upper: np.ndarray  # (h, w, 2) float32 backward map for the upper lip's side, normalised crop space
    lower: np.ndarray  # (h, w, 2) float32 the same for the lower lip's side
    weight: np.ndarray  # (h, w) float32 in [0, 1]: how much of each pixel is on the upper side
    seam: np.ndarray | None = None  # (h, w) float32 in [0, 1]: the shadow where closed lips press together
    hollow: np.ndarray | None = None  # (h, w) float32 in [0, 1]: the depth of the opening between the lips (its shade)


@dataclass
class FieldFrame:
    """The dense motion field for one output frame.

    A field is continuous: a stage may give it densely (`grid`) or as samples on a coarse
    lattice of cells (`coarse`, `lattice`): bilinear resizing by the cell size, then
    cropping the padding, gives the dense grid. Around the mouth it may be discontinuous
    (`mouth`). `dense()` gives the (H, W, 2) grid in every case.
    """

    grid: np.ndarray | None  # (H, W, 2) float32 backward map: for each output pixel, where to sample the source (normalised crop space)
    occlusion: np.ndarray  # (H, W) float32 in [0, 1]: 1 where the source has no content (new mouth interior)
    coarse: np.ndarray | None = None  # (h, w, 2) float32 the same map on a coarse lattice
    lattice: tuple[int, int] | None = None  # (cell, pad) in output pixels: sample (i, j) sits at ((j + .5) cell - .5 - pad, (i + .5) cell - .5 - pad)
    mouth: MouthSplit | None = None  # the map's two sides where the lips meet; None: `grid`/`coarse` hold everywhere
    lids: np.ndarray | None = None  # (2,) float32 in [0, 1]: how much of each eye (image left, right) the lids cover beyond
    # what the map closes (a warp cannot close an eye without folding): the decoder paints the lid there; None: none

    def dense(self) -> np.ndarray:
        """-> (H, W, 2) float32 grid in normalised crop space (around the mouth: the side each pixel mostly shows)."""
        if self.grid is None:
            assert self.coarse is not None and self.lattice is not None, "a FieldFrame needs `grid` or `coarse` + `lattice`"
            grid = upsample_lattice(self.coarse, self.lattice, self.occlusion.shape)
            if self.mouth is not None:
                y0, y1, x0, x1 = self.mouth.box
                grid = grid.copy()
                grid[y0:y1, x0:x1] = np.where(self.mouth.weight[..., None] >= 0.5, self.mouth.upper, self.mouth.lower)
            self.grid = grid
        return self.grid


def upsample_lattice(coarse: np.ndarray, lattice: tuple[int, int], shape: tuple[int, ...]) -> np.ndarray:
    """(h, w, C) lattice samples -> (H, W, C) by exact bilinear resizing (cell centres) and cropping the pad."""
    import cv2

    cell, pad = lattice
    h, w = coarse.shape[:2]
    big = cv2.resize(coarse, (w * cell, h * cell), interpolation=cv2.INTER_LINEAR)
    return big[pad:pad + shape[0], pad:pad + shape[1]]


@dataclass
class GenerationResult:
    """What `FrondPipeline.generate` returns."""

    video_path: Path  # the finished MP4 (H.264 + AAC)
    duration: float  # seconds of video
    n_frames: int
    fps: float
    width: int
    height: int
    motion: MotionSequence
    aligned: AlignedFace
    modes: dict[str, str]  # stage name -> its display name: PRIOR_NAME or "learned: <weights id>"
    stage_weights: dict[str, str | None]  # stage name -> the weights id its learned module came from; None: the prior
    timings: dict[str, float]  # stage name -> seconds
    intermediates: dict[str, Path] = field(default_factory=dict)  # name -> file (keypoints.npz, trajectories.png, motion_field.mp4, overlay.mp4, aligned.png)
    notices: list[str] = field(default_factory=list)  # things a user should know (image downscaled, fallback used, ...)
