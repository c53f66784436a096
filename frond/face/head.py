"""The portrait's head as a rigid body: depth from a face ellipsoid, a pivot near the neck.

A head pose is (yaw, pitch, roll) in degrees and a shift (x right, y down) in the face's
inter-ocular distances (`POSE_AXES`). It is applied as a 3D rotation of points (keypoints, the
field's virtual head points) about the pivot, orthographic projection, then the shift: the
same rigid motion moves the 68
keypoints (`frond.motion.idle`) and the dense field's head points (`frond.field.prior`).
Its centre, radii and inter-ocular distance are the training-free global code
(`frond.encoder.prior`).
"""
from __future__ import annotations

import numpy as np

from .ibug import CHIN, NOSE_TIP, eye_centres, face_frame, inter_ocular

JAW_LEFT, JAW_RIGHT = 0, 16  # the jaw's extremes (iBUG-68)
POSE_AXES = ("yaw", "pitch", "roll", "shift x", "shift y")  # a head pose (5,): degrees, then inter-ocular distances


def full_pose(pose: np.ndarray) -> np.ndarray:
    """Poses (..., 3) rotation only, or (..., 5) -> (..., 5) float32 (no shift where none was given)."""
    pose = np.asarray(pose, np.float32)
    if pose.shape[-1] == len(POSE_AXES):
        return pose
    return np.concatenate([pose, np.zeros((*pose.shape[:-1], len(POSE_AXES) - pose.shape[-1]), np.float32)], -1)


