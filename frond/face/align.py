"""Similarity alignment of a face to the canonical crop, and its inverse.

The crop is the space every stage works in: keypoints are stored in its normalised
coordinates, x and y in [-1, 1] (pixel centres at (i + 0.5) * 2 / S - 1).
"""
from __future__ import annotations

import numpy as np
from skimage.transform import SimilarityTransform

from ..imaging import apply_affine, invert_affine, prepare_source, sample_affine
from ..types import AlignedFace, FaceDetection
from .ibug import eye_centres, norm_to_px, px_to_norm

# Where the eye centres and mouth corners land, in normalised crop space. The head
# sits in the middle with room for hair, chin and some neck and background.
TEMPLATE = np.array([[-0.21, -0.15], [0.21, -0.15], [-0.16, 0.28], [0.16, 0.28]], dtype=np.float64)


def anchor_points(landmarks: np.ndarray) -> np.ndarray:
    """landmarks (68, 2) -> eye centres and mouth corners (4, 2), as in TEMPLATE."""
    left, right = eye_centres(landmarks)
    return np.stack([left, right, landmarks[48], landmarks[54]]).astype(np.float64)


def crop_transform(landmarks: np.ndarray, size: int) -> np.ndarray:
    """The (2, 3) similarity taking image pixels to crop pixels for these landmarks."""
    transform = SimilarityTransform.from_estimate(anchor_points(landmarks), norm_to_px(TEMPLATE, size))
    return transform.params[:2].astype(np.float64)


def warp_to_crop(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Resample image (H, W, 3) into the (size, size, 3) crop, `matrix` (2, 3) taking image to crop pixels.

    The same single pass as every rendered frame (`frond.imaging`): prefiltered when
    the crop is smaller than the face, and continued plausibly (never by smeared edge rows)
    where the crop reaches past the picture.
    """
    crop_to_image = invert_affine(matrix)
    source = prepare_source(image, crop_to_image, (size, size), margin=0.0)
    return sample_affine(source, crop_to_image, (size, size))


def align_face(image: np.ndarray, detection: FaceDetection, size: int) -> AlignedFace:
    """image (H, W, 3) uint8 RGB + a detection -> the aligned crop (size, size, 3) and its keypoints."""
    matrix = crop_transform(detection.landmarks, size)
    crop = warp_to_crop(image, matrix, size)
    keypoints = px_to_norm(apply_affine(matrix, detection.landmarks.astype(np.float64)), size).astype(np.float32)
    return AlignedFace(image=crop, keypoints=keypoints, crop_from_image=matrix, portrait=image, detection=detection)
