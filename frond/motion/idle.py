"""What moves besides the mouth, shared by the prior and the learned motion stage.

From the speech envelope and pitch: seeded blinks, brows raised on emphasis, and the
head's pose (the global motion); then the posing of local keypoints by that pose.
`settings.blink_rate`, `head_motion` and `seed` act here, so they mean the same on
either motion path.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ..audio.features import pitch_contour, speech_envelope, voice_activity
from ..config import GenerationSettings
from ..face.head import HeadGeometry, full_pose, keypoint_depth
from ..types import AudioClip
from .blink import blink_curve
from .head import pose_process
from .shape import deform

GRID_HZ = 100.0  # audio curves are computed on this grid, then sampled at the frame times


@dataclass
class IdleMotion:
    """Per-frame curves at the output frame times (T,)."""

    envelope: np.ndarray  # (T,) speech envelope in [0, 1]
    activity: np.ndarray  # (T,) soft speech/silence gate in [0, 1]
    blink: np.ndarray  # (T,) lid closure in [0, 1]
    brow: np.ndarray  # (T,) brow raise
    pose: np.ndarray  # (T, 5) yaw, pitch, roll in degrees, shift x, y in inter-ocular distances: the global motion


def envelope_grid(audio: AudioClip) -> tuple[np.ndarray, np.ndarray]:
    """The clip's speech envelope on the GRID_HZ grid: (N,) times, (N,) envelope. Computed once per clip."""
    grid = np.arange(0.0, audio.duration + 1.0 / GRID_HZ, 1.0 / GRID_HZ)
    return grid, speech_envelope(audio.samples, audio.sample_rate, grid)


def emphasis_curve(env: np.ndarray, hz: float) -> np.ndarray:
    """(N,) envelope -> (N,) emphasis in [0, 1]: strong syllable onsets, smoothed."""
    if env.size < 3:
        return np.zeros_like(env)
    rise = np.maximum(np.gradient(gaussian_filter1d(env, 0.08 * hz)), 0.0)
    scale = np.percentile(rise, 98) if rise.any() else 1.0
    return np.clip(gaussian_filter1d(np.clip(rise / max(scale, 1e-9) - 0.3, 0, 1), 0.15 * hz) * 1.6, 0, 1)


def idle_motion(audio: AudioClip, times: np.ndarray, settings: GenerationSettings,
                envelope: tuple[np.ndarray, np.ndarray] | None = None, head: bool = True) -> IdleMotion:
    """Blinks, brows and head pose for frames at `times` (T,) seconds.

    `envelope`: the clip's (grid, envelope) from `envelope_grid`, when the caller has it already;
    `head`: False leaves the head still (its pose zeros: a learned global stream gives it instead).
    """
    rng = np.random.default_rng(settings.seed)
    grid, grid_env = envelope if envelope is not None else envelope_grid(audio)
    env = np.interp(times, grid, grid_env).astype(np.float32)
    activity = voice_activity(env)
    fps = 1.0 / max(float(np.median(np.diff(times))) if times.size > 1 else 0.04, 1e-3)
    emphasis = emphasis_curve(env, fps)
    blink = blink_curve(times, settings.blink_rate, rng)
    pose = np.zeros((times.size, 3), np.float32)
    if head:
        pitch = pitch_contour(audio.samples, audio.sample_rate, times, (grid, grid_env))
        pose = pose_process(times, activity, emphasis, pitch, settings.head_motion, rng)
    pose = full_pose(pose - pose[:1])  # the first frame holds the portrait's own pose
    brow = (0.8 * emphasis * settings.expression).astype(np.float32)
    return IdleMotion(envelope=env, activity=activity, blink=blink, brow=brow, pose=pose)


def pose_keypoints(source: np.ndarray, local: np.ndarray, idle: IdleMotion) -> np.ndarray:
    """Add blinks and brows to local keypoints (T, 68, 2) of `source` (68, 2), then move them with
    the head pose: 3D rotation on the face's depth -> driving keypoints (T, 68, 2) float32."""
    eyes_brows = deform(source, {"blink": idle.blink, "brow": idle.brow}) - source[None]
    geometry = HeadGeometry(source)
    depth = keypoint_depth(geometry, source)
    moved = np.asarray(local, np.float64) + eyes_brows
    return geometry.rotate_frames(moved, idle.pose, depth).astype(np.float32)
