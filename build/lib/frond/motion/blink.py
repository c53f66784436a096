"""Eye blinks: a seeded renewal process at a natural rate, with a natural shape."""
from __future__ import annotations

import numpy as np

BLINKS_PER_MINUTE = 17.0  # adult resting rate while talking
CLOSE_S, OPEN_S = 0.09, 0.16  # lids close fast and open slower
MIN_GAP_S = 1.2


def blink_curve(times: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    """times (T,) -> (T,) lid closure in [0, 1] (1 = closed); rate multiplies the natural rate."""
    t = np.asarray(times, dtype=np.float64)
    closure = np.zeros_like(t)
    if rate <= 0 or t.size == 0:
        return closure.astype(np.float32)
    mean_gap = 60.0 / (BLINKS_PER_MINUTE * rate)
    onset = t[0] + rng.uniform(0.3, 1.0) * mean_gap
    while onset < t[-1]:
        rise = np.clip((t - onset) / CLOSE_S, 0, 1)
        fall = np.clip((t - onset - CLOSE_S - 0.03) / OPEN_S, 0, 1)
        shape = np.sin(0.5 * np.pi * rise) ** 2 * (1 - np.sin(0.5 * np.pi * fall) ** 2)
        closure = np.maximum(closure, shape)
        onset += max(MIN_GAP_S, rng.gamma(3.0, mean_gap / 3.0))
    return closure.astype(np.float32)
