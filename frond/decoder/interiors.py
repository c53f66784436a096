"""Real mouth interiors: a small bank of open mouths cut from real talking videos.

Where the mouth opens wider than the portrait's own, the decoder needs teeth, tongue and the dark
of the mouth that the portrait does not have. They come from `interiors.npz` (built by
`scripts/build_interiors.py` from frames of `../shared/data/train`; each entry names its clip,
frame and the repository it came from): a few real open mouths, each in its normalised frame (eye
line horizontal, `px_per_iod` pixels per inter-ocular distance, the middle of the inner-lip corners
at the centre), with the inner-lip contour on the edge of its interior and the heights of its upper
teeth and of what rests on its lower lip.

For a portrait, the entry nearest its skin tone is chosen and its colours are matched to the
portrait's in Lab: lightness scaled by the ratio of the lip-and-skin rings' lightness (the light
on the face), chroma moved towards the portrait's skin and scaled by its saturation (a painting's
palette, a black-and-white photo). One entry per portrait: the same teeth in every frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ..face.ibug import INNER_LIPS, OUTER_LIPS

BANK_PATH = Path(__file__).with_name("interiors.npz")
CHROMA_SHIFT = 0.5  # how far the interior's chroma follows the difference between the portrait's skin and the entry's
LIGHT_FOLLOWS = 0.6  # the exponent on the ratio of the portrait's lightness to the entry's (1: all the way)
SHOULDER = 25.0  # lightness above 100 - SHOULDER is compressed smoothly below 100 (teeth keep their detail)


@dataclass(frozen=True)
class Interior:
    """One real mouth interior in its normalised frame."""

    image: np.ndarray  # (h, w, 3) uint8 RGB
    inner: np.ndarray  # (8, 2) float32 px: the inner-lip contour (iBUG 60-67), on the edge of the interior
    outer: np.ndarray  # (12, 2) float32 px: the outer lip contour (iBUG 48-59)
    px_per_iod: float  # pixels per inter-ocular distance
    bands: tuple[float, float]  # inter-ocular distances, centre columns: the upper teeth's height, the lower band's
    source: str  # where it was cut from


@lru_cache(maxsize=1)
def load_bank(path: Path = BANK_PATH) -> tuple[Interior, ...]:
    """The interiors shipped with the package (no pickles: plain arrays)."""
    with np.load(path, allow_pickle=False) as data:
        scale = float(data["px_per_iod"])
        return tuple(Interior(image=image, inner=inner, outer=outer, px_per_iod=scale, bands=(float(b[0]), float(b[1])),
                              source=str(source))
                     for image, inner, outer, b, source in zip(data["images"], data["inner"], data["outer"], data["bands"],
                                                              data["sources"]))


@dataclass(frozen=True)
class MouthTones:
    """Mean Lab colours around a mouth (OpenCV's float Lab: L in 0-100)."""

    lips: np.ndarray  # (3,) the lip ring (between the outer and inner lip contours)
    skin: np.ndarray  # (3,) a ring of skin around the lips
    chroma: float  # mean distance from grey (a, b) over both rings: how saturated the face is


def mouth_tones(image: np.ndarray, outer: np.ndarray, inner: np.ndarray, iod_px: float) -> MouthTones:
    """image (H, W, 3) uint8 RGB, the lip contours outer (12, 2) and inner (8, 2) in its pixels -> its `MouthTones`."""
    pad = int(np.ceil(0.25 * iod_px)) + 2
    lo = np.maximum(np.floor(outer.min(0)).astype(int) - pad, 0)
    hi = np.minimum(np.ceil(outer.max(0)).astype(int) + pad + 1, (image.shape[1], image.shape[0]))
    patch = np.ascontiguousarray(image[lo[1]:hi[1], lo[0]:hi[0]])
    lab = cv2.cvtColor(patch.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB).reshape(-1, 3)
    lips_mask = np.zeros(patch.shape[:2], np.uint8)
    cv2.fillPoly(lips_mask, [np.round(outer - lo).astype(np.int32)], (1,))
    mouth = lips_mask.copy()
    cv2.fillPoly(lips_mask, [np.round(inner - lo).astype(np.int32)], (0,))
    ring = max(3, int(round(0.12 * iod_px))) | 1
    skin_mask = cv2.dilate(mouth, np.ones((ring, ring), np.uint8)) - mouth
    lips, skin = lab[lips_mask.ravel() > 0], lab[skin_mask.ravel() > 0]
    lips = lips if len(lips) > 5 else lab
    skin = skin if len(skin) > 5 else lab
    both = np.concatenate([lips, skin])
    return MouthTones(lips=lips.mean(0), skin=skin.mean(0), chroma=float(np.linalg.norm(both[:, 1:], axis=1).mean()))


def entry_tones(entry: Interior) -> MouthTones:
    return mouth_tones(entry.image, entry.outer, entry.inner, entry.px_per_iod)


def portrait_tones(image: np.ndarray, keypoints_px: np.ndarray, iod_px: float) -> MouthTones:
    """image (H, W, 3) uint8 RGB, keypoints_px (68, 2) in its pixels."""
    return mouth_tones(image, keypoints_px[OUTER_LIPS], keypoints_px[INNER_LIPS], iod_px)


def choose(bank: tuple[Interior, ...], tones: MouthTones) -> Interior:
    """The entry whose skin is nearest the portrait's in Lab, by its lightness mostly (how dark the skin is; a
    painting's or a lamp's tint says little about the mouth behind the lips)."""
    weight = np.array([1.0, 0.2, 0.2])
    return min(bank, key=lambda entry: float(np.linalg.norm((entry_tones(entry).skin - tones.skin) * weight)))


def match_colours(entry: Interior, tones: MouthTones) -> np.ndarray:
    """The entry's image (h, w, 3) uint8 recoloured for a portrait with `tones` -> (h, w, 3) uint8 RGB.

    Gently: the light follows the portrait's (the rings' lightness ratio, damped, with a soft shoulder so
    that teeth never burn out), the white balance follows its skin (part of the difference), and the
    saturation drops where the portrait's is lower (a black-and-white photo gets a grey interior), never rises.
    """
    own = entry_tones(entry)
    lab = cv2.cvtColor(entry.image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    ratio = (tones.lips[0] + tones.skin[0]) / max(own.lips[0] + own.skin[0], 1e-3)
    lightness = lab[..., 0] * float(np.clip(ratio, 0.6, 1.4)) ** LIGHT_FOLLOWS
    knee = 100.0 - SHOULDER
    lab[..., 0] = np.where(lightness > knee, knee + SHOULDER * np.tanh((lightness - knee) / SHOULDER), lightness)
    saturation = float(np.clip(tones.chroma / max(own.chroma, 1e-3), 0.0, 1.0)) ** 0.5
    lab[..., 1:] = saturation * (lab[..., 1:] + CHROMA_SHIFT * (tones.skin[1:] - own.skin[1:]))
    rgb = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
    return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)
