"""Imaging primitives below every stage: affine maps (apply, invert, compose) and the portrait as the
decoders sample it: once, prefiltered, and never beyond an edge.

Every output pixel samples the *original* portrait in one bicubic pass (the aligned
crop and every rendered frame alike), so detail is lost once, not twice. Two things
make that pass safe:

- **Prefilter.** A bicubic tap that skips more than `MAX_STEP` source pixels per output
  pixel aliases. When the output is smaller than the region it shows, the portrait is
  first reduced with an area filter (OpenCV's `INTER_AREA`, exact pixel-area averaging) to
  `MAX_STEP` source pixels per output pixel (the level of a continuous pyramid).
- **Fill beyond the picture.** Where the output reaches past the portrait (a face near
  the photo's edge), it samples a continuation of the picture (`extend`): its mirror image
  for a few pixels (hair and skin texture go on), then the colours of the picture's edge,
  spread ever more smoothly with the distance. Replicating the last row or column instead
  smears it into stripes (issue 9).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MAX_STEP = 1.5  # at most this many source pixels per output pixel for one bicubic tap (beyond: prefilter)


@dataclass
class SourceImage:
    """The portrait at its sampling level, extended by the fill where the output reaches past it."""

    image: np.ndarray  # (h, w, 3) uint8 RGB: what the bicubic tap reads
    from_portrait: np.ndarray  # (2, 3) affine: portrait pixels -> `image` pixels
    picture: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive): the portrait's own pixels inside `image`

    def affine_from(self, to_portrait: np.ndarray) -> np.ndarray:
        """(2, 3) affine into portrait pixels -> the same into `image` pixels."""
        return compose(self.from_portrait, to_portrait)


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """matrix (2, 3), points (..., 2) -> (..., 2)."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """(2, 3) -> its inverse (2, 3)."""
    return cv2.invertAffineTransform(matrix.astype(np.float64))


def compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(2, 3) affines -> a after b, (2, 3)."""
    return (np.vstack([a, [0, 0, 1]]) @ np.vstack([b, [0, 0, 1]]))[:2]


def affine_scale(matrix: np.ndarray) -> float:
    """The mean linear scale of a (2, 3) affine (square root of its determinant's magnitude)."""
    return float(np.sqrt(abs(np.linalg.det(np.asarray(matrix, dtype=np.float64)[:, :2]))))


def prepare_source(portrait: np.ndarray, out_to_portrait: np.ndarray, out_shape: tuple[int, int],
                   margin: float = 0.15) -> SourceImage:
    """What an output of `out_shape` (H, W) whose pixels map by `out_to_portrait` (2, 3) samples.

    portrait (Hp, Wp, 3) uint8. The result covers the output's footprint grown by `margin`
    of its size on every side (room for the motion field): only that region of the
    portrait is reduced and extended, so a large photo costs little.
    """
    if portrait.ndim != 3 or portrait.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {portrait.shape}")
    out_to_portrait = np.asarray(out_to_portrait, dtype=np.float64)
    height, width = out_shape
    step = affine_scale(out_to_portrait)  # portrait pixels per output pixel
    mx, my = margin * width, margin * height
    corners = np.array([[-0.5 - mx, -0.5 - my], [width - 0.5 + mx, -0.5 - my],
                        [width - 0.5 + mx, height - 0.5 + my], [-0.5 - mx, height - 0.5 + my]])
    foot = corners @ out_to_portrait[:, :2].T + out_to_portrait[:, 2]
    lo, hi = foot.min(0) - 3.0 * max(step, 1.0), foot.max(0) + 3.0 * max(step, 1.0)  # + the bicubic tap's reach
    ph, pw = portrait.shape[:2]
    x0, y0 = (int(np.clip(np.floor(v), 0, n - 1)) for v, n in zip(lo, (pw, ph)))
    x1, y1 = (int(np.clip(np.ceil(v) + 1, 1, n)) for v, n in zip(hi, (pw, ph)))
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
    region = portrait[y0:y1, x0:x1]
    sx = sy = 1.0
    if step > MAX_STEP:  # the prefilter: an area-averaged level with MAX_STEP source pixels per output pixel
        factor = MAX_STEP / step
        new_w, new_h = max(1, int(round(region.shape[1] * factor))), max(1, int(round(region.shape[0] * factor)))
        sx, sy = new_w / region.shape[1], new_h / region.shape[0]
        region = cv2.resize(region, (new_w, new_h), interpolation=cv2.INTER_AREA)
    # portrait px -> level px (pixel centres: x' + 0.5 = (x - x0 + 0.5) * s)
    to_level = np.array([[sx, 0.0, (0.5 - x0) * sx - 0.5], [0.0, sy, (0.5 - y0) * sy - 0.5]])
    lo_l = lo * (sx, sy) + to_level[:, 2]
    hi_l = hi * (sx, sy) + to_level[:, 2]
    rh, rw = region.shape[:2]
    cap = 4 * max(rh, rw, width, height)  # a sanity bound: the footprint never lies that far out
    left, top = (int(min(cap, max(0, np.ceil(-v)))) for v in lo_l)
    right = int(min(cap, max(0, np.ceil(hi_l[0] - (rw - 1)))))
    bottom = int(min(cap, max(0, np.ceil(hi_l[1] - (rh - 1)))))
    image = extend(np.ascontiguousarray(region), top, bottom, left, right)
    to_level[:, 2] += (left, top)
    return SourceImage(image=image, from_portrait=to_level, picture=(left, top, left + rw, top + rh))


