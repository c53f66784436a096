"""The iBUG 68-point layout: its index groups, and the geometry every stage measures the same way.

One home for what the priors, the learned networks and the metrics all need: the eye
centres and the inter-ocular distance (the unit of every face measure), the mouth opening,
the eyes' openness, the box around the lips, the face's own frame, and the crop's
pixel <-> normalised coordinates. The measures on (..., 68, 2) keypoints take numpy arrays
or torch tensors alike.

Left and right are the *image's*: 36-41 is the eye on the left of the picture (the subject's
right eye), 42-47 the one on the right (a test pins this).
"""
from __future__ import annotations

import numpy as np

IMAGE_LEFT_EYE = slice(36, 42)  # the subject's right eye, on the left of the image
IMAGE_RIGHT_EYE = slice(42, 48)  # the subject's left eye, on the right of the image
OUTER_LIPS = slice(48, 60)
INNER_LIPS = slice(60, 68)
MOUTH = slice(48, 68)
BROWS = slice(17, 27)
NON_MOUTH = slice(0, 48)
UPPER_INNER_LIP, LOWER_INNER_LIP = 62, 66  # the middle of the inner lips
MOUTH_CORNERS = (48, 54)
NOSE_TIP, CHIN = 30, 8
LID_TRAVEL = 0.6  # a blink (motion) and the field's lid mask share it: how far the upper lid's keypoints travel towards the lower lid on a full blink
# the mirror image's numbering: landmark i of a face flipped left-right is landmark FLIP_68[i] of the original
_PAIRS = [(i, 16 - i) for i in range(8)] + [(17 + i, 26 - i) for i in range(5)] + [(31, 35), (32, 34)] + \
         [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)] + \
         [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)]
FLIP_68 = np.arange(68)
for _a, _b in _PAIRS:
    FLIP_68[_a], FLIP_68[_b] = _b, _a
# each eye's contour, image left then right: corner, upper lid x2, corner, lower lid x2
EYES = tuple(tuple(range(eye.start, eye.stop)) for eye in (IMAGE_LEFT_EYE, IMAGE_RIGHT_EYE))


def _norm(v):
    """Euclidean length over the last axis, numpy or torch."""
    return (v ** 2).sum(-1) ** 0.5


def eye_centres(keypoints):
    """(..., 68, 2) -> (image-left eye centre, image-right eye centre), each (..., 2)."""
    return keypoints[..., IMAGE_LEFT_EYE, :].mean(-2), keypoints[..., IMAGE_RIGHT_EYE, :].mean(-2)


def inter_ocular(keypoints):
    """(..., 68, 2) -> (...) distance between the eye centres: the unit of every face measure."""
    left, right = eye_centres(keypoints)
    return _norm(right - left)


def mouth_opening(keypoints):
    """(..., 68, 2) -> (...) inner-lip gap (62 to 66) / inter-ocular distance.

    0 for closed lips, about 0.3-0.5 wide open; NaN where the landmarks are NaN (no face).
    """
    gap = _norm(keypoints[..., LOWER_INNER_LIP, :] - keypoints[..., UPPER_INNER_LIP, :])
    return gap / inter_ocular(keypoints).clip(1e-6, None)


def mouth_width(keypoints):
    """(..., 68, 2) -> (...) mouth-corner distance (48 to 54) / inter-ocular distance."""
    left, right = MOUTH_CORNERS
    return _norm(keypoints[..., right, :] - keypoints[..., left, :]) / inter_ocular(keypoints).clip(1e-6, None)


def eye_openness(keypoints: np.ndarray) -> np.ndarray:
    """(68, 2) -> (2,) mean gap between the upper and lower lids of each eye (image left, right)."""
    return np.array([0.5 * (np.linalg.norm(keypoints[e[1]] - keypoints[e[5]]) + np.linalg.norm(keypoints[e[2]] - keypoints[e[4]]))
                     for e in EYES])


def mouth_box(keypoints_px: np.ndarray, iod_px: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The box (y0, y1, x0, x1) around the lips of keypoints_px (68, 2) in pixels, with a margin, clipped to the frame `shape`."""
    pad = 0.25 * iod_px + 3
    lo = np.floor(keypoints_px[MOUTH].min(0) - pad).astype(int)
    hi = np.ceil(keypoints_px[MOUTH].max(0) + pad).astype(int)
    return max(lo[1], 0), min(hi[1], shape[0]), max(lo[0], 0), min(hi[0], shape[1])


def lip_curve(points: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Piecewise-linear y(x) through a contour's points (N, 2) (a lip, an eyelid), evaluated at xs."""
    order = np.argsort(points[:, 0])
    return np.interp(xs, points[order, 0], points[order, 1])


def face_frame(keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(..., 68, 2) -> origin (..., 2) between the eyes, axes (..., 2, 2) (rows: x along the eye
    line, y down the face) and the inter-ocular distance (...)."""
    kp = np.asarray(keypoints, dtype=np.float64)
    left, right = eye_centres(kp)
    iod = np.maximum(inter_ocular(kp), 1e-9)
    x_axis = (right - left) / iod[..., None]
    y_axis = np.stack([-x_axis[..., 1], x_axis[..., 0]], -1)
    return (left + right) / 2, np.stack([x_axis, y_axis], -2), iod


def px_to_norm(points: np.ndarray, size: int) -> np.ndarray:
    """(..., 2) crop pixels (pixel i's centre at i) -> normalised crop space [-1, 1]."""
    return (np.asarray(points, dtype=np.float64) + 0.5) * (2.0 / size) - 1.0


def norm_to_px(points: np.ndarray, size: int) -> np.ndarray:
    """(..., 2) normalised crop space -> crop pixels."""
    return (np.asarray(points, dtype=np.float64) + 1.0) * (size / 2.0) - 0.5


def norm_to_px_affine(size: int) -> np.ndarray:
    """`norm_to_px` as a (2, 3) affine."""
    return np.array([[size / 2.0, 0.0, size / 2.0 - 0.5], [0.0, size / 2.0, size / 2.0 - 0.5]])


def px_to_norm_affine(size: int) -> np.ndarray:
    """`px_to_norm` as a (2, 3) affine."""
    return np.array([[2.0 / size, 0.0, 1.0 / size - 1.0], [0.0, 2.0 / size, 1.0 / size - 1.0]])
