"""Continuous trajectories: motion as functions of time, not lists of frames.

A `Trajectory` holds cubic B-spline coefficients per channel (FROND's continuous
trajectory space); it is evaluated at any time, so at any fps. Fitting uses a
weighted smoothing spline (scipy's `make_smoothing_spline`): the stiffness `lam`
trades following every target for smooth motion.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import BSpline, make_interp_spline, make_smoothing_spline


def stiffness(smoothing: float) -> float:
    """The user's smoothing in [0, 1] -> the spline penalty (time in seconds).

    0 follows phones closely (~30 ms), 0.5 is natural speech (~85 ms), 1 is very smooth (~240 ms).
    On real talking clips smoother trajectories correlate better with the real mouth opening
    (0.28 at 0.3, 0.30 at 0.5, 0.32 at 0.7), but blur fast closures (p, b, m): 0.5 is the default.
    """
    tau = 0.03 * (8.0 ** float(np.clip(smoothing, 0.0, 1.0)))  # time constant, seconds
    return tau ** 4


@dataclass
class Trajectory:
    """C channels as one cubic B-spline over time."""

    spline: BSpline  # maps t (seconds) -> (C,) values
    names: tuple[str, ...]  # channel names
    t0: float  # first time covered
    t1: float  # last time covered

    def __call__(self, times: np.ndarray) -> np.ndarray:
        """times (T,) -> (T, C); times outside [t0, t1] are clamped."""
        return np.asarray(self.spline(np.clip(times, self.t0, self.t1)), dtype=np.float32).reshape(len(times), -1)

    def channel(self, name: str, times: np.ndarray) -> np.ndarray:
        return self(times)[:, self.names.index(name)]

    @property
    def coefficients(self) -> np.ndarray:
        """(n_coefficients, C) B-spline coefficients: the trajectory-space representation."""
        return np.asarray(self.spline.c).reshape(len(self.spline.c), -1)

    @classmethod
    def smooth(cls, times: np.ndarray, values: np.ndarray, names: tuple[str, ...],
               weights: np.ndarray | None = None, lam: float = 1e-5) -> "Trajectory":
        """Fit a weighted smoothing spline per channel.

        times (N,) strictly increasing, values (N, C), weights (N,) or (N, C).
        """
        values = np.asarray(values, dtype=np.float64).reshape(len(times), -1)
        w = np.ones_like(values) if weights is None else np.broadcast_to(
            np.asarray(weights, dtype=np.float64).reshape(len(times), -1), values.shape)
        splines = [make_smoothing_spline(times, values[:, c], w=w[:, c], lam=lam) for c in range(values.shape[1])]
        knots = splines[0].t
        coeffs = np.stack([s.c for s in splines], axis=-1)
        return cls(BSpline(knots, coeffs, 3, extrapolate=False), tuple(names), float(times[0]), float(times[-1]))

    @classmethod
    def interpolate(cls, times: np.ndarray, values: np.ndarray, names: tuple[str, ...]) -> "Trajectory":
        """An interpolating cubic spline through (times (N,), values (N, C))."""
        values = np.asarray(values, dtype=np.float64).reshape(len(times), -1)
        spline = make_interp_spline(times, values, k=3)
        spline.extrapolate = False
        return cls(spline, tuple(names), float(times[0]), float(times[-1]))
