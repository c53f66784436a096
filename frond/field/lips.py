"""Lips that close through the field: the backward map splits where the lips meet.

A thin-plate spline is smooth and cannot fold. One spline that closes parted lips must
squeeze the portrait's mouth gap into a line, and along that line it samples the middle
of the gap (teeth or a dark smear between closed lips). So around the mouth the map is
split along the line where the driving lips meet (the midline of the inner lips):

- above the line, the *upper* spline: its lower inner-lip controls move with the upper lip,
  so the upper lip and the part of the interior that hangs under it (upper teeth) keep
  their shape;
- below the line, the *lower* spline: the upper inner-lip controls move with the lower lip.

Both splines share their control points, so one solve gives both (their values differ
around the lips only). Closing the lips moves the upper lip's pixels down and the lower
lip's up until the gap is gone; they meet a little inside their edges, as pressed lips do
(`closed_edges`). An opening mouth shows the portrait's own interior, its teeth included,
as far as the portrait has one (where its gap is a sliver, a dark line or the edges of teeth, it
does not count once the lips open past it, `past_own_gap`: stretched, it would draw dark spikes); the decoder
shades its middle by the depth of the opening (`hollow_depth`) as the gap departs from the portrait's own, and
draws a thin shadow where closed lips meet (`contact_seam`). Driven by its own keypoints, the mouth is the
portrait's, unchanged (reenactment's first frame, and a driver back at rest). Where the
mouth opens wider than the portrait's, the occlusion map asks the decoder for new content.
Parted lips come with a lowered jaw: where the driving lips close the portrait's gap and the
driving chin does not rise with them, the chin is raised (`raise_jaw`).
"""
from __future__ import annotations

import numpy as np

from ..face.ibug import face_frame, inter_ocular, lip_curve
from ..types import MouthSplit, upsample_lattice

UPPER_INNER = [61, 62, 63]
LOWER_INNER = [67, 66, 65]  # each below the UPPER_INNER point in the same position
UPPER_OUTER = [50, 51, 52]  # the outer edge of the lip above each UPPER_INNER point
LOWER_OUTER = [58, 57, 56]  # ... and below each LOWER_INNER point
CORNERS = ((60, 49, 59, 0), (64, 53, 55, 2))  # inner corner, the lip points above and below it, the nearest inner pair
TRIM = 0.3  # closed lips hide this much of each lip's thickness next to the gap (they press and roll in)
CORNER_TRIM = 0.6  # ... and at the corners, of the span to the lip points beside them (the dark wedge there)
MAX_LIP_STRETCH = 1.0  # a lip is drawn at most this much thicker than the portrait's: the skin beyond it stretches
MAX_LOWER_RATIO = 1.3  # a lower lip thicker than this many upper lips has its inner points on the tongue or teeth
JAW_PER_GAP = 0.8  # of the portrait's lip gap that closes, this share is the jaw's to close (the lips do the rest)
JAW_POINTS = (([7, 8, 9], 1.0), ([6, 10], 0.8), ([5, 11], 0.5), ([4, 12], 0.2))  # the chin's points and their shares
OWN_INTERIOR = (0.05, 0.09)  # inter-ocular distances: where the portrait's gap is narrower than the first, its interior
# is a sliver (a dark line, the edges of teeth) that stretched would draw dark spikes: a real interior replaces it;
# from the second on the portrait's own is used
INTERIOR_PAST = 0.04  # inter-ocular distances: a gap too thin to stretch (a sliver, a dark line) is the portrait's own
# while the driving lips open no wider than it (a mouth at rest or closing shows what the portrait shows); a real interior
# takes its place as they open past it, fully this much past it (reenactment of the shared clips: 0.02 left the least
# moving speaker's mouth under its still frame, 0.07 cost the audio-driven mouth's r 0.005 more than 0.04)
HOLLOW_DEPARTS = 0.015  # inter-ocular distances: the shade of the opening's middle comes in as the gap departs from the
# portrait's own (narrower or wider), fully this far from it (a landmark's jitter): at its own gap the portrait shows its
# own mouth, as it is


