"""The head's global motion as the learned motion stage makes it (FROND's global stream).

The network hears the voice and gives, per control point of the B-spline, a mean and a spread of the
head's pose (`frond.face.head.POSE_AXES`: turn and shift). Head motion is mostly not determined by the
voice, so the mean alone would be an average: nearly still. The trajectory is one plausible motion:

    pose(t) = scale * (mean(t) + spread(t) * unit(t))

where `unit` is one seeded draw of a stationary process with unit variance whose spectrum and
cross-axis correlation are those of the real speakers' head motion (`fit_unit_process`, measured on
the training clips), so the head moves as fast as theirs; the spread, larger where the voice asks for
more motion, makes it as large as theirs and lets it rest in pauses. Same seed, same motion.

How much of that motion shows depends on how the portrait faces the camera. On the speaker-disjoint folds
the rendered head's spread, re-detected, over the real speaker's fell as the clip's speaker was turned further
from the camera (Spearman -0.41 with the clip's median turn; 2.2x the speaker's for clips under 5 degrees,
0.5x over 25), while the speakers' own motion did not change with it (their head tracks' spread: no slope).
A 2D warp of a turned face shows less of its turn than the real head does. `facing_gain` scales each axis by
how far the portrait is turned (the calibration's `facing_slope`, per degree, and `facing_pivot`, where it is 1).
"""
from __future__ import annotations

import numpy as np

from ..face.head import head_pose_from_keypoints

POSE_DIM = 5  # yaw, pitch, roll, shift x, shift y (`frond.face.head.POSE_AXES`)
SPECTRUM_BINS = 64  # frequencies from 0 to the control-point rate's Nyquist frequency
FACING_CAP = 30.0  # degrees: the turn past which `facing_gain` grows no more
FACING_LIMITS = (0.5, 2.0)  # `facing_gain` stays within these factors


def facing(keypoints: np.ndarray) -> float:
    """A portrait's landmarks (68, 2) -> how far it is turned from the camera: |yaw| in degrees
    (`frond.face.head.head_pose_from_keypoints`)."""
    return float(abs(head_pose_from_keypoints(np.asarray(keypoints))[0]))


def facing_gain(portrait_facing: float, slope: np.ndarray, pivot: float) -> np.ndarray:
    """(POSE_DIM,) the factor on each axis of the head's motion for a portrait turned `portrait_facing`
    degrees (`facing`): exp(slope (POSE_DIM,) x (facing - pivot)), within FACING_LIMITS."""
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
