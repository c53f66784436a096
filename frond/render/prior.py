"""The training-free decoder (FROND stage 4 without weights).

The field is continuous, so the output is a continuous resampling of the portrait at
the warped coordinates (bicubic), at whatever resolution the output space asks for;
where the occlusion map says the source has no content (the opening mouth), a
synthesised interior is blended in (`frond.render.mouth`).
"""
from __future__ import annotations

import cv2
import numpy as np

from ..face.align import apply_affine, invert_affine
from ..face.ibug import inter_ocular
from ..types import AlignedFace, FieldFrame, OutputSpace, upsample_lattice
from ..field.prior import inner_mouth_mask
from ..motion.shape import LID_TRAVEL
from .mouth import eye_openness, lid_colour, mouth_box, paint_closed_lids, paint_closed_lips, paint_interior, palette_from_source


class PriorDecoder:
    """Stage 4, training-free: see the module docstring."""

    name = "training-free prior"

    def prepare(self, face: AlignedFace, source_keypoints: np.ndarray, space: OutputSpace) -> None:
        self.space = space
        self.to_source = space.norm_to_source.astype(np.float32)
        self.norm_to_out = invert_affine(space.out_to_norm)
        source_px = apply_affine(space.norm_to_source, source_keypoints.astype(np.float64))
        self.palette = palette_from_source(space.source, source_px)
        self.lids = lid_colour(space.source, source_px)
        self.source_eyes = eye_openness(source_keypoints)  # lid gaps, normalised units
        # where the portrait shows its own mouth interior (parted lips, teeth): hidden when the lips close
        h, w = space.source.shape[:2]
        interior = inner_mouth_mask(source_px, h, w, feather=0.0)
        grow = max(3, int(round(0.03 * float(inter_ocular(source_px))))) | 1  # cover the teeth's edges too
        self.source_interior = cv2.dilate(interior, np.ones((grow, grow), np.uint8))
        self.has_interior = bool(self.source_interior.sum() > 4.0)

    def render(self, field: FieldFrame, driving_keypoints: np.ndarray) -> np.ndarray:
        """field over (H, W), driving_keypoints (68, 2) -> (H, W, 3) uint8 RGB."""
        if field.coarse is not None:  # affine before the (linear) upsampling: same map, far fewer points
            coarse = cv2.transform(field.coarse, self.to_source)
            shape = (self.space.height, self.space.width)
            map_x, map_y = (np.ascontiguousarray(upsample_lattice(np.ascontiguousarray(coarse[..., c]), field.lattice, shape))
                            for c in (0, 1))
        else:
            maps = cv2.transform(field.grid, self.to_source)  # normalised -> source pixels, (H, W, 2)
            map_x, map_y = np.ascontiguousarray(maps[..., 0]), np.ascontiguousarray(maps[..., 1])
        # separate x and y maps: OpenCV's bicubic remap is ~30 % faster than with one 2-channel map
        frame = cv2.remap(self.space.source, map_x, map_y, interpolation=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        kp_px = apply_affine(self.norm_to_out, driving_keypoints.astype(np.float64))
        iod = float(inter_ocular(kp_px))
        if self.has_interior:  # only around the mouth: where the output samples the portrait's own interior
            box = mouth_box(kp_px, iod, frame.shape)
            y0, y1, x0, x1 = box
            sampled = cv2.remap(self.source_interior, map_x[y0:y1, x0:x1], map_y[y0:y1, x0:x1],
                                interpolation=cv2.INTER_LINEAR, borderValue=0)
            cover = np.clip(sampled * (1.0 - field.occlusion[y0:y1, x0:x1]), 0, 1)
            paint_closed_lips(frame, cover, box, kp_px, self.palette, iod)
        if field.occlusion.max() > 0.01:
            paint_interior(frame, field.occlusion, kp_px, self.palette, iod)
        # a blink narrows the eye by LID_TRAVEL of its opening; painted lids cover the rest
        narrowing = 1.0 - eye_openness(driving_keypoints) / np.maximum(self.source_eyes, 1e-6)
        closure = np.clip((narrowing - 0.3 * LID_TRAVEL) / (0.7 * LID_TRAVEL), 0.0, 1.0)
        if closure.max() > 0.01:
            paint_closed_lids(frame, kp_px, closure, self.lids, iod)
        return frame

