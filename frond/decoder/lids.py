"""Closed eyelids for the training-free decoder: where a blink closes an eye further than the field's
map can (it would fold), the upper lid's own skin is blended over what is left."""
from __future__ import annotations

import cv2
import numpy as np

from ..face.ibug import EYES, lip_curve


def lid_colour(image: np.ndarray, keypoints_px: np.ndarray) -> list[np.ndarray]:
    """The skin of each upper eyelid (between lid and brow), as (3,) float32 RGB, from the portrait."""
    colours = []
    for eye, brow in zip(EYES, ((17, 18, 19, 20, 21), (22, 23, 24, 25, 26))):
        lid = keypoints_px[[eye[1], eye[2]]].mean(0)
        above = keypoints_px[list(brow)].mean(0)
        y0, y1 = int(round(min(lid[1], above[1]) + 0.3 * abs(lid[1] - above[1]))), int(round(max(lid[1], above[1]) - 0.2 * abs(lid[1] - above[1])))
        x0, x1 = int(round(keypoints_px[eye[0], 0])), int(round(keypoints_px[eye[3], 0]))
        x0, x1 = sorted((x0, x1))
        patch = image[max(y0, 0): max(y1, y0 + 1), max(x0, 0): max(x1, x0 + 1)].reshape(-1, 3).astype(np.float32)
        colours.append(np.median(patch, axis=0) if len(patch) > 3 else np.array([180.0, 140.0, 120.0], np.float32))
    return colours


def paint_closed_lids(frame: np.ndarray, keypoints_px: np.ndarray, closure: np.ndarray, colours: list[np.ndarray],
                      iod_px: float) -> None:
    """Paint the upper eyelid's skin over each eye, in place, with alpha = its closure (2,) in [0, 1].

    The warp alone cannot close an eye (that would fold the field); it narrows the eye and
    this covers what is left, darker along the lash line.
    """
    for eye, amount, colour in zip(EYES, closure, colours):
        if amount <= 0.01:
            continue
        contour = keypoints_px[list(eye)]
        pad = int(np.ceil(0.1 * iod_px)) + 2
        x0, y0 = np.maximum(np.floor(contour.min(0)).astype(int) - pad, 0)
        x1, y1 = np.minimum(np.ceil(contour.max(0)).astype(int) + pad, (frame.shape[1], frame.shape[0]))
        if x1 <= x0 or y1 <= y0:
            continue
        mask: np.ndarray = np.zeros((y1 - y0, x1 - x0), np.float32)
        cv2.fillPoly(mask, [np.round((contour - (x0, y0)) * 16).astype(np.int32)], (1.0,), lineType=cv2.LINE_AA, shift=4)
        mask = cv2.GaussianBlur(cv2.dilate(mask, np.ones((3, 3), np.uint8)), (0, 0), max(0.6, 0.02 * iod_px))
        lash_y = lip_curve(contour[[0, 5, 4, 3]], np.arange(x0, x1))  # the lower lid: where the lashes meet it
        gy = np.arange(y0, y1, dtype=np.float32)[:, None]
        lash = np.exp(-((gy - lash_y[None, :]) / max(0.025 * iod_px, 0.8)) ** 2)
        paint = colour[None, None] * (1.0 - 0.55 * lash[..., None])
        alpha = (amount * mask)[..., None]
        roi = frame[y0:y1, x0:x1].astype(np.float32)
        frame[y0:y1, x0:x1] = np.clip(roi * (1 - alpha) + paint * alpha, 0, 255).astype(np.uint8)
