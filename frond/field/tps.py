"""Thin-plate-spline interpolation (Bookstein 1989), vectorised with numpy."""
from __future__ import annotations

import numpy as np


def _kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a (N, 2), b (M, 2) -> (N, M) U(r) = r^2 log r^2 (the TPS radial basis)."""
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    d2 = np.maximum(d2, 1e-12)
    return d2 * np.log(d2)


class ThinPlateSpline:
    """A 2D -> 2D thin-plate spline f with f(controls) ~= values (exactly when regularisation = 0)."""

    def __init__(self, controls: np.ndarray, values: np.ndarray, regularisation: float = 1e-6) -> None:
        """controls (N, 2), values (N, 2)."""
        n = controls.shape[0]
        system = np.zeros((n + 3, n + 3))
        system[:n, :n] = _kernel(controls, controls) + regularisation * np.eye(n)
        system[:n, n] = system[n, :n] = 1.0
        system[:n, n + 1:] = controls
        system[n + 1:, :n] = controls.T
        rhs = np.zeros((n + 3, 2))
        rhs[:n] = values
        solution = np.linalg.solve(system, rhs)
        self.controls = controls
        self.weights, self.affine = solution[:n], solution[n:]

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """points (P, 2) -> f(points) (P, 2)."""
        pts = points.astype(np.float32)
        return self.evaluate_with_kernel(pts, _kernel(pts, self.controls.astype(np.float32)))

    def evaluate_with_kernel(self, points: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        """points (P, 2) and their kernel against the controls (P, N), e.g. partly precomputed -> (P, 2)."""
        pts = points.astype(np.float32)
        return kernel @ self.weights.astype(np.float32) + self.affine[0] + pts @ self.affine[1:].astype(np.float32)
