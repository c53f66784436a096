"""The mouth interior for the training-free decoder: a real mouth, fitted to the driving lips.

Where the lips part wider than the portrait's own interior reaches (the occlusion map), the
source has no content. A real interior (`frond.decoder.interiors`: teeth, tongue and the dark of a
real open mouth, coloured like the portrait) is fitted to the driving inner-lip contour, in the
face's own frame (the eye line, the inter-ocular distance), column by column:

- across the mouth, the middle keeps its size (teeth do not stretch when the mouth narrows or
  widens); towards the corners the entry's corners (a little inside them) are fitted to the driving ones;
- down each column, three layers: the upper teeth move rigidly with the middle of the upper lip (the
  head), the lower band (lower teeth, the tip of the tongue) rigidly with the middle of the lower lip
  (the jaw), each at its own size; what lies between (the dark of the mouth, the tongue) stretches or
  squeezes to fill the gap. A mouth opening less than the entry's shows the upper teeth first (the
  lower band slides behind them). Where a driving lip rises above the entry's, its layer slides with
  it; where the layers reach past the entry's interior (a mouth rounder than the entry's), they
  keep sampling a little inside it, never the entry's own lips;
- the sides fall into the cheeks' shadow, and lips closer than a hair (SLIT) touch: no interior.

The interior is resampled once per portrait to the output's scale, through the portrait's own detail
(a small portrait enlarged is soft: so is its interior), so each frame costs one bilinear remap of the
mouth's box and a light blur.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..face.ibug import eye_centres, inter_ocular, lip_curve, mouth_box
from .interiors import Interior, MouthTones, choose, load_bank, match_colours

UPPER = [0, 1, 2, 3, 4]  # the upper inner lip, corner to corner, in the 8-point inner contour (iBUG 60-64)
LOWER = [0, 7, 6, 5, 4]  # the lower inner lip (60, 67, 66, 65, 64)
KEEP_SIZE = 0.5  # the middle this share of the narrower half-width keeps its size across the mouth
CORNER_INSET = 0.85  # the driving corners sample the entry this far out towards its corners (its last columns are lip)
SOFTEN = 0.005  # inter-ocular distances of blur on the fitted interior (its squeezed rows would draw hard lines)
EDGE_MARGIN = 0.015  # inter-ocular distances: the layers sample at least this far inside the entry's interior
SLIT = (0.01, 0.04)  # inter-ocular distances: where the driving lips are closer than the first, they touch (no interior
# is drawn: the field's lips show); the interior comes in fully at the second
SIDE_SHADE = (0.35, 0.3)  # from this share of the half-width out, the sides of the mouth fall into the cheeks' shadow,
# down to this much of the light at the corners (the buccal corridor; it also hides the entry's corners)


def face_axes(keypoints_px: np.ndarray) -> tuple[np.ndarray, float]:
    """keypoints_px (68, 2) -> the rotation (2, 2) from image offsets to the face's frame (rows: along the
    eye line, down the face) and the inter-ocular distance in px."""
    left, right = eye_centres(keypoints_px)
    iod = float(max(inter_ocular(keypoints_px), 1e-6))
    along = (right - left) / iod
    return np.array([[along[0], along[1]], [-along[1], along[0]]]), iod


def resized(image: np.ndarray, scale: float) -> np.ndarray:
    """image (h, w, 3) scaled by `scale`: area-filtered when smaller, bicubic when larger."""
    size = (max(2, int(round(image.shape[1] * scale))), max(2, int(round(image.shape[0] * scale))))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


class MouthInterior:
    """A real interior chosen and coloured for one portrait, drawn into its frames (see the module docstring)."""

    def __init__(self, tones: MouthTones, out_iod_px: float, entry: Interior | None = None,
                 source_iod_px: float | None = None) -> None:
        """tones: the portrait's colours around the mouth; out_iod_px: its inter-ocular distance in output px;
        source_iod_px: in the portrait's own pixels (a small portrait is blurred when enlarged: so is the interior)."""
        self.entry = entry if entry is not None else choose(load_bank(), tones)
        coloured = match_colours(self.entry, tones)
        detail = coloured
        if source_iod_px is not None and source_iod_px < self.entry.px_per_iod:  # down to the portrait's own detail
            detail = resized(coloured, source_iod_px / self.entry.px_per_iod)
        self.texture = resized(detail, out_iod_px * coloured.shape[1] / (self.entry.px_per_iod * detail.shape[1]))
        zoom = self.texture.shape[1] / coloured.shape[1]  # entry px -> texture px
        self.px_per_iod = self.entry.px_per_iod * zoom  # texture px per inter-ocular distance
        inner = self.entry.inner.astype(np.float64)
        self.centre = (inner[0] + inner[4]) / 2 * zoom  # texture px
        contour = (inner - (inner[0] + inner[4]) / 2) / self.entry.px_per_iod  # inter-ocular distances, the entry's frame
        self.upper, self.lower = contour[UPPER], contour[LOWER]
        self.corners = (contour[0, 0], contour[4, 0])
        self.centre_gap = max(float(lip_curve(self.lower, np.zeros(1))[0] - lip_curve(self.upper, np.zeros(1))[0]), 1e-3)
        bands = np.array(self.entry.bands)
        self.bands = bands * min(1.0, 0.9 * self.centre_gap / bands.sum())  # they never overlap in the entry

    def sample_points(self, u: np.ndarray, v: np.ndarray, driving: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where each point (u, v) (inter-ocular distances in the driving mouth's frame, any shape) samples the
        interior, given the driving inner contour (8, 2) in the same frame -> the entry's (u, v), same shape, and
        the driving gap (inter-ocular distances) of each point's column. The three layers are described in the
        module docstring.
        """
        half = KEEP_SIZE * min(-driving[0, 0], driving[4, 0], -self.corners[0], self.corners[1])
        half = max(half, 1e-3)
        knots_d = np.array([min(driving[0, 0], -half - 1e-3), -half, half, max(driving[4, 0], half + 1e-3)])
        knots_s = np.array([min(CORNER_INSET * self.corners[0], -half - 1e-3), -half, half,
                            max(CORNER_INSET * self.corners[1], half + 1e-3)])
        us = np.interp(u, knots_d, knots_s)
        gap_d = np.maximum(lip_curve(driving[LOWER], u) - lip_curve(driving[UPPER], u), 0.0)
        upper_s, lower_s = lip_curve(self.upper, us), lip_curve(self.lower, us)
        share = np.maximum(lower_s - upper_s, 0.0) / self.centre_gap  # the bands follow the entry's lips towards the corners
        teeth_end = upper_s + self.bands[0] * share ** 2  # entry rows: where the upper teeth end (shorter towards the
        band_start = lower_s - self.bands[1] * share ** 2  # corners, as the arch recedes) and the lower band begins
        # driving -> entry rows. Each layer moves rigidly with the middle of its lip; where the driving lip
        # rises above that, the layer slides along (the lip never uncovers what lies above the entry's lip)
        centre = np.zeros(1)
        rigid_upper = lip_curve(self.upper, centre)[0] - lip_curve(driving[UPPER], centre)[0]
        rigid_lower = lip_curve(self.lower, centre)[0] - lip_curve(driving[LOWER], centre)[0]
        to_upper = np.maximum(rigid_upper, upper_s - lip_curve(driving[UPPER], u))
        to_lower = np.minimum(rigid_lower, lower_s - lip_curve(driving[LOWER], u))
        teeth_end_d, band_start_d = teeth_end - to_upper, band_start - to_lower  # the same, in driving rows
        between = (v - teeth_end_d) / np.maximum(band_start_d - teeth_end_d, 1e-6)
        vs = np.where(v <= teeth_end_d, v + to_upper,
                      np.where(v >= band_start_d, v + to_lower, teeth_end + between * (band_start - teeth_end)))
        margin = np.minimum(EDGE_MARGIN, 0.25 * np.maximum(lower_s - upper_s, 0.0))  # never the entry's own lips
        return us, np.clip(vs, upper_s + margin, lower_s - margin), gap_d

    def draw(self, frame: np.ndarray, occlusion: np.ndarray, keypoints_px: np.ndarray) -> None:
        """Blend the interior into frame (H, W, 3) uint8 where occlusion (H, W) > 0, in place; keypoints_px (68, 2)
        the driving keypoints in the frame's pixels."""
        axes, iod = face_axes(keypoints_px)
        by0, by1, bx0, bx1 = mouth_box(keypoints_px, iod, frame.shape)
        ys, xs = np.nonzero(occlusion[by0:by1, bx0:bx1] > 0.01)
        if ys.size == 0:
            return
        y0, y1, x0, x1 = by0 + ys.min(), by0 + ys.max() + 1, bx0 + xs.min(), bx0 + xs.max() + 1
        origin = (keypoints_px[60] + keypoints_px[64]) / 2
        driving = (keypoints_px[60:68] - origin) @ axes.T / iod
        gx, gy = np.meshgrid(np.arange(x0, x1, dtype=np.float32) - origin[0], np.arange(y0, y1, dtype=np.float32) - origin[1])
        u = (axes[0, 0] * gx + axes[0, 1] * gy) / iod
        v = (axes[1, 0] * gx + axes[1, 1] * gy) / iod
        us, vs, gap = self.sample_points(u, v, driving)
        map_x = (self.centre[0] + us * self.px_per_iod).astype(np.float32)
        map_y = (self.centre[1] + vs * self.px_per_iod).astype(np.float32)
        colour = cv2.remap(self.texture, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        side = np.clip((np.abs(u) / np.where(u < 0, -driving[0, 0], driving[4, 0]).clip(1e-3) - SIDE_SHADE[0])
                       / (1.0 - SIDE_SHADE[0]), 0.0, 1.0)
        shade = 1.0 - (1.0 - SIDE_SHADE[1]) * side * side * (3.0 - 2.0 * side)  # smoothstep
        colour = colour.astype(np.float32) * shade[..., None]
        colour = cv2.GaussianBlur(colour, (0, 0), max(0.5, SOFTEN * iod))  # as soft as lit, wet surfaces seen through lips
        alpha = occlusion[y0:y1, x0:x1, None] * np.clip((gap[..., None] - SLIT[0]) / (SLIT[1] - SLIT[0]), 0.0, 1.0)
        roi = frame[y0:y1, x0:x1].astype(np.float32)
        frame[y0:y1, x0:x1] = np.clip(roi + alpha * (colour - roi) + 0.5, 0, 255).astype(np.uint8)
