"""Mouth, eye and brow channels -> 68-keypoint displacements (the prior's local motion).

Each channel moves keypoints along a fixed basis, in units of the inter-ocular distance
and in the face's own frame (x along the eyes, y down the face), so a tilted portrait
opens its mouth along its own vertical.
"""
from __future__ import annotations

import numpy as np

from ..face.ibug import LID_TRAVEL, face_frame

K = 68


def _basis(entries: dict[int, tuple[float, float]]) -> np.ndarray:
    basis = np.zeros((K, 2), np.float64)
    for index, (dx, dy) in entries.items():
        basis[index] = (dx, dy)
    return basis


# open = 1: the inner-lip gap grows by ~0.32 inter-ocular distances, the jaw follows
OPEN = _basis({
    **{i: (0.0, w * 0.27) for i, w in {65: 0.85, 66: 1.0, 67: 0.85}.items()},
    **{i: (0.0, w * 0.27) for i, w in {55: 0.6, 56: 0.9, 57: 1.0, 58: 0.9, 59: 0.6}.items()},
    **{i: (0.0, -w * 0.05) for i, w in {61: 0.8, 62: 1.0, 63: 0.8}.items()},
    **{i: (0.0, -w * 0.03) for i, w in {49: 0.6, 50: 0.9, 51: 1.0, 52: 0.9, 53: 0.6}.items()},
    48: (0.03, 0.12), 60: (0.03, 0.12), 54: (-0.03, 0.12), 64: (-0.03, 0.12),
    **{i: (0.0, w * 0.25) for i, w in {4: 0.15, 5: 0.35, 6: 0.62, 7: 0.88, 8: 1.0, 9: 0.88, 10: 0.62, 11: 0.35, 12: 0.15}.items()},
})
# close = 1: parted lips of the portrait meet; per unit of its inner-lip gap (in inter-ocular distances)
CLOSE = _basis({
    **{i: (0.0, w * 0.45) for i, w in {61: 0.8, 62: 1.0, 63: 0.8}.items()},
    **{i: (0.0, -w * 0.55) for i, w in {65: 0.8, 66: 1.0, 67: 0.8}.items()},
    **{i: (0.0, -w * 0.4) for i, w in {56: 0.8, 57: 1.0, 58: 0.8}.items()},
    **{i: (0.0, w * 0.15) for i, w in {50: 0.8, 51: 1.0, 52: 0.8}.items()},
    **{i: (0.0, -w * 0.2) for i, w in {7: 0.8, 8: 1.0, 9: 0.8}.items()},
})
# width = 1: a spread (smile-like) mouth; -1: narrow
WIDTH = _basis({
    48: (-0.08, -0.01), 60: (-0.07, -0.01), 54: (0.08, -0.01), 64: (0.07, -0.01),
    49: (-0.04, 0.0), 59: (-0.04, 0.0), 61: (-0.03, 0.0), 67: (-0.03, 0.0),
    53: (0.04, 0.0), 55: (0.04, 0.0), 63: (0.03, 0.0), 65: (0.03, 0.0),
    50: (-0.015, 0.005), 52: (0.015, 0.005), 56: (0.015, -0.01), 58: (-0.015, -0.01), 57: (0.0, -0.01),
})
# round = 1: pursed, protruding lips ("oo")
ROUND = _basis({
    48: (0.10, 0.0), 60: (0.09, 0.0), 54: (-0.10, 0.0), 64: (-0.09, 0.0),
    49: (0.06, -0.01), 59: (0.06, 0.01), 53: (-0.06, -0.01), 55: (-0.06, 0.01),
    50: (0.02, -0.025), 51: (0.0, -0.03), 52: (-0.02, -0.025),
    58: (0.02, 0.025), 57: (0.0, 0.03), 56: (-0.02, 0.025),
    61: (0.04, -0.01), 62: (0.0, -0.015), 63: (-0.04, -0.01),
    67: (0.04, 0.01), 66: (0.0, 0.015), 65: (-0.04, 0.01),
})
BROW = _basis({i: (0.0, -0.06 * w) for i, w in zip(range(17, 27), (0.6, 0.9, 1.0, 0.9, 0.7, 0.7, 0.9, 1.0, 0.9, 0.6))})

UPPER_LIDS = ((37, 41), (38, 40), (43, 47), (44, 46))  # (upper lid point, lower lid point under it)


def deform(source: np.ndarray, channels: dict[str, np.ndarray]) -> np.ndarray:
    """source (68, 2) + channels {open, close, width, round, blink, brow: (T,)} -> keypoints (T, 68, 2).

    `open` opens from the portrait's own mouth; `close` (in units of the portrait's
    inner-lip gap) brings parted lips together, for silences and bilabials.
    """
    _, axes, iod = face_frame(source)
    n = len(next(iter(channels.values())))
    offsets = np.zeros((n, K, 2))
    for name, basis in (("open", OPEN), ("close", CLOSE), ("width", WIDTH), ("round", ROUND), ("brow", BROW)):
        if name in channels:
            offsets += channels[name][:, None, None].astype(np.float64) * basis[None]
    out = source[None].astype(np.float64) + iod * offsets @ axes
    if "blink" in channels:
        closure = channels["blink"][:, None].astype(np.float64)
        for upper, lower in UPPER_LIDS:
            gap = source[lower] - source[upper]
            out[:, upper] += LID_TRAVEL * closure * gap  # the lids stop short: the field marks the rest, the decoder paints it
            out[:, lower] -= 0.1 * closure * gap
    return out.astype(np.float32)
