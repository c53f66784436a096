"""The training-free dense motion field (FROND stage 3 without weights; docs/DESIGN.md).

Local keypoint motion and the head's global motion are fused into one backward map
by a thin-plate spline through three kinds of control points:

- the 68 keypoints (driving position -> source position): the local motion;
- virtual head points over the hair and below the chin, moved rigidly by the head pose
  (the neck by part of it): the global motion;
- static anchors on the crop border: the background stays put.

The spline is evaluated on a coarse grid and upsampled bilinearly (it is smooth, so
this is exact to a fraction of a pixel), so the field is defined at any resolution.
Motion fades out towards the portrait's own edge, so the output samples the picture,
not what lies beyond it: over a band at least EDGE_FADE_RATIO times as wide as the motion
it fades, so that the fade itself never folds the map (a large head turn near the edge
fades over a wider band). The ring's fade is wide for the same reason, and the neck just
below the chin turns with the head (the twist spreads down to the shoulders): head turns
of roll +-10 and yaw +-15 degrees leave the neck, the hair and the background whole. Where the portrait's lips are parted, the map splits along the
line where the driving lips meet (`frond.field.lips`): the lips close by moving their
pixels. The occlusion map marks the driving inner-lip area that the portrait has no
content for.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..face.head import HeadGeometry
from ..face.ibug import INNER_LIPS, LID_TRAVEL, eye_openness, inter_ocular, mouth_box
from ..imaging import affine_scale, apply_affine, invert_affine
from ..stages import PriorStage
from ..types import AlignedFace, FieldFrame, MouthSplit, OutputSpace, SourceEncoding
from .lips import LipSplit, gap_departure, inner_gap, past_own_gap, raise_jaw
from .tps import batched_kernel, solve_batch

NECK_FOLLOWS = 1.0  # share of the head's pose (turn and shift) the neck just below the chin follows
RING_FADE = (0.7, 1.12)  # radii of the static ring (1: the ring) between which the motion fades out
RING_MIN_WIDTH = 2.4  # inter-ocular distances: the ring's horizontal radius at least (a face in profile is narrow)
EDGE_FADE_RATIO = 2.5  # the fade at the picture's edge is at least this many times as wide as the motion it fades
EDGE_FADE_MAX = 0.4  # normalised units: the widest that fade gets


def _catmull_rom_basis(steps: int) -> np.ndarray:
    """(steps, 4) weights of a uniform Catmull-Rom segment at `steps` positions in [0, 1)."""
    u = np.arange(steps)[:, None] / steps
    return 0.5 * np.hstack([-u ** 3 + 2 * u ** 2 - u, 3 * u ** 3 - 5 * u ** 2 + 2, -3 * u ** 3 + 4 * u ** 2 + u, u ** 3 - u ** 2])


_CR6 = _catmull_rom_basis(6)


def smooth_polygon(points: np.ndarray) -> np.ndarray:
    """A closed polygon (N, 2) -> the closed Catmull-Rom curve through its vertices, (6N, 2)."""
    n = len(points)
    idx = (np.arange(n)[:, None] + np.arange(-1, 3)[None, :]) % n  # (N, 4): previous, this, next, after
    return np.einsum("sk,nkd->nsd", _CR6, points[idx]).reshape(-1, 2)


def inner_mouth_mask(keypoints_px: np.ndarray, height: int, width: int, feather: float) -> np.ndarray:
    """keypoints_px (68, 2) in output pixels -> (H, W) float32 mask of the inner-lip area, feathered."""
    mask = np.zeros((height, width), np.float32)
    polygon = smooth_polygon(keypoints_px[INNER_LIPS].astype(np.float64))
    if cv2.contourArea(polygon.astype(np.float32)) < 1.0:
        return mask
    pad = int(np.ceil(3 * feather)) + 2  # work in the mouth's box only
    x0, y0 = np.maximum(np.floor(polygon.min(0)).astype(int) - pad, 0)
    x1, y1 = np.minimum(np.ceil(polygon.max(0)).astype(int) + pad + 1, (width, height))
    if x1 <= x0 or y1 <= y0:
        return mask
    roi = mask[y0:y1, x0:x1]
    cv2.fillPoly(roi, [np.round((polygon - (x0, y0)) * 16).astype(np.int32)], (1.0,), lineType=cv2.LINE_AA, shift=4)
    if feather > 0:
        roi[:] = cv2.GaussianBlur(roi, (0, 0), feather)
    return mask


def meet_close(controls: np.ndarray, values: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Controls closer than `radius` (closed lips, closed eyelids) meet at their midpoint, with their mean value.

    Coinciding controls with different values would make the spline singular (it would
    fold); met, the lips close and the map compresses what lay between them. The number of
    controls stays the same, so frames solve as one batch (regularisation keeps it regular).
    controls (N, 2), values (N, 2) -> the same, adjusted.
    """
    d2 = ((controls[:, None] - controls[None]) ** 2).sum(-1)
    close = np.argwhere(np.triu(d2 < radius * radius, k=1))
    if close.size == 0:
        return controls, values
    controls, values = controls.copy(), values.copy()
    for i, j in close:
        controls[[i, j]] = (controls[i] + controls[j]) / 2
        values[[i, j]] = (values[i] + values[j]) / 2
    return controls, values


