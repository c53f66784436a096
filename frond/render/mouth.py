"""Mouth-interior (and closed-eyelid) synthesis for the training-free decoder.

Where the lips part, the source has no content. We paint a believable interior:
a dark cavity shaded towards the throat, upper teeth under the upper lip and lower
teeth above the lower lip as the mouth opens, with colours taken from the portrait
(its lips for the cavity, its own teeth when it shows them).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..field.lips import lip_curve, mouth_box


@dataclass
class MouthPalette:
    cavity: np.ndarray  # (3,) float32 RGB, the dark interior
    teeth: np.ndarray  # (3,) float32 RGB, lit teeth
    lips: np.ndarray  # (3,) float32 RGB


def palette_from_source(image: np.ndarray, keypoints_px: np.ndarray) -> MouthPalette:
    """image (H, W, 3) uint8, keypoints_px (68, 2) in that image's pixels -> the mouth's colours."""
    h, w = image.shape[:2]
    outer = np.zeros((h, w), np.uint8)
    inner = np.zeros((h, w), np.uint8)
    cv2.fillPoly(outer, [np.round(keypoints_px[48:60]).astype(np.int32)], 1)
    cv2.fillPoly(inner, [np.round(keypoints_px[60:68]).astype(np.int32)], 1)
    lip_pixels = image[(outer > 0) & (inner == 0)].astype(np.float32)
    lips = np.median(lip_pixels, axis=0) if len(lip_pixels) > 10 else np.array([170.0, 90.0, 90.0], np.float32)
    teeth = np.array([228.0, 222.0, 210.0], np.float32)
    inside = image[inner > 0].astype(np.float32)
    if len(inside) > 30:
        luminance = inside @ np.array([0.299, 0.587, 0.114], np.float32)
        bright = inside[luminance > np.percentile(luminance, 75)]
        if len(bright) and bright.mean() > 120 and bright.std(axis=0).mean() < 60:
            teeth = np.clip(0.5 * teeth + 0.5 * bright.mean(axis=0) * 1.05, 0, 255)
    skin_level = float(np.clip(np.mean(lips) / 140.0, 0.6, 1.1))  # darker portraits get darker teeth
    cavity = np.clip(lips * np.array([0.38, 0.14, 0.14]) + 6.0, 0, 255)
    return MouthPalette(cavity=cavity.astype(np.float32), teeth=(teeth * skin_level).clip(0, 255).astype(np.float32),
                        lips=lips.astype(np.float32))


def paint_interior(frame: np.ndarray, occlusion: np.ndarray, keypoints_px: np.ndarray,
                   palette: MouthPalette, iod_px: float) -> None:
    """Blend a synthesised interior into frame (H, W, 3) uint8 where occlusion (H, W) > 0, in place."""
    by0, by1, bx0, bx1 = mouth_box(keypoints_px, iod_px, frame.shape)
    ys, xs = np.nonzero(occlusion[by0:by1, bx0:bx1] > 0.01)
    if ys.size == 0:
        return
    y0, y1, x0, x1 = by0 + ys.min(), by0 + ys.max() + 1, bx0 + xs.min(), bx0 + xs.max() + 1
    alpha = occlusion[y0:y1, x0:x1, None]
    gx, gy = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
    upper = lip_curve(keypoints_px[[60, 61, 62, 63, 64]], gx[0])[None, :]  # (1, w)
    lower = lip_curve(keypoints_px[[60, 67, 66, 65, 64]], gx[0])[None, :]
    gap = np.maximum(lower - upper, 1e-3)
    depth = np.clip(1.0 - np.abs((gy - (upper + lower) / 2) / (gap / 2 + 1e-3)), 0, 1)  # 1 at the centre line
    left, right = keypoints_px[60, 0], keypoints_px[64, 0]
    across = np.clip(np.abs((gx - (left + right) / 2) / max((right - left) / 2, 1.0)), 0, 1)  # 0 centre, 1 corners
    colour = palette.cavity[None, None] * (1.0 - 0.45 * depth[..., None]) * (1.0 - 0.3 * across[..., None])

    openness = float(np.clip((keypoints_px[66, 1] - keypoints_px[62, 1]) / iod_px, 0, 1))
    tooth_h = (0.07 + 0.1 * min(openness, 0.3)) * iod_px
    shade = (1.0 - 0.55 * across ** 2)[..., None]  # teeth fall into shadow towards the corners
    span = np.clip((0.8 - across) / 0.25, 0, 1)  # no teeth in the corners of the mouth
    upper_teeth = np.clip((upper + tooth_h - gy) / 1.2, 0, 1) * (gy >= upper - 1) * span
    colour = colour * (1 - upper_teeth[..., None]) + palette.teeth * shade * upper_teeth[..., None]
    if openness > 0.2:
        lower_h = 0.04 * iod_px * min(1.0, (openness - 0.2) / 0.15)
        lower_teeth = np.clip((gy - (lower - lower_h)) / 1.2, 0, 1) * (gy <= lower + 1) * span
        colour = colour * (1 - lower_teeth[..., None]) + 0.75 * palette.teeth * shade * lower_teeth[..., None]
    colour = cv2.GaussianBlur(colour.astype(np.float32), (0, 0), max(0.5, 0.01 * iod_px))
    roi = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = np.clip(roi * (1 - alpha) + colour * alpha, 0, 255).astype(np.uint8)


EYES = (tuple(range(36, 42)), tuple(range(42, 48)))  # iBUG contours: corner, upper lid x2, corner, lower lid x2


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


def eye_openness(keypoints: np.ndarray) -> np.ndarray:
    """(68, 2) -> (2,) mean gap between upper and lower lids of each eye."""
    return np.array([0.5 * (np.linalg.norm(keypoints[e[1]] - keypoints[e[5]]) + np.linalg.norm(keypoints[e[2]] - keypoints[e[4]]))
                     for e in EYES])


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
        mask = np.zeros((y1 - y0, x1 - x0), np.float32)
        cv2.fillPoly(mask, [np.round((contour - (x0, y0)) * 16).astype(np.int32)], 1.0, lineType=cv2.LINE_AA, shift=4)
        mask = cv2.GaussianBlur(cv2.dilate(mask, np.ones((3, 3), np.uint8)), (0, 0), max(0.6, 0.02 * iod_px))
        lash_y = lip_curve(contour[[0, 5, 4, 3]], np.arange(x0, x1))  # the lower lid: where the lashes meet it
        gy = np.arange(y0, y1, dtype=np.float32)[:, None]
        lash = np.exp(-((gy - lash_y[None, :]) / max(0.025 * iod_px, 0.8)) ** 2)
        paint = colour[None, None] * (1.0 - 0.55 * lash[..., None])
        alpha = (amount * mask)[..., None]
        roi = frame[y0:y1, x0:x1].astype(np.float32)
        frame[y0:y1, x0:x1] = np.clip(roi * (1 - alpha) + paint * alpha, 0, 255).astype(np.uint8)
