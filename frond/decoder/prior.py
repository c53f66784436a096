"""The training-free decoder (FROND stage 4 without weights; docs/DESIGN.md).

The field is continuous, so the output is a continuous resampling of the portrait at
the warped coordinates (bicubic), at whatever resolution the output space asks for. The
alignment affine is composed into the field's map, so each output pixel samples the
original portrait once, prefiltered where the output is smaller than the face, and
continued plausibly beyond the picture's edge (`frond.imaging`). Where the field
splits at the lips (`FieldFrame.mouth`), each side samples the portrait through its own
map. Where the field's occlusions say the source has no content (the mouth opening wider
than the portrait's, eyelids closing further than the map can), a synthesised interior and
painted lids are blended in (`frond.decoder.mouth`).
"""
from __future__ import annotations

import cv2
import numpy as np

from ..face.ibug import inter_ocular
from ..imaging import apply_affine, compose, invert_affine, prepare_source
from ..stages import PriorStage
from ..types import AlignedFace, FieldFrame, MouthSplit, OutputSpace, SourceEncoding, upsample_lattice
from .interiors import portrait_tones
from .lids import lid_colour, paint_closed_lids
from .mouth import MouthInterior

SEAM_SHADOW = 0.3  # how much light the line where closed lips meet takes away
HOLLOW_SHADOW = 0.9  # ... and the middle of a wide opening (the portrait's own teeth and tongue fall into shade)


class PriorDecoder(PriorStage):
    """Stage 4, training-free: see the module docstring. Renders one frame per call (numpy and
    OpenCV release the GIL, so the pipeline renders frames on threads)."""

    batched = False

    def prepare(self, face: AlignedFace, source: SourceEncoding, space: OutputSpace) -> None:
        source_keypoints = source.keypoints
        self.space = space
        out_to_source = compose(space.norm_to_source, space.out_to_norm)  # output px -> portrait px
        self.source = prepare_source(space.source, out_to_source, (space.height, space.width))
        self.to_source = self.source.affine_from(space.norm_to_source).astype(np.float32)  # normalised -> sampled px
        self.norm_to_out = invert_affine(space.out_to_norm)
        source_px = apply_affine(self.to_source.astype(np.float64), source_keypoints.astype(np.float64))
        out_iod = float(inter_ocular(apply_affine(self.norm_to_out, source_keypoints.astype(np.float64))))
        source_iod = float(inter_ocular(source_px))  # in the pixels sampled: the portrait's own detail
        self.interior = MouthInterior(portrait_tones(self.source.image, source_px, source_iod), out_iod, source_iod_px=source_iod)
        self.lids = lid_colour(self.source.image, source_px)

    def _maps(self, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(h, w, 2) normalised -> the x and y maps (h, w) into the sampled image's pixels."""
        maps = cv2.transform(grid, self.to_source)
        return np.ascontiguousarray(maps[..., 0]), np.ascontiguousarray(maps[..., 1])

    def _sample(self, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
        # separate x and y maps: OpenCV's bicubic remap is ~30 % faster than with one 2-channel map
        return cv2.remap(self.source.image, map_x, map_y, interpolation=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)

    def render(self, field: FieldFrame, driving_keypoints: np.ndarray) -> np.ndarray:
        """field over (H, W), driving_keypoints (68, 2) -> (H, W, 3) uint8 RGB."""
        if field.coarse is not None and field.lattice is not None:  # affine before the (linear) upsampling: fewer points
            coarse = cv2.transform(field.coarse, self.to_source)
            shape = (self.space.height, self.space.width)
            frame = self._sample(*(np.ascontiguousarray(upsample_lattice(np.ascontiguousarray(coarse[..., c]),
                                                                         field.lattice, shape)) for c in (0, 1)))
            if field.mouth is not None:
                self._render_split(frame, field.mouth)
        else:  # a dense grid (it holds the split's sides too, unblended)
            frame = self._sample(*self._maps(field.dense()))
        kp_px = apply_affine(self.norm_to_out, driving_keypoints.astype(np.float64))
        iod = float(inter_ocular(kp_px))
        if field.occlusion.max() > 0.01:
            self.interior.draw(frame, field.occlusion, kp_px)
        if field.lids is not None and field.lids.max() > 0.01:  # the lids cover what the map leaves open
            paint_closed_lids(frame, kp_px, field.lids, self.lids, iod)
        return frame

    def render_batch(self, fields: list[FieldFrame], driving_keypoints: np.ndarray) -> np.ndarray:
        """T fields, driving_keypoints (T, 68, 2) -> (T, H, W, 3) uint8 RGB, one `render` each."""
        return np.stack([self.render(f, k) for f, k in zip(fields, driving_keypoints)])

    def _render_split(self, frame: np.ndarray, split: MouthSplit) -> None:
        """Each side of the lips from its own map, joined along the line where they meet (in place)."""
        y0, y1, x0, x1 = split.box
        upper = self._sample(*self._maps(split.upper)).astype(np.float32)
        lower = self._sample(*self._maps(split.lower)).astype(np.float32)
        weight = split.weight[..., None]
        joined = lower + weight * (upper - lower)
        if split.seam is not None:  # closed lips press together along a thin shadow
            joined *= 1.0 - SEAM_SHADOW * split.seam[..., None]
        if split.hollow is not None:  # the middle of an opening looks into the mouth: shade follows the opening
            joined *= 1.0 - HOLLOW_SHADOW * split.hollow[..., None] ** 2
        frame[y0:y1, x0:x1] = np.clip(joined + 0.5, 0, 255).astype(np.uint8)
