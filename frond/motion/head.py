"""The head's global motion: a pose process (yaw, pitch, roll) and its effect on points.

Pose is applied as a 3D rotation of the keypoints (depth from a face ellipsoid) about
a pivot behind the face near the neck, then orthographic projection: the same rigid
motion moves the 68 keypoints and the field's virtual head points.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ..face.ibug import inter_ocular


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


def pose_process(times: np.ndarray, activity: np.ndarray, emphasis: np.ndarray, pitch: np.ndarray,
                 amount: float, rng: np.random.Generator) -> np.ndarray:
    """The global code over time: (T,) inputs -> (T, 3) yaw, pitch, roll in degrees.

    Slow seeded drift (sums of low-frequency sinusoids), larger while speaking than in
    silence (idle motion), plus nods on emphasis and a slight lift with raised pitch.
    """
    t = np.asarray(times, dtype=np.float64)
    pose = np.zeros((t.shape[0], 3))
    amplitude = np.array([2.2, 1.4, 1.0])  # degrees: yaw, pitch, roll
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