def _rotations(angles: np.ndarray) -> np.ndarray:
    """(T, 3) yaw, pitch, roll in degrees -> (T, 3, 3) rotations Rz(roll) Rx(pitch) Ry(yaw), x right, y down,
    z towards the camera."""
    y, p, r = np.radians(np.asarray(angles, np.float64)).T
    one, zero = np.ones_like(y), np.zeros_like(y)
    ry = np.stack([np.stack([np.cos(y), zero, np.sin(y)], -1), np.stack([zero, one, zero], -1),
                   np.stack([-np.sin(y), zero, np.cos(y)], -1)], -2)
    rx = np.stack([np.stack([one, zero, zero], -1), np.stack([zero, np.cos(p), -np.sin(p)], -1),
                   np.stack([zero, np.sin(p), np.cos(p)], -1)], -2)
    rz = np.stack([np.stack([np.cos(r), -np.sin(r), zero], -1), np.stack([np.sin(r), np.cos(r), zero], -1),
                   np.stack([zero, zero, one], -1)], -2)
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
        """points (N, 2), pose (3,) degrees or (5,) with the shift -> moved and projected points (N, 2)."""
        z = self.depth(points) if depth is None else depth
        return self.rotate_frames(np.asarray(points)[None], np.asarray(pose, np.float64)[None], z)[0]

    def rotate_frames(self, points: np.ndarray, poses: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """`rotate` for every frame at once: points (T, N, 2), poses (T, 5), depth (N,) -> (T, N, 2)."""
        poses = np.asarray(poses, np.float64)
        shift = poses[:, None, 3:5] if poses.shape[1] > 3 else np.zeros((len(poses), 1, 2))
        p3 = np.concatenate([points, np.broadcast_to(depth, points.shape[:2])[..., None]], axis=-1) - self.pivot
        moved = (p3 @ _rotations(poses[:, :3]).transpose(0, 2, 1) + self.pivot)[..., :2]
        return moved + self.iod * shift


def keypoint_depth(geometry: HeadGeometry, keypoints: np.ndarray) -> np.ndarray:
    """keypoints (68, 2) -> (68,) depth, with the nose standing out of the ellipsoid."""
    z = geometry.depth(keypoints)
    nose = {27: 0.05, 28: 0.12, 29: 0.22, 30: 0.32, 31: 0.12, 32: 0.16, 33: 0.2, 34: 0.16, 35: 0.12}
    for index, extra in nose.items():
        z[index] += extra * geometry.iod
    return z


def head_pose_from_keypoints(keypoints: np.ndarray) -> np.ndarray:
    """A crude geometric head pose from 2D landmarks, (..., 68, 2) -> (..., 3) degrees.

    roll: angle of the line between the eye centres; yaw: offset of the nose tip from
    the middle of the jaw's extremes (points 0, 16), as the sine of an angle; pitch: the
    nose tip's height between the eye line and the chin relative to a frontal face.
    It is the conditioning of the global stream, not a calibrated 3D pose.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    left, right = eye_centres(kp)
    eyes = right - left
    roll = np.arctan2(eyes[..., 1], eyes[..., 0])
    cos, sin = np.cos(-roll), np.sin(-roll)
    mid = (left + right) / 2

    def unroll(p: np.ndarray) -> np.ndarray:
        d = p - mid
        return np.stack([cos * d[..., 0] - sin * d[..., 1], sin * d[..., 0] + cos * d[..., 1]], -1)

    nose = unroll(kp[..., NOSE_TIP, :])
    jaw_l, jaw_r, chin = unroll(kp[..., JAW_LEFT, :]), unroll(kp[..., JAW_RIGHT, :]), unroll(kp[..., CHIN, :])
    half_width = np.maximum((jaw_r[..., 0] - jaw_l[..., 0]) / 2, 1e-6)
    centre = (jaw_r[..., 0] + jaw_l[..., 0]) / 2
    yaw = np.arcsin(np.clip((nose[..., 0] - centre) / half_width, -1, 1))
    ratio = nose[..., 1] / np.maximum(chin[..., 1], 1e-6)
    pitch = np.arcsin(np.clip((ratio - 0.45) / 0.5, -1, 1))
    return np.stack([np.degrees(yaw), np.degrees(pitch), np.degrees(roll)], -1).astype(np.float32)


ESTIMATE_PER_POSE = np.array([1.0, -0.84, 1.0])  # what `head_pose_from_keypoints` reads of a yaw, pitch, roll that
# `HeadGeometry.rotate` applies (median over 18 prepared clips' faces: yaw 1.02, pitch -0.84 (its sign is the
# other way round), roll 1.0 exactly)


RIGID = np.r_[0:4, 13:17, 27:36, 36, 39, 42, 45]  # landmarks that move with the head only: jaw corners, nose, eye corners
POSE_LOWER = np.array([-60.0, -60.0, -90.0, -5.0, -5.0])  # the fit's reach (`POSE_AXES`)
POSE_UPPER = -POSE_LOWER
PITCH_SIGN = -1.0  # `head_pose_from_keypoints` reads a pitch of the opposite sign to `HeadGeometry.rotate`'s


def to_face_frame(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """points (..., 68, 2) -> the same in `reference`'s (68, 2) face frame (inter-ocular units, x along its eyes)."""
    origin, axes, iod = face_frame(reference)
    return (np.asarray(points, np.float64) - origin) @ axes.T / iod


def fit_poses(reference: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """The head's motion from `reference` (68, 2) to each of `frames` (T, 68, 2), both in the reference's face
    frame (`to_face_frame`): (T, 5) yaw, pitch, roll (degrees), shift x, y (inter-ocular distances) that best
    move the reference's rigid landmarks onto each frame's under the rigid head model that moves the portrait
    (least squares, warm-started frame to frame; `head_pose_from_keypoints` gives the start)."""
    from scipy.optimize import least_squares

    geometry = HeadGeometry(reference)
    depth = keypoint_depth(geometry, reference)[RIGID]
    rigid = reference[RIGID]
    guess = head_pose_from_keypoints(frames) - head_pose_from_keypoints(reference)  # (T, 3)
    poses = np.zeros((frames.shape[0], 5))
    previous = np.zeros(5)
    for t, frame in enumerate(frames):
        # the crude estimate folds over past three-quarter views: start inside the fit's reach
        start = np.clip([guess[t, 0], PITCH_SIGN * guess[t, 1], guess[t, 2], *previous[3:]], POSE_LOWER, POSE_UPPER)

        def residual(pose: np.ndarray, target: np.ndarray = frame[RIGID]) -> np.ndarray:
            return (geometry.rotate(rigid, pose, depth) - target).ravel()

        poses[t] = previous = least_squares(residual, start, x_scale=np.array([10, 10, 10, 0.1, 0.1]),
                                            bounds=(POSE_LOWER, POSE_UPPER)).x
    return poses


def head_track(keypoints: np.ndarray) -> np.ndarray:
    """A face's landmarks over time in one fixed frame (a video's pixels), (T, 68, 2) -> its head pose
    (T, 5) as `HeadGeometry` applies it (`POSE_AXES`): the change from the median frame's pose.

    The rotation comes from `head_pose_from_keypoints` (rescaled to what the renderer applies); the shift
    is what the eye centres moved beyond what that rotation about the neck pivot moves them, in the
    reference frame's inter-ocular distances. These are the training clips' head tracks; `fit_poses` reads a
    head more exactly; why the tracks are not its: README.md, "Train FROND on your own videos".
    """
    kp = np.asarray(keypoints, np.float64)
    estimated = head_pose_from_keypoints(kp).astype(np.float64)
    ref = int(np.argmin(np.abs(estimated - np.median(estimated, 0)).sum(1)))  # the most typical frame
    rotation = (estimated - estimated[ref]) / ESTIMATE_PER_POSE
    geometry = HeadGeometry(kp[ref])
    depth = keypoint_depth(geometry, kp[ref])
    eyes = np.stack(eye_centres(kp[ref]))  # (2, 2)
    eyes_depth = np.array([depth[36:42].mean(), depth[42:48].mean()])
    rotated = np.stack([geometry.rotate(eyes, r, eyes_depth).mean(0) for r in rotation])  # (T, 2)
    left, right = eye_centres(kp)
    shift = ((left + right) / 2 - rotated) / geometry.iod
    return np.concatenate([rotation, shift], 1).astype(np.float32)
