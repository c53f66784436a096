"""The head's global motion as the learned motion stage makes it (FROND's global stream).

The network hears the voice and gives, per control point of the B-spline, a mean and a spread of the
head's pose (`frond.face.head.POSE_AXES`: turn and shift). Head motion is mostly not determined by the
voice, so the mean alone would be an average: nearly still. The trajectory is one plausible motion:

    pose(t) = scale * (mean(t) + spread(t) * unit(t))

where `unit` is one seeded draw of a stationary process with unit variance whose spectrum and
cross-axis correlation are those of the real speakers' head motion (`fit_unit_process`, measured on
the training clips), so the head moves as fast as theirs; the spread, larger where the voice asks for
more motion, makes it as large as theirs and lets it rest in pauses. Same seed, same motion.

How much a speaker moves also shows in how they face the camera: one turned towards someone off-camera
(an interview) turns and shifts more than one facing it squarely (a reading, a lab recording); in the
training clips the spread of the head's turn grows about 4-6 % per degree of the first frame's turn.
The voice cannot tell these apart, the portrait can: `facing_gain` scales each axis by the relation
`fit_facing` measured on the training speakers, 1 for the training portraits' typical turn.
"""
from __future__ import annotations

import numpy as np

from ..face.head import head_pose_from_keypoints

POSE_DIM = 5  # yaw, pitch, roll, shift x, shift y (`frond.face.head.POSE_AXES`)
SPECTRUM_BINS = 64  # frequencies from 0 to the control-point rate's Nyquist frequency
FACING_CAP = 30.0  # degrees: a portrait turned further says no more about how much its speaker moves
FACING_LIMITS = (0.5, 2.0)  # `facing_gain` stays within these factors


def facing(keypoints: np.ndarray) -> float:
    """A portrait's landmarks (68, 2) -> how far it is turned from the camera: |yaw| in degrees
    (`frond.face.head.head_pose_from_keypoints`), capped at FACING_CAP."""
    from ..face.head import head_pose_from_keypoints

    return float(min(abs(head_pose_from_keypoints(np.asarray(keypoints))[0]), FACING_CAP))


def fit_facing(spreads: np.ndarray, facings: np.ndarray, portraits: np.ndarray) -> tuple[np.ndarray, float]:
    """How a speaker's head motion grows with the turn of their first frame, measured on training clips.

    spreads (N, POSE_DIM): each head track's spread per axis; facings (N,): those clips' `facing`;
    portraits (M,): the `facing` of every training clip (with or without a head track).
    -> (slope (POSE_DIM,) per degree, pivot in degrees): spread ~ median x exp(a + slope x facing), fitted
    by least squares on the spreads over their median (so the stillest heads, whose log spread is at the
    tracker's noise, do not lever the slope); the pivot is the mean facing of the training portraits, where
    `facing_gain` is 1, so the calibrated `head_gain` stays the typical speaker's.
    """
    from scipy.optimize import least_squares

    spreads, facings = np.asarray(spreads, np.float64), np.minimum(np.asarray(facings, np.float64), FACING_CAP)
    slope = np.zeros(POSE_DIM)
    if len(facings) >= 3 and np.ptp(facings) > 1.0:
        for axis in range(POSE_DIM):
            relative = spreads[:, axis] / max(float(np.median(spreads[:, axis])), 1e-9)
            fit = least_squares(lambda p: relative - np.exp(p[0] + p[1] * facings), [0.0, 0.0])
            slope[axis] = fit.x[1]
    pivot = float(np.mean(np.minimum(np.asarray(portraits, np.float64), FACING_CAP))) if len(portraits) else 0.0
    return slope, pivot


def facing_gain(portrait_facing: float, slope: np.ndarray, pivot: float) -> np.ndarray:
    """(POSE_DIM,) the factor on each axis of the head's motion for a portrait turned `portrait_facing`
    degrees (`facing`), from `fit_facing`'s slope and pivot; within FACING_LIMITS."""
    x = min(float(portrait_facing), FACING_CAP) - float(pivot)
    return np.clip(np.exp(np.asarray(slope, np.float64) * x), *FACING_LIMITS)


def spectrum_grid(rate: float) -> np.ndarray:
    """(SPECTRUM_BINS,) the frequencies (Hz) a process's spectrum is kept at, for tracks sampled at `rate`."""
    return np.linspace(0.0, rate / 2, SPECTRUM_BINS)


def fit_unit_process(tracks: list[np.ndarray], rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Real head tracks (T_i, POSE_DIM) sampled at `rate` Hz -> the unit process's spectrum
    (POSE_DIM, SPECTRUM_BINS) (power per bin, each axis summing to 1) and its mixing matrix
    (POSE_DIM, POSE_DIM) (the Cholesky factor of the axes' correlation).

    Each track is standardised per axis (every speaker counts by the shape of their motion, not its
    size), its periodogram (Hann window) put on the common grid and averaged, weighted by length.
    """
    grid = spectrum_grid(rate)
    power = np.zeros((POSE_DIM, grid.size))
    standardised, weight = [], 0.0
    for track in tracks:
        x = np.asarray(track, np.float64)
        if len(x) < 16:
            continue
        x = (x - x.mean(0)) / np.maximum(x.std(0), 1e-9)
        standardised.append(x)
        window = np.hanning(len(x))[:, None]
        spec = np.abs(np.fft.rfft(x * window, axis=0)) ** 2  # (F_i, POSE_DIM)
        freqs = np.fft.rfftfreq(len(x), 1.0 / rate)
        for axis in range(POSE_DIM):
            p = np.interp(grid, freqs, spec[:, axis])
            power[axis] += len(x) * p / max(p.sum(), 1e-12)
        weight += len(x)
    if not standardised:
        raise ValueError("no head track of 16 frames or more to fit the head's motion on")
    power /= weight
    pooled = np.concatenate(standardised)
    correlation = np.corrcoef(pooled.T) + 1e-6 * np.eye(POSE_DIM)
    return power.astype(np.float32), np.linalg.cholesky(correlation).astype(np.float32)


def unit_process(n: int, rate: float, spectrum: np.ndarray, mix: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw of the unit process at `n` samples of `rate` Hz -> (n, POSE_DIM): each axis white noise
    shaped to `spectrum` (POSE_DIM, SPECTRUM_BINS) and scaled to unit variance, then mixed (`mix`)."""
    size = max(2 * n, 64)  # a longer draw, cut: no circular wrap-around at the ends
    white = rng.standard_normal((size, POSE_DIM))
    freqs = np.fft.rfftfreq(size, 1.0 / rate)
    grid = spectrum_grid(rate)
    shaped = np.fft.rfft(white, axis=0) * np.sqrt(np.stack([np.interp(freqs, grid, s) for s in spectrum], 1))
    x = np.fft.irfft(shaped, n=size, axis=0)[:n]
    x = (x - x.mean(0)) / np.maximum(x.std(0), 1e-9) if n > 1 else np.zeros((n, POSE_DIM))
    return x @ np.asarray(mix, np.float64).T


def resample_track(track: np.ndarray, fps: float, rate: float) -> np.ndarray:
    """A track (T, POSE_DIM) at `fps` -> the same span at `rate` Hz (linear interpolation)."""
    track = np.asarray(track, np.float64)
    if abs(fps - rate) < 1e-6:
        return track
    times = np.arange(int(np.floor((len(track) - 1) / fps * rate)) + 1) / rate
    source = np.arange(len(track)) / fps
    return np.stack([np.interp(times, source, track[:, axis]) for axis in range(track.shape[1])], 1)
