"""Where the rendered frames go: the output space, and the paste-back into the whole portrait.

The picture framing (the default) renders the crop's footprint inside the portrait, scaled
so that its long side is at most `settings.max_side` (never enlarged; both sides even, as
H.264 wants), and pastes it back with a feathered alpha, so that no seam shows. The
footprint is cut to the picture: nothing beyond the picture's edge is ever shown. The crop
framing renders the aligned crop itself. Either way the space's source is the portrait
itself, so that a decoder samples it once through the field (the alignment affine is in
`norm_to_source`).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..config import CROP, GenerationSettings, Limits
from ..errors import FrondInputError
from ..imaging import apply_affine, compose, invert_affine
from ..types import AlignedFace, OutputSpace
from .ibug import norm_to_px, norm_to_px_affine, px_to_norm_affine


@dataclass
class Framing:
    """The output space of one generation and how its renders become video frames."""

    space: OutputSpace  # where the stages render (H, W): the crop, or the crop's footprint in the portrait
    background: np.ndarray  # (Hf, Wf, 3) uint8 RGB: the video frame the render is pasted into (crop mode: the crop)
    offset: tuple[int, int] | None  # (x, y) of the space in the video frame; None: the space is the frame (crop mode)
    alpha: np.ndarray | None  # (H, W, 1) float32 paste-back alpha: 1 inside, falling to 0 at the crop's edge

    @property
    def height(self) -> int:
        """Video frame height, pixels."""
        return int(self.background.shape[0])

    @property
    def width(self) -> int:
        """Video frame width, pixels."""
        return int(self.background.shape[1])

    def paste(self, rendered: np.ndarray) -> np.ndarray:
        """A render (H, W, 3) uint8 over the space -> the video frame (Hf, Wf, 3) uint8."""
        if self.offset is None or self.alpha is None:
            return rendered
        frame = self.background.copy()
        x0, y0 = self.offset
        region = frame[y0:y0 + self.space.height, x0:x0 + self.space.width]
        alpha = self.alpha[..., 0]
        region[:] = cv2.blendLinear(np.ascontiguousarray(rendered), np.ascontiguousarray(region), alpha, 1.0 - alpha)
        return frame

    def to_frame(self, keypoints: np.ndarray) -> np.ndarray:
        """keypoints (..., 2) in normalised crop space -> video frame pixels (..., 2) float64."""
        px = apply_affine(invert_affine(self.space.out_to_norm), np.asarray(keypoints, dtype=np.float64))
        return px if self.offset is None else px + np.array(self.offset)


def feather(size: int) -> np.ndarray:
    """(size, size) float32 alpha over the crop: 1 inside, a linear ramp to 0 over its outer size / 16 pixels."""
    margin = max(2, size // 16)
    ramp = np.clip(np.minimum(np.arange(size), np.arange(size)[::-1]) / margin, 0, 1).astype(np.float32)
    return np.minimum(ramp[None, :], ramp[:, None])


def picture_shape(height: int, width: int, max_side: int) -> tuple[int, int]:
    """The video's (height, width) for a picture of (height, width): its long side at most `max_side`
    (a smaller picture keeps its size), each side rounded to an even number (H.264 yuv420p): down
    by the one odd pixel when the picture keeps its size, to the nearest even size when it shrinks."""
    scale = min(1.0, max_side / max(height, width))
    if scale == 1.0:
        return max(2, height // 2 * 2), max(2, width // 2 * 2)
    return max(2, 2 * int(round(height * scale / 2))), max(2, 2 * int(round(width * scale / 2)))


def output_framing(face: AlignedFace, settings: GenerationSettings, limits: Limits) -> Framing:
    """The framing of `face` with a crop of side `settings.size`: with `settings.framing` CROP the crop,
    else the whole portrait (`picture_shape`), the face's footprint in it rendered and pasted back."""
    size = settings.size
    n2p, p2n = norm_to_px_affine(size), px_to_norm_affine(size)
    portrait, matrix = face.portrait, face.crop_from_image
    if settings.framing == CROP:  # the decoder samples the original portrait (one resampling pass)
        space = OutputSpace(size, size, out_to_norm=p2n, source=portrait, norm_to_source=compose(invert_affine(matrix), n2p))
        return Framing(space=space, background=face.image, offset=None, alpha=None)
    h, w = picture_shape(portrait.shape[0], portrait.shape[1], settings.max_side)
    if h < portrait.shape[0] // 2 * 2 or w < portrait.shape[1] // 2 * 2:  # it shrinks (each side on its own, to even sizes)
        sx, sy = w / portrait.shape[1], h / portrait.shape[0]
        portrait = cv2.resize(portrait, (w, h), interpolation=cv2.INTER_AREA)
        shrink = np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5]])  # pixel centres: x' + 0.5 = (x + 0.5) s
        matrix = compose(matrix, invert_affine(shrink))
    portrait = np.ascontiguousarray(portrait[:h, :w])
    image_from_crop = invert_affine(matrix)
    corners = apply_affine(image_from_crop, norm_to_px(np.array([[-1, -1], [1, -1], [1, 1], [-1, 1.0]]), size))
    x0, y0 = np.clip(np.floor(corners.min(0)).astype(int), 0, None)
    x1, y1 = np.ceil(corners.max(0)).astype(int)
    x1, y1 = min(int(x1), w), min(int(y1), h)
    if x1 - x0 < 8 or y1 - y0 < 8:
        raise FrondInputError("The face lies outside the image; use a photo where the whole face is visible.")
    crop_from_out = compose(matrix, np.array([[1.0, 0, x0], [0, 1.0, y0]]))
    space = OutputSpace(int(y1 - y0), int(x1 - x0), out_to_norm=compose(p2n, crop_from_out), source=portrait,
                        norm_to_source=compose(image_from_crop, n2p))
    alpha = cv2.warpAffine(feather(size), crop_from_out, (space.width, space.height),
                           flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    return Framing(space=space, background=portrait, offset=(int(x0), int(y0)), alpha=alpha[..., None])
