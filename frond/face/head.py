"""The portrait's head as a rigid body: depth from a face ellipsoid, a pivot near the neck.

Pose is applied as a 3D rotation of points (keypoints, the field's virtual head points)
about the pivot, then orthographic projection: the same rigid motion moves the 68
keypoints (`frond.motion.idle`) and the dense field's head points (`frond.field.prior`).
Its centre, radii and inter-ocular distance are the training-free global code
(`frond.face.encoder`).
"""
from __future__ import annotations

import numpy as np

from .ibug import inter_ocular


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Degrees -> (3, 3) rotation, x right, y down, z towards the camera."""
    y, p, r = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


class HeadGeometry:
    """Depth and pivot of one source face, for rotating points with the head."""

    def __init__(self, keypoints: np.ndarray) -> None:
        """keypoints (68, 2), normalised crop space."""
        self.iod = float(inter_ocular(keypoints))
        self.centre = np.array([(keypoints[:, 0].min() + keypoints[:, 0].max()) / 2, keypoints[27:36, 1].mean()])
        self.radii = np.array([0.55 * (keypoints[:, 0].max() - keypoints[:, 0].min()), 1.3 * self.iod])
        self.pivot = np.array([self.centre[0], self.centre[1] + 0.8 * self.iod, -1.2 * self.iod])

    def depth(self, points: np.ndarray) -> np.ndarray:
        """points (N, 2) -> (N,) depth on the face ellipsoid (towards the camera), nose raised."""
        d = (points - self.centre) / self.radii
        return 1.1 * self.iod * np.sqrt(np.clip(1.0 - (d ** 2).sum(-1), 0.0, 1.0))

    def rotate(self, points: np.ndarray, pose: np.ndarray, depth: np.ndarray | None = None) -> np.ndarray:
        """points (N, 2), pose (3,) degrees -> rotated and projected points (N, 2)."""
        z = self.depth(points) if depth is None else depth
        p3 = np.concatenate([points, z[:, None]], axis=1) - self.pivot
        return (p3 @ _rotation(*pose).T + self.pivot)[:, :2]


def keypoint_depth(geometry: HeadGeometry, keypoints: np.ndarray) -> np.ndarray:
    """keypoints (68, 2) -> (68,) depth, with the nose standing out of the ellipsoid."""
    z = geometry.depth(keypoints)
    nose = {27: 0.05, 28: 0.12, 29: 0.22, 30: 0.32, 31: 0.12, 32: 0.16, 33: 0.2, 34: 0.16, 35: 0.12}
    for index, extra in nose.items():
        z[index] += extra * geometry.iod
    return z