def lid_closure(driving_keypoints: np.ndarray, source_eyes: np.ndarray) -> np.ndarray:
    """How much of each eye the lids must cover beyond what the map closes: (68, 2) driving keypoints and
    the portrait's eye openness (2,) -> (2,) in [0, 1].

    A blink moves the upper lid's keypoints LID_TRAVEL of the way down (`frond.motion.shape`):
    the map narrows the eye that far (closing it would fold the map); past 30 % of that
    travel, the lids are painted over the rest.
    """
    narrowing = 1.0 - eye_openness(driving_keypoints) / np.maximum(source_eyes, 1e-6)
    return np.clip((narrowing - 0.3 * LID_TRAVEL) / (0.7 * LID_TRAVEL), 0.0, 1.0)


class PriorDenseField(PriorStage):
    """Stage 3, training-free: see the module docstring."""

    def __init__(self, spacing: float = 10.0, border_points: int = 9, edge_margin: float = 0.06) -> None:
        self.spacing = spacing  # output pixels between the coarse samples of the spline (then bilinear)
        self.border_points = border_points  # static anchors per crop side
        self.edge_margin = edge_margin  # normalised units inside the portrait's edge over which small motion fades out

    def prepare(self, face: AlignedFace, source: SourceEncoding, space: OutputSpace) -> None:
        kp = source.keypoints.astype(np.float64)
        self.space = space
        self.source = kp
        self.source_eyes = eye_openness(source.keypoints)  # lid gaps, normalised units
        self.geometry = HeadGeometry(kp)
        iod = self.geometry.iod
        centre = np.array([kp[:, 0].mean(), kp[17:27, 1].min()])
        half_width = 0.5 * (kp[:, 0].max() - kp[:, 0].min())
        angles = np.linspace(np.pi * 1.05, np.pi * 1.95, 9)
        hair = np.concatenate([
            centre + np.stack([np.cos(angles) * half_width * r, np.sin(angles) * iod * h], axis=1)
            for r, h in ((1.05, 1.1), (1.3, 1.7))
        ])
        neck = kp[[4, 6, 8, 10, 12]] + np.array([0.0, 0.7 * iod])
        hair = hair[np.abs(hair).max(axis=1) < 0.8]  # too near the static border they would fold the field
        neck = neck[np.abs(neck).max(axis=1) < 0.8]
        self.head_points = hair
        self.neck_points = neck
        self.head_depth = self.geometry.depth(hair) * 0.6
        side = np.linspace(-1.0, 1.0, self.border_points)
        border = np.concatenate([np.stack([side, np.full_like(side, v)], 1) for v in (-1.0, 1.0)]
                                + [np.stack([np.full_like(side[1:-1], v), side[1:-1]], 1) for v in (-1.0, 1.0)]) * 1.02
        # a static ring around head and neck: the background beyond it stays put
        theta = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        ring_centre = np.array([kp[:, 0].mean(), kp[:, 1].mean() - 0.3 * iod])
        ring_radii = np.array([max(half_width * 1.9, RING_MIN_WIDTH * iod), iod * 2.9])
        ring = ring_centre + np.stack([np.cos(theta), np.sin(theta)], axis=1) * ring_radii
        ring = ring[np.abs(ring).max(axis=1) < 0.97]
        self.anchors = np.concatenate([border, ring])
        # the coarse evaluation grid, in output pixels and in normalised crop space
        scale = affine_scale(invert_affine(space.out_to_norm))  # output px per norm unit
        cell = max(4, int(round(self.spacing * max(1.0, scale / 256.0) ** -0.2)))  # a little finer for big crops
        pad = cell  # one cell beyond every edge: resizing never clamps inside the frame
        gh = int(np.ceil((space.height + 2 * pad) / cell))
        gw = int(np.ceil((space.width + 2 * pad) / cell))
        ys = (np.arange(gh) + 0.5) * cell - 0.5 - pad  # cell centres, cv2.resize's convention
        xs = (np.arange(gw) + 0.5) * cell - 0.5 - pad
        gx, gy = np.meshgrid(xs, ys)
        self.grid_shape = (gh, gw)
        self.lattice = (cell, pad)
        self.grid_norm = apply_affine(space.out_to_norm, np.stack([gx.ravel(), gy.ravel()], 1))
        self.norm_to_out = invert_affine(space.out_to_norm)
        # motion support: the displacement fades to exactly 0 just beyond the static ring (background stays put)
        self.ring = (ring_centre, ring_radii)
        self.out_scale = affine_scale(self.norm_to_out)  # output px per norm unit
        self.ring_support = self._ring_support(self.grid_norm).reshape(gh, gw, 1)
        self.edge_room = self._edge_room(self.grid_norm).reshape(gh, gw)
        self.static_kernel = batched_kernel(self.grid_norm.astype(np.float32), self.anchors.astype(np.float32))  # (P, A), fixed
        # parted lips: the map splits where the driving lips meet (worth it once the gap spans a pixel)
        visible = max(2.0, 0.02 * iod * self.out_scale)  # output px: a narrower gap closes well enough in one smooth map
        gap = inner_gap(kp)
        self.lips = LipSplit(kp, space.out_to_norm, self.out_scale) if gap * self.out_scale > visible else None
        self.own_gap = gap / iod  # the portrait's widest inner-lip gap, inter-ocular distances

    def _ring_support(self, points: np.ndarray) -> np.ndarray:
        """(P, 2) normalised -> (P,) float32: 1 where the field moves freely, falling to 0 towards the static ring."""
        centre, radii = self.ring
        radius = np.sqrt((((points - centre) / radii) ** 2).sum(1))
        return np.clip((RING_FADE[1] - radius) / (RING_FADE[1] - RING_FADE[0]), 0.0, 1.0).astype(np.float32)

    def _edge_room(self, points: np.ndarray) -> np.ndarray:
        """(P, 2) normalised -> (P,) float32: normalised distance to the portrait's own edge, less one lattice cell
        (the bilinear lattice reaches that far): where the motion has faded out at 0 and below."""
        px_per_norm = affine_scale(self.space.norm_to_source)
        cell = self.lattice[0] / self.out_scale  # one lattice cell, normalised
        return (self._edge_distance(points.astype(np.float32)) / px_per_norm - cell).astype(np.float32)

    def _edge_fade(self, displacement: np.ndarray) -> float:
        """One frame's displacement (gh, gw, 2) over the lattice (normalised) -> the width (normalised) of the band
        inside the portrait's edge over which it fades out: `edge_margin`, or EDGE_FADE_RATIO times the largest
        motion near the edge, up to EDGE_FADE_MAX."""
        near = self.edge_room < EDGE_FADE_MAX
        largest = float(np.sqrt((displacement[near] ** 2).sum(-1)).max()) if near.any() else 0.0
        return min(max(self.edge_margin, EDGE_FADE_RATIO * largest), EDGE_FADE_MAX)

    def _support(self, points: np.ndarray, fade: float) -> np.ndarray:
        """(P, 2) normalised -> (P,) float32: 1 where the field moves freely, falling to 0 beyond the
        static ring and over `fade` (normalised) at the portrait's own edge (the output never drags in what
        lies beyond it)."""
        return self._ring_support(points) * np.clip(self._edge_room(points) / fade, 0.0, 1.0)

    def _edge_distance(self, points: np.ndarray) -> np.ndarray:
        """(..., 2) normalised -> (...) source pixels to the portrait's nearest edge (negative outside)."""
        px = points @ self.space.norm_to_source[:, :2].T.astype(np.float32) + self.space.norm_to_source[:, 2].astype(np.float32)
        height, width = self.space.source.shape[:2]
        return np.minimum(np.minimum(px[..., 0] + 0.5, width - 0.5 - px[..., 0]),
                          np.minimum(px[..., 1] + 0.5, height - 0.5 - px[..., 1]))

    def _keep_inside(self, maps: np.ndarray, identity: np.ndarray) -> np.ndarray:
        """Shorten, in place, the motion of points inside the portrait whose sample would leave it: they stop
        at its edge. maps, identity (..., 2) normalised. (The edge distance is concave along the way, so the
        point found by linear interpolation is inside.)"""
        start, end = self._edge_distance(identity), self._edge_distance(maps)
        leaving = (start >= 0) & (end < 0)
        if leaving.any():
            t = (start / np.maximum(start - end, 1e-9))[..., None]
            maps[:] = np.where(leaving[..., None], identity + (maps - identity) * t, maps)
        return maps

    def frames(self, driving_keypoints: np.ndarray, head_poses: np.ndarray) -> list[FieldFrame]:
        """Batched: driving_keypoints (T, 68, 2), head_poses (T, 5) (`frond.face.head`) -> T fields (one solve for all).

        Where the portrait's lips are parted, each spline carries six value columns: the smooth map,
        then the upper and lower sides of the lips (`frond.field.lips`), all from one solve.
        """
        drv = driving_keypoints.astype(np.float64)
        maps = 1 if self.lips is None else 3  # value columns: the smooth map (+ the lips' two sides)
        moving, values = [], []
        if self.lips is not None:  # closing parted lips closes the jaw that parted them
            drv = np.stack([raise_jaw(kp, self.source) for kp in drv])
        for kp, pose in zip(drv, head_poses):
            face_values = self.source if self.lips is None else np.concatenate([self.source, self.lips.values(kp)], axis=1)
            face, face_values = meet_close(kp, face_values, 0.004)  # closed lips (and anything else that meets)
            head = self.geometry.rotate(self.head_points, pose, self.head_depth)
            neck = self.geometry.rotate(self.neck_points, np.asarray(pose) * NECK_FOLLOWS)
            moving.append(np.concatenate([face, head, neck]))
            values.append(np.concatenate([face_values, np.tile(self.head_points, maps), np.tile(self.neck_points, maps)]))
        moving, values = np.stack(moving), np.stack(values)
        t, m = moving.shape[:2]
        anchors = np.broadcast_to(self.anchors, (t, *self.anchors.shape))
        weights, affine = solve_batch(np.concatenate([moving, anchors], 1),
                                      np.concatenate([values, np.tile(anchors, maps)], 1))
        weights, affine = weights.astype(np.float32), affine.astype(np.float32)
        grid = self.grid_norm.astype(np.float32)
        coarse = (batched_kernel(grid[None], moving.astype(np.float32)) @ weights[:, :m, :2]
                  + self.static_kernel @ weights[:, m:, :2] + affine[:, :1, :2] + grid[None] @ affine[:, 1:, :2])
        identity = grid.reshape(*self.grid_shape, 2)
        displacement = (coarse.reshape(t, *self.grid_shape, 2) - identity) * self.ring_support
        fades = [self._edge_fade(d) for d in displacement]
        coarse = identity + displacement * np.stack([np.clip(self.edge_room / f, 0.0, 1.0) for f in fades])[..., None]
        self._keep_inside(coarse, identity)
        feather = max(0.6, 0.004 * self.out_scale)
        out = []
        for i, kp in enumerate(drv):
            kp_px = apply_affine(self.norm_to_out, kp)
            occlusion = inner_mouth_mask(kp_px, self.space.height, self.space.width, feather)
            departure = gap_departure(kp, self.own_gap)
            split = None
            if self.lips is None:  # the portrait's own gap is a line: new content only as the lips open past it
                occlusion *= past_own_gap(departure)
            else:
                split = self._split(kp_px, moving[i], weights[i], affine[i], occlusion, fades[i], departure)
            out.append(FieldFrame(grid=None, coarse=np.ascontiguousarray(coarse[i], dtype=np.float32),
                                  lattice=self.lattice, occlusion=occlusion, mouth=split,
                                  lids=lid_closure(driving_keypoints[i], self.source_eyes)))
        return out

    def _split(self, kp_px: np.ndarray, moving: np.ndarray, weights: np.ndarray, affine: np.ndarray,
               occlusion: np.ndarray, fade: float, departure: float) -> MouthSplit | None:
        """One frame's `MouthSplit` (departure: `gap_departure`); narrows `occlusion` (H, W), in place, to what the
        portrait lacks."""
        assert self.lips is not None
        box = mouth_box(kp_px, float(inter_ocular(kp_px)), occlusion.shape)
        y0, y1, x0, x1 = box
        if y1 - y0 < 4 or x1 - x0 < 4:
            return None
        points, shape = self.lips.lattice(box)
        points = points.astype(np.float32)
        m = moving.shape[0]
        maps = (batched_kernel(points, moving.astype(np.float32)) @ weights[:m]
                + batched_kernel(points, self.anchors.astype(np.float32)) @ weights[m:]
                + affine[:1] + points @ affine[1:])  # (P, 6)
        identity = np.tile(points, 3)
        maps = identity + (maps - identity) * self._support(points, fade)[:, None]
        for side in range(3):
            self._keep_inside(maps[:, 2 * side: 2 * side + 2], points)
        split, lacking = self.lips.build(box, maps.reshape(*shape, 6).astype(np.float32), kp_px, occlusion[y0:y1, x0:x1], departure)
        occlusion[y0:y1, x0:x1] = lacking
        return split
