"""Continuous trajectories: motion as functions of time, not lists of frames.

A `Trajectory` holds cubic B-spline coefficients per channel (FROND's continuous
trajectory space); it is evaluated at any time, so at any fps. Fitting uses a
weighted smoothing spline (the minimiser of scipy's `make_smoothing_spline`, solved in its banded
Reinsch form, 10x faster at 100 samples a second): the stiffness `lam` trades following every target
for smooth motion.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.interpolate import BSpline, make_interp_spline
from scipy.linalg import solveh_banded


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

    @property
    def coefficients(self) -> np.ndarray:
        """(n_coefficients, C) B-spline coefficients: the trajectory-space representation."""
        return np.asarray(self.spline.c).reshape(len(self.spline.c), -1)

    @classmethod
    def smooth(cls, times: np.ndarray, values: np.ndarray, names: tuple[str, ...],
               weights: np.ndarray | None = None, lam: float = 1e-5) -> "Trajectory":
        """Fit a weighted smoothing spline per channel.

        times (N,) strictly increasing, values (N, C), weights (N,) or (N, C), positive.
        """
        times = np.asarray(times, dtype=np.float64)
        values = np.asarray(values, dtype=np.float64).reshape(len(times), -1)
        w = np.ones_like(values) if weights is None else np.broadcast_to(
            np.asarray(weights, dtype=np.float64).reshape(len(times), -1), values.shape)
        fitted = np.stack([smoothing_spline_values(times, values[:, c], w[:, c], lam) for c in range(values.shape[1])], -1)
        spline = make_interp_spline(times, fitted, k=3, bc_type="natural")
        spline.extrapolate = False
        return cls(spline, tuple(names), float(times[0]), float(times[-1]))


def smoothing_spline_values(x: np.ndarray, y: np.ndarray, w: np.ndarray, lam: float) -> np.ndarray:
    """The natural cubic smoothing spline's values at its knots: argmin_g sum w (y - g(x))^2 + lam int g''^2.

    x (N,) strictly increasing, y (N,), w (N,) positive -> (N,). Reinsch's form (Green & Silverman 1994,
    "Nonparametric regression and generalized linear models", 2.3.3): (R + lam Q^T W^-1 Q) gamma = Q^T y,
    g = y - lam W^-1 Q gamma, with Q (N, N-2) the second divided differences and R (N-2, N-2) tridiagonal;
    the system is pentadiagonal and positive definite: a banded solve, O(N).
    """
    n = x.size
    if n < 3 or lam <= 0:
        return np.asarray(y, np.float64)
    h = np.diff(x)
    j = np.arange(n - 2)
    q = sparse.csr_matrix((np.concatenate([1 / h[:-1], -1 / h[:-1] - 1 / h[1:], 1 / h[1:]]),
                           (np.concatenate([j, j + 1, j + 2]), np.tile(j, 3))), shape=(n, n - 2))
    r = sparse.diags([(h[:-1] + h[1:]) / 3, h[1:-1] / 6, h[1:-1] / 6], [0, 1, -1])
    system = (q.T @ sparse.diags(lam / w) @ q + r).todia()
    bands = np.zeros((3, n - 2))  # upper form: row 2 the diagonal, rows 1 and 0 the super-diagonals
    for k in range(3):
        bands[2 - k, k:] = system.diagonal(k)
    gamma = solveh_banded(bands, q.T @ y)
    return y - lam / w * (q @ gamma)


def pspline_stiffness(smoothing: float, base: float) -> float:
    """The "motion smoothing" setting (0..1) -> the learned trajectory's P-spline lambda.

    0 -> 0 (follow the network exactly), 0.5 -> `base` (what training used), 1 -> 11 x base.
    """
    return float(base * (100.0 ** float(np.clip(smoothing, 0.0, 1.0)) - 1.0) / 9.0)


def cubic_bspline_kernel(u: np.ndarray) -> np.ndarray:
    """Centred cubic B-spline B(u), support [-2, 2], partition of unity over integer shifts."""
    a = np.abs(u)
    return np.where(a < 1.0, 2.0 / 3.0 - a ** 2 + a ** 3 / 2.0, np.clip(2.0 - a, 0.0, None) ** 3 / 6.0)


@dataclass(frozen=True)
class UniformBSpline:
    """The learned motion's trajectory space: a uniform cubic B-spline in time.

    x(t) = sum_i c_i B((t - tau_i) / dt) with control points c_i at tau_i = (i - 1) dt,
    dt = 1 / knot_hz. Smooth (C2) by construction and sampled at any time, so at any fps.
    Stiffness is a P-spline penalty (Eilers & Marx 1996, "Flexible smoothing with B-splines
    and penalties", eq. 7): c' = argmin |c' - c|^2 + lambda |D2 c'|^2, i.e. (I + lambda D2^T D2) c' = c.
    """

    knot_hz: float  # control points per second

    def n_control(self, duration: float) -> int:
        """Control points that cover [0, duration] seconds."""
        return int(math.ceil(max(duration, 0.0) * self.knot_hz)) + 3

    def knot_times(self, n_control: int) -> np.ndarray:
        """(n,) times tau_i of the control points, seconds."""
        return (np.arange(n_control, dtype=np.float64) - 1.0) / self.knot_hz

    def basis(self, times: np.ndarray, n_control: int) -> np.ndarray:
        """times (T,) seconds -> (T, n) matrix: values = basis @ coefficients."""
        tau = self.knot_times(n_control)
        return cubic_bspline_kernel((np.asarray(times, np.float64)[:, None] - tau[None, :]) * self.knot_hz)

    def sample(self, times: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
        """times (T,) seconds, coefficients (n, D) -> values (T, D), as `basis(times, n) @ coefficients`
        from the four control points that reach each time (O(T), not O(T n))."""
        n = coefficients.shape[0]
        u = np.asarray(times, np.float64) * self.knot_hz + 1.0  # position among the control points
        index = np.floor(u).astype(np.int64)[:, None] + np.arange(-1, 3)  # (T, 4)
        weight = cubic_bspline_kernel(u[:, None] - index) * ((index >= 0) & (index < n))
        return np.einsum("tk,tkd->td", weight, np.asarray(coefficients)[np.clip(index, 0, n - 1)])

    @staticmethod
    def stiffness_system(n_control: int, lam: float) -> np.ndarray:
        """(n, n) matrix I + lambda D2^T D2 of the P-spline penalty (D2: second differences)."""
        eye = np.eye(n_control)
        if n_control < 3:
            return eye
        d2 = eye[2:] - 2 * eye[1:-1] + eye[:-2]
        return eye + lam * d2.T @ d2

    def stiffen(self, coefficients: np.ndarray, lam: float) -> np.ndarray:
        """P-spline smoothing along time: coefficients (n, D) -> (n, D).

        The system is symmetric, positive definite and pentadiagonal: a banded solve, O(n).
        """
        n = coefficients.shape[0]
        if lam <= 0 or n < 3:
            return coefficients
        from scipy.linalg import solveh_banded

        bands = np.zeros((3, n))  # upper form: row 2 the diagonal, rows 1 and 0 the first and second superdiagonals
        rows = n - 2  # second differences: D2 row r is (1, -2, 1) at columns r, r + 1, r + 2
        bands[2, :rows] += 1.0
        bands[2, 1:rows + 1] += 4.0
        bands[2, 2:] += 1.0
        bands[1, 1:rows + 1] -= 2.0
        bands[1, 2:] -= 2.0
        bands[0, 2:] += 1.0
        bands *= lam
        bands[2] += 1.0
        return solveh_banded(bands, coefficients)