MIRROR_REACH = (4.0, 12.0)  # px beyond the edge: the mirror image is used fully up to the first, not past the second
EDGE_BAND = 4  # px of the picture next to its edge whose colours the far fill continues


def extend(image: np.ndarray, top: int, bottom: int, left: int, right: int) -> np.ndarray:
    """image (h, w, C) uint8 -> (h + top + bottom, w + left + right, C): itself, then a plausible continuation.

    Up to MIRROR_REACH beyond the edge: the mirror image (texture continues), blurred with a
    sigma of half the distance. Farther out: the colours of the picture's edge band, spread by
    a normalised convolution (Knutsson & Westin 1993) whose sigma equals the distance, so the
    fill gets smoother, never streakier, and never repeats what lies deep inside the picture.
    Gaussian pyramids give the blurs; only the border strips are computed at full size.
    """
    if top == bottom == left == right == 0:
        return image
    padded = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_REFLECT_101)
    h, w = padded.shape[:2]
    ih, iw = image.shape[:2]
    band = np.zeros((h, w), np.float32)  # the picture's own edge band: the colours the far fill spreads
    band[top:top + ih, left:left + iw] = 1.0
    band[top + EDGE_BAND:top + ih - EDGE_BAND, left + EDGE_BAND:left + iw - EDGE_BAND] = 0.0
    pyramids = [[padded.astype(np.float32), padded.astype(np.float32) * band[..., None], band]]
    reach = np.hypot(max(top, bottom), max(left, right))
    while 2 ** len(pyramids) <= 2 * reach and min(pyramids[-1][0].shape[:2]) >= 2:
        pyramids.append([cv2.pyrDown(x) for x in pyramids[-1]])
    out = padded.copy()
    strips = ((0, top, 0, w), (top + ih, h, 0, w), (top, top + ih, 0, left), (top, top + ih, left + iw, w))
    for y0, y1, x0, x1 in strips:
        if y1 <= y0 or x1 <= x0:
            continue
        rows, cols = np.arange(y0, y1), np.arange(x0, x1)
        dy = np.maximum(np.maximum(top - rows, rows - (top + ih - 1)), 0).astype(np.float32)
        dx = np.maximum(np.maximum(left - cols, cols - (left + iw - 1)), 0).astype(np.float32)
        distance = np.sqrt(dy[:, None] ** 2 + dx[None, :] ** 2)[..., None]
        mirror_level = np.log2(np.maximum(0.5 * distance, 1.0))  # pyramid level k ~ a sigma of 2^k px
        fill_level = np.log2(np.maximum(distance, 1.0))
        mirror, num, den = (x[y0:y1, x0:x1].copy() for x in pyramids[0])
        den = den[..., None]
        for k, levels in enumerate(pyramids[1:], 1):
            up_mirror, up_num, up_den = (_upsampled(x, (h, w), (y0, y1, x0, x1)) for x in levels)
            mirror += np.clip(mirror_level - (k - 1), 0.0, 1.0) * (up_mirror - mirror)
            step = np.clip(fill_level - (k - 1), 0.0, 1.0)
            num += step * (up_num - num)
            den += step * (up_den[..., None] - den)
        fill = num / np.maximum(den, 1e-6)
        keep_mirror = np.clip((MIRROR_REACH[1] - distance) / (MIRROR_REACH[1] - MIRROR_REACH[0]), 0.0, 1.0)
        out[y0:y1, x0:x1] = np.clip(keep_mirror * mirror + (1.0 - keep_mirror) * fill + 0.5, 0, 255).astype(np.uint8)
    return out


def _upsampled(level: np.ndarray, full: tuple[int, int], rect: tuple[int, int, int, int]) -> np.ndarray:
    """A pyramid level resized bilinearly to the `full` (h, w) size, but only over rect (y0, y1, x0, x1), float32."""
    y0, y1, x0, x1 = rect
    sy, sx = level.shape[0] / full[0], level.shape[1] / full[1]
    matrix = np.array([[sx, 0.0, (x0 + 0.5) * sx - 0.5], [0.0, sy, (y0 + 0.5) * sy - 0.5]])
    return cv2.warpAffine(level, matrix, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE).astype(np.float32)  # as cv2.resize: half a coarse pixel at most


def sample_affine(source: SourceImage, out_to_portrait: np.ndarray, out_shape: tuple[int, int]) -> np.ndarray:
    """The output (H, W, 3) uint8 whose pixels map by `out_to_portrait` (2, 3) into the portrait: one bicubic pass."""
    to_image = source.affine_from(out_to_portrait)
    height, width = out_shape
    return cv2.warpAffine(source.image, to_image, (width, height), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT_101)
