"""Mouth-interior (and closed-eyelid) synthesis for the training-free decoder.

Where the lips part wider than the portrait's own (the occlusion map), the source has no
content. We paint a believable interior: a dark cavity shaded towards the throat, a
tongue, upper teeth under the upper lip and lower teeth above the lower lip as the mouth
opens, with colours taken from the portrait (its lips, and its own teeth and cavity when
it shows them). Where the portrait shows its interior, the field reuses it instead.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..face.ibug import EYES, INNER_LIPS, MOUTH, OUTER_LIPS, lip_curve, mouth_box


@dataclass
class MouthPalette:
    cavity: np.ndarray  # (3,) float32 RGB, the dark interior
    teeth: np.ndarray  # (3,) float32 RGB, lit teeth
    lips: np.ndarray  # (3,) float32 RGB
    tongue: np.ndarray  # (3,) float32 RGB, the tongue in the mouth's shade


def palette_from_source(image: np.ndarray, keypoints_px: np.ndarray) -> MouthPalette:
    """image (H, W, 3) uint8, keypoints_px (68, 2) in that image's pixels -> the mouth's colours.

    Lips from the lip ring; where the portrait shows its own interior, its teeth (the bright
    quarter) and its cavity (the dark quarter); otherwise colours derived from the lips.
    """
    lo = np.maximum(np.floor(keypoints_px[MOUTH].min(0)).astype(int) - 2, 0)
    hi = np.minimum(np.ceil(keypoints_px[MOUTH].max(0)).astype(int) + 3, (image.shape[1], image.shape[0]))
    patch = image[lo[1]:hi[1], lo[0]:hi[0]]
    outer = np.zeros(patch.shape[:2], np.uint8)
    inner = np.zeros(patch.shape[:2], np.uint8)
    cv2.fillPoly(outer, [np.round(keypoints_px[OUTER_LIPS] - lo).astype(np.int32)], (1,))
    cv2.fillPoly(inner, [np.round(keypoints_px[INNER_LIPS] - lo).astype(np.int32)], (1,))
    lip_pixels = patch[(outer > 0) & (inner == 0)].astype(np.float32)
    lips = np.median(lip_pixels, axis=0) if len(lip_pixels) > 10 else np.array([170.0, 90.0, 90.0], np.float32)
    teeth = np.array([214.0, 205.0, 188.0], np.float32)
    cavity = np.clip(lips * np.array([0.38, 0.14, 0.14]) + 6.0, 0, 255)
    inside = patch[inner > 0].astype(np.float32)
    if len(inside) > 30:
        luminance = inside @ np.array([0.299, 0.587, 0.114], np.float32)
        bright = inside[luminance > np.percentile(luminance, 75)]
        if len(bright) and bright.mean() > 120 and bright.std(axis=0).mean() < 60:
            teeth = np.clip(0.5 * teeth + 0.5 * bright.mean(axis=0) * 1.05, 0, 255)
        dark = inside[luminance < np.percentile(luminance, 25)]
        if len(dark) and dark.mean() < 90:  # the portrait's own cavity
            cavity = 0.5 * cavity + 0.5 * dark.mean(axis=0)
    skin_level = float(np.clip(np.mean(lips) / 140.0, 0.6, 1.1))  # darker portraits get darker teeth
    tongue = np.clip(lips * np.array([0.62, 0.36, 0.38]) + 6.0, 0, 255)
    return MouthPalette(cavity=cavity.astype(np.float32), teeth=(teeth * skin_level).clip(0, 255).astype(np.float32),
                        lips=lips.astype(np.float32), tongue=tongue.astype(np.float32))


TOOTH_EDGES = (0.0, 0.085, 0.15, 0.205)  # IOD from the mouth's centre line to the gaps between incisors, laterals, canines


def _soft(distance: np.ndarray) -> np.ndarray:
    """Signed distance in px (positive inside) -> coverage in [0, 1], one pixel of antialiasing."""
    return np.clip(distance + 0.5, 0.0, 1.0)


def paint_interior(frame: np.ndarray, occlusion: np.ndarray, keypoints_px: np.ndarray,
                   palette: MouthPalette, iod_px: float) -> None:
    """Blend a synthesised interior into frame (H, W, 3) uint8 where occlusion (H, W) > 0, in place.

    Back to front: the cavity (darkest at the throat, deeper as the mouth opens, warmer at
    the lips' inner surfaces), the tongue rising from the floor of the mouth, lower teeth
    above the lower lip, upper teeth under the upper lip (longer central incisors, gaps
    between teeth, the lip's shadow, darker towards the corners). Edges are antialiased
    over one output pixel, so they stay sharp at any size.
    """
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
    left, right = keypoints_px[60, 0], keypoints_px[64, 0]
    centre, half = (left + right) / 2, max((right - left) / 2, 1.0)
    across = np.clip(np.abs(gx - centre) / half, 0, 1)  # 0 centre, 1 corners
    openness = float(np.clip((keypoints_px[66, 1] - keypoints_px[62, 1]) / iod_px, 0, 1))
    colour_now: np.ndarray  # the interior so far, (h, w, 3) float: each layer covers it
    layer = lambda colour, cover: colour_now * (1 - cover[..., None]) + colour * cover[..., None]  # noqa: E731

    # the cavity: a throat shadow that deepens with the opening, lighter and warmer at the lips
    t = np.clip((gy - upper) / gap, 0, 1)
    throat = np.clip(1.0 - across ** 2, 0, 1) * np.clip(1.0 - np.abs(2 * t - 1), 0, 1)
    colour_now = palette.cavity[None, None] * (1.0 - (0.4 + 0.4 * min(openness / 0.3, 1.0)) * throat[..., None])
    rim = np.exp(-np.minimum(gy - upper, lower - gy).clip(0) / max(0.015 * iod_px, 0.7))
    colour_now = layer(0.5 * palette.lips, 0.5 * rim)
    # the tongue: an arch rising from the floor of the mouth once it opens
    rise = np.clip((openness - 0.08) / 0.2, 0, 1)
    if rise > 0:
        top = lower - rise * np.minimum(0.32 * gap, 0.1 * iod_px) * np.sqrt(np.clip(1 - (across / 0.7) ** 2, 0, 1))
        tongue = _soft(gy - top) * (across < 0.75)
        lit = np.exp(-np.clip(gy - top, 0, None) / max(0.025 * iod_px, 1.0))  # its top catches some light
        colour_now = layer(palette.tongue * (0.8 + 0.3 * lit[..., None]) * (1 - 0.4 * across[..., None] ** 2), tongue)
    teeth_shade = (1.0 - 0.6 * across ** 2)[..., None]  # teeth fall into shadow towards the corners
    between = sum(np.exp(-((np.abs(gx - centre) - e * iod_px) / max(0.006 * iod_px, 0.5)) ** 2) for e in TOOTH_EDGES)
    spacing = (1.0 - 0.35 * np.clip(between, 0, 1))[..., None]
    # lower teeth: a narrower, shaded row above the lower lip
    if openness > 0.12:
        lower_h = 0.035 * iod_px * min(1.0, (openness - 0.12) / 0.12)
        row = _soft(gy - (lower - lower_h)) * (gy <= lower + 1) * np.clip((0.55 - across) / 0.15, 0, 1)
        colour_now = layer(palette.teeth * np.array([0.6, 0.54, 0.48], np.float32) * teeth_shade * spacing, row)
    # upper teeth under the upper lip: the central incisors longest, the lip's shadow on their top
    tooth_h = np.minimum((0.075 + 0.09 * min(openness, 0.3)) * iod_px, 0.55 * gap) * (1.0 - 0.3 * across ** 2)
    row = _soft(upper + tooth_h - gy) * (gy >= upper - 1) * np.clip((0.82 - across) / 0.2, 0, 1)
    lip_shadow = 1.0 - 0.3 * np.exp(-np.clip(gy - upper, 0, None) / max(0.02 * iod_px, 0.7))
    edge = 1.0 - 0.25 * np.clip(1.0 - (upper + tooth_h - gy) / np.maximum(0.25 * tooth_h, 0.5), 0, 1)  # translucent tips
    colour_now = layer(palette.teeth * teeth_shade * spacing * (lip_shadow * edge)[..., None], row)
    colour = cv2.GaussianBlur(colour_now.astype(np.float32), (0, 0), max(0.4, 0.004 * iod_px))
    roi = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = np.clip(roi * (1 - alpha) + colour * alpha + 0.5, 0, 255).astype(np.uint8)


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
