"""Thin-plate-spline interpolation (Bookstein 1989), vectorised with numpy, batched over frames."""
from __future__ import annotations

import numpy as np


def batched_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a (..., N, 2), b (..., M, 2) -> (..., N, M) U(r) = r^2 log r^2 (the TPS radial basis)."""
    d2 = (a * a).sum(-1)[..., :, None] + (b * b).sum(-1)[..., None, :] - 2.0 * (a @ np.swapaxes(b, -1, -2))
    d2 = np.maximum(d2, 1e-12)
    return d2 * np.log(d2)


def solve_batch(controls: np.ndarray, values: np.ndarray, regularisation: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """T splines at once: controls (T, N, 2), values (T, N, D) -> weights (T, N, D), affine (T, 3, D).

    f(x) = sum_i w_i U(|x - c_i|) + a_0 + x a_1..2, with f(c_i) ~= v_i (exactly when regularisation = 0).
    D value columns share one factorisation (e.g. several maps through the same controls).
    """
    t, n = controls.shape[:2]
    system = np.zeros((t, n + 3, n + 3))
    system[:, :n, :n] = batched_kernel(controls, controls) + regularisation * np.eye(n)
    system[:, :n, n] = system[:, n, :n] = 1.0
    system[:, :n, n + 1:] = controls
    system[:, n + 1:, :n] = np.swapaxes(controls, 1, 2)
    rhs = np.zeros((t, n + 3, values.shape[-1]))
    rhs[:, :n] = values
    solution = np.linalg.solve(system, rhs)
    return solution[:, :n], solution[:, n:]


class ThinPlateSpline:
    """One 2D -> 2D thin-plate spline through controls (N, 2) with values (N, 2)."""

    def __init__(self, controls: np.ndarray, values: np.ndarray, regularisation: float = 1e-6) -> None:
        weights, affine = solve_batch(controls[None], values[None], regularisation)
        self.controls, self.weights, self.affine = controls, weights[0], affine[0]

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """points (P, 2) -> f(points) (P, 2)."""
        return batched_kernel(points, self.controls) @ self.weights + self.affine[0] + points @ self.affine[1:]