def closed_edges(source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the lips' edges sit once they close: source (68, 2) -> upper and lower inner edges (3, 2) each.

    Landmarks put the inner lip points of an open mouth on whatever bounds the gap: often the
    teeth, or the tongue in front of the lower lip. Closing at those points would bring that
    content to the line where the lips meet. So the closing edges lie a little inside each lip
    (TRIM of its thickness), and a lower lip that looks much thicker than the upper one (its
    inner points on the tongue) is measured from its outer edge instead.
    """
    upper_inner, lower_inner = source[UPPER_INNER], source[LOWER_INNER]
    upper_span = source[UPPER_OUTER] - upper_inner  # pointing out of the mouth, up
    lower_span = source[LOWER_OUTER] - lower_inner  # pointing out of the mouth, down
    upper_thick = np.linalg.norm(upper_span, axis=1, keepdims=True)
    lower_thick = np.linalg.norm(lower_span, axis=1, keepdims=True)
    lower_kept = np.minimum(lower_thick, MAX_LOWER_RATIO * upper_thick) * (1.0 - TRIM)
    upper_edge = upper_inner + TRIM * upper_span
    lower_edge = source[LOWER_OUTER] - lower_span * lower_kept / np.maximum(lower_thick, 1e-9)
    return upper_edge, lower_edge


def split_values(driving: np.ndarray, source: np.ndarray, edges: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The spline values of the two sides: driving, source (68, 2), edges from `closed_edges` -> (68, 4), upper then lower.

    The more the driving lips have closed the portrait's gap, the closer each side's inner
    points sample the closing edge (instead of the landmark). On each side, the other lip's
    points (inner and outer) follow this lip's own stretch, column by column: the side is
    then a smooth continuation of its lip, and a lip that the keypoints make thicker
    stretches evenly instead of being pulled towards the other lip's constraints.
    """
    source_gap = np.linalg.norm(source[LOWER_INNER] - source[UPPER_INNER], axis=1, keepdims=True)
    driving_gap = np.linalg.norm(driving[LOWER_INNER] - driving[UPPER_INNER], axis=1, keepdims=True)
    closure = np.clip(1.0 - driving_gap / np.maximum(source_gap, 1e-9), 0.0, 1.0)
    upper_at = source[UPPER_INNER] + closure * (edges[0] - source[UPPER_INNER])
    lower_at = source[LOWER_INNER] + closure * (edges[1] - source[LOWER_INNER])
    upper, lower = source.copy(), source.copy()
    upper[UPPER_INNER], lower[LOWER_INNER] = upper_at, lower_at
    for corner, above, below, pair in CORNERS:  # the corners close a little inside the lips too
        amount = CORNER_TRIM * closure[pair]
        upper[corner] = source[corner] + amount * (source[above] - source[corner])
        lower[corner] = source[corner] + amount * (source[below] - source[corner])
    for side, at, inner, outer, others in ((upper, upper_at, UPPER_INNER, UPPER_OUTER, (LOWER_INNER, LOWER_OUTER)),
                                           (lower, lower_at, LOWER_INNER, LOWER_OUTER, (UPPER_INNER, UPPER_OUTER))):
        # a lip the keypoints make much thicker than the portrait's stretches at most MAX_LIP_STRETCH:
        # the rest comes from the skin beyond its outer edge (a stretched lip reads as a gap)
        span = driving[outer, 1] - driving[inner, 1]
        thickness = source[outer, 1] - at[:, 1]
        excess = np.abs(span) / np.maximum(MAX_LIP_STRETCH * np.abs(thickness), 1e-9)
        side[outer] = at + (source[outer] - at) * np.maximum(excess, 1.0)[:, None]
        # this lip's vertical stretch per column (source span over driving span), then the other lip follows it
        stretch = (side[outer, 1] - at[:, 1]) / np.where(np.abs(span) > 1e-6, span, 1e-6)
        stretch = np.clip(stretch, 0.25, 4.0)[:, None]
        for points in others:
            offset = driving[points] - driving[inner]
            side[points] = at + offset * np.concatenate([np.ones_like(stretch), stretch], axis=1)
    return np.concatenate([upper, lower], axis=1)


def raise_jaw(driving: np.ndarray, source: np.ndarray) -> np.ndarray:
    """driving, source (68, 2) -> driving with the chin raised where its lips close the portrait's gap further than
    its jaw does: a portrait's parted lips come with a lowered jaw, and closed lips with the jaw still down read
    as parted. The jaw rises JAW_PER_GAP of the gap closed, less what the driving chin rose already (so motion
    that raises the jaw itself gets nothing added), never more than that share; lips that open get nothing."""
    origin, axes, iod = face_frame(source)
    local_src = (source - origin) @ axes.T / iod
    local_drv = (driving - origin) @ axes.T / iod
    closed = max(0.0, (local_src[66, 1] - local_src[62, 1]) - (local_drv[66, 1] - local_drv[62, 1]))
    chin = lambda k: k[8, 1] - k[33, 1]  # noqa: E731  (nose to chin)
    target = JAW_PER_GAP * closed
    missing = min(target - (chin(local_src) - chin(local_drv)), target)  # never more than the closing asks
    if missing <= 0:
        return driving
    local_drv = local_drv.copy()
    for points, share in JAW_POINTS:
        local_drv[points, 1] -= share * missing
    return (local_drv * iod) @ axes + origin


def gap_departure(driving: np.ndarray, own_gap: float) -> float:
    """The driving lips' widest inner gap (68, 2) less the portrait's own `own_gap`, both in inter-ocular distances:
    0 at the portrait's own mouth, negative closing, positive opening past it."""
    return inner_gap(driving) / max(float(inter_ocular(driving)), 1e-9) - own_gap


def past_own_gap(departure: float) -> float:
    """A `gap_departure` -> in [0, 1]: 0 while the lips open no wider than the portrait's, 1 from INTERIOR_PAST past
    it. A gap too thin to stretch gives way to a real interior by it."""
    return float(np.clip(departure / INTERIOR_PAST, 0.0, 1.0))


def midline(keypoints: np.ndarray) -> np.ndarray:
    """keypoints (68, 2) -> (5, 2): the line where the lips meet (or would meet), corner to corner, sorted by x."""
    mids = (keypoints[UPPER_INNER] + keypoints[LOWER_INNER]) / 2
    line = np.stack([keypoints[60], mids[0], mids[1], mids[2], keypoints[64]])
    return line[np.argsort(line[:, 0])]


def inner_gap(keypoints: np.ndarray) -> float:
    """The widest inner-lip gap (68, 2) -> in the keypoints' units."""
    return float(np.max(np.linalg.norm(keypoints[LOWER_INNER] - keypoints[UPPER_INNER], axis=1)))


def contact_seam(xs: np.ndarray, ys: np.ndarray, driving_px: np.ndarray, closed: np.ndarray, width: float) -> np.ndarray:
    """The thin shadow where the driving lips (68, 2) output px have closed the portrait's gap, in [0, 1],
    over pixels xs, ys (output px, broadcasting to (h, w)).

    closed (5,): how many px of the portrait's own gap the driving lips have closed at the
    corners and the three inner-lip pairs (from corner 60 to corner 64). The shadow follows
    the line where the lips meet, `width` px wide, and fades where they part or where the
    portrait's lips met already (there, the portrait's own seam shows).
    """
    upper = lip_curve(driving_px[[60, 61, 62, 63, 64]], xs)
    lower = lip_curve(driving_px[[60, 67, 66, 65, 64]], xs)
    closing = np.interp(_position(xs, driving_px), np.arange(5.0), closed)
    pressed = np.clip(1.0 - (lower - upper) / (2.0 * width), 0.0, 1.0) * np.clip(closing / (2.0 * width), 0.0, 1.0)
    return (pressed * np.exp(-((ys - (upper + lower) / 2) / width) ** 2)).astype(np.float32)


def hollow_depth(xs: np.ndarray, ys: np.ndarray, driving_px: np.ndarray, width: float) -> np.ndarray:
    """How deep into the mouth each pixel (xs, ys: output px, broadcasting to (h, w)) looks, in [0, 1]:
    0 at the driving lips (68, 2), rising towards the middle of the opening as it widens past a few `width` px. The
    decoder shades the portrait's own interior by it, so the shade follows the opening (a gap cut
    down from the portrait's keeps its brightest parts, the teeth, and would read as closed)."""
    upper = lip_curve(driving_px[[60, 61, 62, 63, 64]], xs)
    lower = lip_curve(driving_px[[60, 67, 66, 65, 64]], xs)
    gap = np.maximum(lower - upper, 1e-3)
    middle = np.clip(1.0 - np.abs(2.0 * (ys - upper) / gap - 1.0), 0.0, 1.0)
    return (middle * np.clip(gap / (4.0 * width), 0.0, 1.0) * (ys > upper) * (ys < lower)).astype(np.float32)


def _position(xs: np.ndarray, driving_px: np.ndarray) -> np.ndarray:
    """Where each x lies along the mouth, 0 at corner 60, 2 at the middle pair, 4 at corner 64."""
    along = driving_px[[60, 62, 64], 0]
    return np.interp(xs, np.sort(along), [0.0, 2.0, 4.0] if along[0] <= along[2] else [4.0, 2.0, 0.0])


def upper_side_weight(xs: np.ndarray, ys: np.ndarray, line: np.ndarray) -> np.ndarray:
    """How much of each pixel (xs, ys: output px, broadcasting to (h, w)) lies above `line` (5, 2) output px, in [0, 1].

    Between the mouth corners the line is sharp (one pixel of antialiasing); beyond them the
    two sides agree more and more, and the change widens so that no seam shows.
    """
    below = ys - lip_curve(line, xs)
    beyond = np.maximum(np.maximum(line[0, 0] - xs, xs - line[-1, 0]), 0.0)
    width = 1.0 + beyond
    return np.clip(0.5 - below / width, 0.0, 1.0).astype(np.float32)


def edge_ramp(height: int, width: int, margin: float) -> np.ndarray:
    """(height, width) float32: 0 on the box's edge, rising to 1 `margin` px inside."""
    ry = np.minimum(np.arange(height), np.arange(height)[::-1]) / max(margin, 1.0)
    rx = np.minimum(np.arange(width), np.arange(width)[::-1]) / max(margin, 1.0)
    return np.clip(np.minimum(ry[:, None], rx[None, :]), 0.0, 1.0).astype(np.float32)


class LipSplit:
    """Builds the `MouthSplit` of each frame for one source portrait (see the module docstring)."""

    def __init__(self, source_keypoints: np.ndarray, out_to_norm: np.ndarray, px_per_norm: float) -> None:
        source = source_keypoints.astype(np.float64)
        self.source = source
        self.edges = closed_edges(source)
        self.source_line = midline(source)  # the middle of the portrait's own interior, normalised crop space
        self.source_upper, self.source_lower = source[[60, 61, 62, 63, 64]], source[[60, 67, 66, 65, 64]]
        self.iod = float(inter_ocular(source))
        self.out_to_norm = out_to_norm
        self.px_per_norm = px_per_norm
        self.cell = max(3, int(round(px_per_norm / 42.0)))  # lattice of the two splines inside the box (px)

    def values(self, driving: np.ndarray) -> np.ndarray:
        """driving (68, 2) -> (68, 4) the two sides' spline values (`split_values`)."""
        return split_values(driving, self.source, self.edges)

    def lattice(self, box: tuple[int, int, int, int]) -> tuple[np.ndarray, tuple[int, int]]:
        """The box's lattice points in normalised crop space (P, 2) and the lattice's (rows, cols)."""
        y0, y1, x0, x1 = box
        cell = pad = self.cell
        rows, cols = int(np.ceil((y1 - y0 + 2 * pad) / cell)), int(np.ceil((x1 - x0 + 2 * pad) / cell))
        ys = y0 + (np.arange(rows) + 0.5) * cell - 0.5 - pad
        xs = x0 + (np.arange(cols) + 0.5) * cell - 0.5 - pad
        gx, gy = np.meshgrid(xs, ys)
        points = np.stack([gx.ravel(), gy.ravel()], 1) @ self.out_to_norm[:, :2].T + self.out_to_norm[:, 2]
        return points, (rows, cols)

    def build(self, box: tuple[int, int, int, int], maps: np.ndarray, driving_px: np.ndarray,
              inner: np.ndarray, departure: float) -> tuple[MouthSplit, np.ndarray]:
        """One frame's split and the occlusion inside its box.

        box (y0, y1, x0, x1) output px; maps (rows, cols, 6) on `lattice(box)`: the smooth map, the
        upper side's and the lower side's (normalised crop space); driving_px (68, 2) the driving
        keypoints in output px; inner (h, w) the driving inner-lip area in the box, in [0, 1]; departure
        the driving gap less the portrait's own (`gap_departure`).
        Returns the split and the occlusion (h, w): the inner-lip area where the chosen side's
        sample falls outside the portrait's own interior on that side of its lips (or in a sliver
        of a gap that the lips open past, `past_own_gap`).
        """
        y0, y1, x0, x1 = box
        dense = upsample_lattice(maps, (self.cell, self.cell), (y1 - y0, x1 - x0))
        smooth, upper, lower = dense[..., 0:2], dense[..., 2:4], dense[..., 4:6]
        ramp = edge_ramp(y1 - y0, x1 - x0, 0.25 * min(y1 - y0, x1 - x0))[..., None]
        upper = np.ascontiguousarray(smooth + ramp * (upper - smooth), dtype=np.float32)
        lower = np.ascontiguousarray(smooth + ramp * (lower - smooth), dtype=np.float32)
        gx, gy = np.arange(x0, x1, dtype=np.float64)[None, :], np.arange(y0, y1, dtype=np.float64)[:, None]  # broadcast
        weight = upper_side_weight(gx, gy, midline(driving_px))
        # inside the opening: which side of the portrait's own lips each sample lands on (positive: below its midline)
        lacking = np.zeros_like(inner)
        rows, cols = np.nonzero(inner > 0)
        if rows.size:
            r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
            w = weight[r0:r1, c0:c1]
            chosen = np.where(w[..., None] >= 0.5, upper[r0:r1, c0:c1], lower[r0:r1, c0:c1])
            below = (chosen[..., 1] - lip_curve(self.source_line, chosen[..., 0])) * self.px_per_norm
            outside = w * np.clip(below - 0.5, 0, 1) + (1.0 - w) * np.clip(-0.5 - below, 0, 1)  # half a pixel of slack
            gap = lip_curve(self.source_lower, chosen[..., 0]) - lip_curve(self.source_upper, chosen[..., 0])
            sliver = np.clip((OWN_INTERIOR[1] - gap / self.iod) / (OWN_INTERIOR[1] - OWN_INTERIOR[0]), 0, 1) \
                * past_own_gap(departure)
            lacking[r0:r1, c0:c1] = inner[r0:r1, c0:c1] * np.maximum(outside, sliver)
        gaps = lambda kp: np.r_[0.0, np.linalg.norm(kp[LOWER_INNER] - kp[UPPER_INNER], axis=1), 0.0]  # noqa: E731
        closed = np.clip(gaps(self.source) * self.px_per_norm - gaps(driving_px), 0.0, None)
        width = max(0.6, 0.005 * self.px_per_norm)
        seam = contact_seam(gx, gy, driving_px, closed, width)
        hollow = hollow_depth(gx, gy, driving_px, width) * inner * float(np.clip(abs(departure) / HOLLOW_DEPARTS, 0.0, 1.0))
        return MouthSplit(box=box, upper=upper, lower=lower, weight=weight, seam=seam, hollow=hollow), lacking
