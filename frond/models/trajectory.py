"""The continuous trajectory space: uniform cubic B-splines in time.

A keypoint trajectory is x(t) = sum_i c_i B((t - tau_i) / dt), with control points
c_i at times tau_i = (i - 1) dt (dt = 1 / knot_hz) and B the centred cubic B-spline
kernel. It is a function of time, so it can be sampled at any fps, and it is C2-smooth
by construction. The stiffness setting is a P-spline penalty (Eilers & Marx 1996,
"Flexible smoothing with B-splines and penalties", eq. 7): the coefficients are
replaced by argmin_c' |c' - c|^2 + lambda |D2 c'|^2, i.e. (I + lambda D2^T D2) c' = c.
"""
from __future__ import annotations

import math

import torch


def cubic_bspline_kernel(u: torch.Tensor) -> torch.Tensor:
    """Centred cubic B-spline B(u), support [-2, 2], partition of unity over integer shifts."""
    a = u.abs()
    inner = 2.0 / 3.0 - a ** 2 + a ** 3 / 2.0
    outer = (2.0 - a).clamp(min=0.0) ** 3 / 6.0
    return torch.where(a < 1.0, inner, outer)


def stiffness_from_smoothing(smoothing: float, base: float) -> float:
    """The app's "motion smoothing" slider (0..1) -> P-spline lambda.

    0 -> 0 (follow the network exactly), 0.5 -> `base` (what training used), 1 -> 11 x base.
    """
    return float(base * (100.0 ** smoothing - 1.0) / 9.0)


class BSplineTrajectory:
    """Uniform cubic B-spline with `knot_hz` control points per second."""

    def __init__(self, knot_hz: float) -> None:
        if knot_hz <= 0:
            raise ValueError(f"knot_hz must be > 0, got {knot_hz}")
        self.knot_hz = float(knot_hz)
        self.dt = 1.0 / self.knot_hz

    def n_control(self, duration: float) -> int:
        """Control points that cover [0, duration]."""
        return int(math.ceil(max(duration, 0.0) * self.knot_hz)) + 3

    def knot_times(self, n_control: int, device=None) -> torch.Tensor:
        """(n,) times tau_i of the control points, seconds."""
        return (torch.arange(n_control, device=device, dtype=torch.float32) - 1.0) * self.dt

    def basis(self, times: torch.Tensor, n_control: int) -> torch.Tensor:
        """times (T,) seconds -> basis matrix (T, n): x(times) = basis @ coefficients."""
        tau = self.knot_times(n_control, device=times.device).to(times.dtype)
        return cubic_bspline_kernel((times[:, None] - tau[None, :]) / self.dt)

    def evaluate(self, coefficients: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """coefficients (B, n, ...) , times (T,) -> values (B, T, ...)."""
        b, n = coefficients.shape[:2]
        basis = self.basis(times.to(coefficients.dtype), n)  # (T, n)
        flat = coefficients.reshape(b, n, -1)
        return torch.einsum("tn,bnd->btd", basis, flat).reshape(b, times.shape[0], *coefficients.shape[2:])

    @staticmethod
    def stiffen(coefficients: torch.Tensor, lam: float) -> torch.Tensor:
        """P-spline smoothing of the coefficients along time: (B, n, ...) -> (B, n, ...)."""
        n = coefficients.shape[1]
        if lam <= 0 or n < 3:
            return coefficients
        eye = torch.eye(n, device=coefficients.device, dtype=torch.float32)
        d2 = eye[2:] - 2 * eye[1:-1] + eye[:-2]  # (n - 2, n) second differences
        system = eye + lam * d2.T @ d2
        flat = coefficients.reshape(coefficients.shape[0], n, -1).float()
        smoothed = torch.linalg.solve(system, flat)
        return smoothed.to(coefficients.dtype).reshape(coefficients.shape)
