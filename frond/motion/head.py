"""The head's global motion: a pose process (yaw, pitch, roll) over time.

How a pose moves points (a rigid rotation of the portrait's head) is `frond.face.head`.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d


def pose_process(times: np.ndarray, activity: np.ndarray, emphasis: np.ndarray, pitch: np.ndarray,
                 amount: float, rng: np.random.Generator) -> np.ndarray:
    """The global code over time: (T,) inputs -> (T, 3) yaw, pitch, roll in degrees.

    Slow seeded drift (sums of low-frequency sinusoids), larger while speaking than in
    silence (idle motion), plus nods on emphasis and a slight lift with raised pitch.
    """
    t = np.asarray(times, dtype=np.float64)
    pose = np.zeros((t.shape[0], 3))
    amplitude = np.array([5.0, 3.0, 3.5])  # degrees: yaw, pitch, roll (std about 2-2.5 while speaking: real speakers 1.5-3.5)
    for axis in range(3):
        for _ in range(3):
            freq = rng.uniform(0.08, 0.45)
            pose[:, axis] += amplitude[axis] / 2 * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
    gain = 0.45 + 0.55 * activity  # idle motion in silences
    pose *= gain[:, None]
    pose[:, 1] += 1.8 * emphasis - 0.08 * pitch  # nod down on emphasis, chin up on high pitch
    if t.size > 2:  # head motion is slow: no frame-to-frame jitter from the audio features
        pose = gaussian_filter1d(pose, sigma=0.2 / max(float(np.median(np.diff(t))), 1e-3), axis=0, mode="nearest")
    return (amount * pose).astype(np.float32)
