"""Video-driven motion (reenactment): a driving video's face moves the portrait.

The motion stage's variant whose source is a video's landmark track instead of speech. As in
LivePortrait's relative mode, the driving face's motion is taken **relative to its first frame**,
so the portrait keeps its own face shape, pose and place, and moves as the driver moves:

1. `read_driving_video`: the 68 landmarks of the driving face in every frame
   (`frond.face.landmarks.detect_faces`; frames without a face are filled from their neighbours),
   smoothed a little in time (MediaPipe's frame-to-frame jitter; blinks survive), and the video's
   soundtrack (a driving video without one gives a silent output).
2. Everything is measured in the driving face's own frame *of its first frame* (origin between the
   eyes, x along the eye line, unit = the inter-ocular distance: `frond.face.ibug.face_frame`).
   The head's motion since the first frame, `pose` (yaw, pitch, roll, shift x, y), is fitted per
   frame to the rigid landmarks (jaw corners, nose, eye corners) under the same rigid head model
   that moves the portrait (`frond.face.head.HeadGeometry`), so the two agree by construction
   (`frond.face.head.head_pose_from_keypoints` starts the fit). The **expression** is what the head's
   motion leaves: the landmarks minus the first frame's landmarks moved by that pose, turned back
   into the head's own frame.
3. On the portrait: its keypoints plus the expression (in the portrait's face frame, scaled by its
   inter-ocular distance), then moved by the pose (`HeadGeometry.rotate`, the shift rotated into the
   portrait's frame). Each landmark's expression is first shortened by a deadband (`EXPRESSION_DEADBAND`),
   so the driver's landmark jitter leaves a still face still. Driving a clip's first frame with the clip
   itself gives back the clip's own landmarks (less that deadband), whatever the fitted pose.

Sampled at the output's frame times by linear interpolation of the track (any output fps).
`settings.head_motion` scales the pose (0: expression only, the head stays), `settings.lip_scale`
the mouth's expression; blinks and brows come with the landmarks (`blink_rate`, `seed`,
`smoothing` and `motion` do not act here).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from scipy.ndimage import gaussian_filter1d

from ..config import DEFAULT_LIMITS, GenerationSettings, Limits
from ..errors import FrondInputError
from ..face.head import HeadGeometry, fit_poses, keypoint_depth, to_face_frame
from ..face.ibug import MOUTH, eye_openness, face_frame, mouth_opening, mouth_width
from ..stages import PriorStage
from ..types import AudioClip, MotionSequence
from .idle import envelope_grid

SMOOTH_S = 0.03  # seconds: the Gaussian smoothing of the landmark track in time (sigma; a blink lasts 0.1-0.4 s)
MIN_FACE_SHARE = 0.5  # a driving video must show a face in at least this share of its frames
JAW_AND_MOUTH = np.r_[4:13, MOUTH]  # what `lip_scale` scales: the lower jaw and the lips
EXPRESSION_DEADBAND = 0.01  # inter-ocular distances: each landmark's expression offset is shrunk by this much, so the
# driver's landmark jitter leaves a still face still (reenactment of the 12 shared clips: mouth PSNR +0.08 dB on average,
# the stillest speaker's +0.38 dB over its still frame; 0.005 and 0.02 gave +0.06 and +0.03)


@dataclass
class LandmarkTrack:
    """The driving face, frame by frame."""

    times: np.ndarray  # (N,) seconds: each frame's presentation time (frame i at i / fps)
    landmarks: np.ndarray  # (N, 68, 2) float64 video pixels, smoothed in time; frames without a face filled in
    raw: np.ndarray  # (N, 68, 2) float64 the detector's own landmarks, NaN where it found no face
    size: tuple[int, int]  # (height, width) of the video's frames

    @property
    def found(self) -> np.ndarray:
        """(N,) bool: the detector found a face in this frame."""
        return np.isfinite(self.raw).all(axis=(1, 2))


@dataclass
class DrivingVideo:
    """A driving video, read: its face's track and its soundtrack."""

    path: Path
    fps: float  # the video's frame rate
    track: LandmarkTrack
    audio: AudioClip  # the soundtrack (16 kHz analysis copy), silent (path None) when the video has none; duration = the video's

    @property
    def has_sound(self) -> bool:
        return self.audio.path is not None


def fill_gaps(raw: np.ndarray) -> np.ndarray:
    """(N, 68, 2) with NaN frames -> every frame filled by linear interpolation between the nearest found
    frames (held constant before the first and after the last)."""
    found = np.isfinite(raw).all(axis=(1, 2))
    index = np.arange(raw.shape[0])
    flat = raw.reshape(raw.shape[0], -1)
    filled = np.stack([np.interp(index, index[found], flat[found, k]) for k in range(flat.shape[1])], axis=1)
    return filled.reshape(raw.shape)


def read_driving_video(path: str | os.PathLike, backend: str = "auto", limits: Limits = DEFAULT_LIMITS,
                       progress: Callable[[float], None] | None = None) -> DrivingVideo:
    """A driving video -> its landmark track and soundtrack. FrondInputError when it cannot drive:
    not a video, too long or too short (the audio limits), no face in most frames."""
    import av

    from ..face.landmarks import detect_faces
    from ..media import load_audio, probe_video, read_video_frames

    path = Path(path)
    if not path.is_file():
        raise FrondInputError(f"Driving video not found: {path}. Give a video of a talking face (MP4, MOV, WebM, ...).")
    try:
        info = probe_video(path)
    except (av.FFmpegError, OSError, UnicodeDecodeError):
        info = {}
    fps = float(info.get("fps") or 0.0)
    if info.get("video_codec") is None or not 1.0 <= fps <= 120.0:
        raise FrondInputError(f"Could not read {path.name!r} as a video with a frame rate of 1-120 fps. "
                              "Give a video of a talking face (MP4, MOV, WebM, ...).")
    expected = int(info.get("frames") or 0)
    raw: list[np.ndarray] = []
    size = (0, 0)
    max_frames = int(limits.max_audio_seconds * fps) + 1
    try:
        for frame in read_video_frames(path):
            if len(raw) >= max_frames:
                raise FrondInputError(f"The driving video is longer than the limit of {limits.max_audio_seconds:.0f} s. "
                                      "Trim it, or raise the limit (CLI: --max-audio-seconds; app: FROND_MAX_AUDIO_SECONDS).")
            size = (int(frame.shape[0]), int(frame.shape[1]))
            faces = detect_faces(frame, backend=backend, max_faces=1)
            raw.append(faces[0].landmarks.astype(np.float64) if faces else np.full((68, 2), np.nan))
            if progress is not None and expected:
                progress(min(1.0, len(raw) / expected))
    except (av.FFmpegError, ValueError) as exc:
        raise FrondInputError(f"The driving video {path.name!r} is corrupt and could not be decoded "
                              f"({type(exc).__name__}).") from None
    seconds = len(raw) / fps
    if seconds < limits.min_audio_seconds or len(raw) < 2:
        raise FrondInputError(f"The driving video is {seconds:.2f} s long; at least {limits.min_audio_seconds:.1f} s "
                              "(and two frames) are needed.")
    track = np.stack(raw)
    found = np.isfinite(track).all(axis=(1, 2))
    if found.mean() < MIN_FACE_SHARE:
        raise FrondInputError(f"The driving video shows a face in only {int(found.sum())} of its {len(raw)} frames. "
                              "Use a video where one face is visible, turned towards the camera, most of the time.")
    smoothed = gaussian_filter1d(fill_gaps(track), SMOOTH_S * fps, axis=0, mode="nearest")
    times = np.arange(len(raw)) / fps
    if info.get("audio_codec") is not None:
        clip = load_audio(path, limits)
        audio = AudioClip(samples=clip.samples, sample_rate=clip.sample_rate, duration=seconds, path=clip.path)
    else:
        audio = AudioClip(samples=np.zeros(int(seconds * 16000), np.float32), sample_rate=16000, duration=seconds)
    return DrivingVideo(path=path, fps=fps, track=LandmarkTrack(times=times, landmarks=smoothed, raw=track, size=size),
                        audio=audio)


def deadband(offsets: np.ndarray, width: float) -> np.ndarray:
    """Offsets (..., 2) each shortened by `width` along its own direction (none shorter than `width` is left): a soft
    threshold, so that motion under the landmarks' noise does not move the portrait and larger motion keeps its shape."""
    size = np.linalg.norm(offsets, axis=-1, keepdims=True)
    return offsets * np.maximum(size - width, 0.0) / np.maximum(size, 1e-12)


def sample_track(track: LandmarkTrack, times: np.ndarray) -> np.ndarray:
    """The track's landmarks at `times` (T,) seconds, linearly interpolated (held at the ends) -> (T, 68, 2)."""
    flat = track.landmarks.reshape(track.landmarks.shape[0], -1)
    t = np.clip(np.asarray(times, np.float64), track.times[0], track.times[-1])
    return np.stack([np.interp(t, track.times, flat[:, k]) for k in range(flat.shape[1])], axis=1).reshape(-1, 68, 2)


def linear_part(geometry: HeadGeometry, pose: np.ndarray) -> np.ndarray:
    """(2, 2): how `geometry.rotate` at `pose` moves an offset in the image plane (at fixed depth), column per axis."""
    base = geometry.rotate(np.zeros((3, 2)), pose, np.zeros(3))
    moved = geometry.rotate(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), pose, np.zeros(3))
    return (moved - base)[1:].T


class VideoMotionEstimator(PriorStage):
    """Stage 2, driven by a video's face (see the module docstring). One per driving video."""

    def __init__(self, driving: DrivingVideo) -> None:
        self.driving = driving
        self.name = f"driving video: {driving.path.name}"

    def prefetch(self, audio: AudioClip) -> None:
        """Nothing to start: the track was read with the video."""

    def estimate(self, audio: AudioClip, source_keypoints: np.ndarray, times: np.ndarray,
                 settings: GenerationSettings) -> MotionSequence:
        """source_keypoints (68, 2), times (T,) seconds -> the driving face's motion on the portrait at `times`."""
        times = np.asarray(times, np.float64)
        source = np.asarray(source_keypoints, np.float64)
        track = self.driving.track
        first = track.landmarks[0]
        reference = to_face_frame(first, first)  # (68, 2) the first frame in its own face frame
        frames = to_face_frame(sample_track(track, times), first)  # (T, 68, 2)
        poses = fit_poses(reference, frames)
        driver = HeadGeometry(reference)
        driver_depth = keypoint_depth(driver, reference)
        moved = driver.rotate_frames(np.broadcast_to(reference, frames.shape), poses, driver_depth)  # (T, 68, 2)
        linear = np.stack([linear_part(driver, pose) for pose in poses])  # (T, 2, 2)
        # what the head's motion leaves, in the head's own frame
        expression = np.linalg.solve(linear, (frames - moved).transpose(0, 2, 1)).transpose(0, 2, 1)
        expression = deadband(expression, EXPRESSION_DEADBAND)
        expression[:, JAW_AND_MOUTH] *= settings.lip_scale
        poses *= settings.head_motion
        _, axes, iod = face_frame(source)
        head_pose = np.concatenate([poses[:, :3], poses[:, 3:] @ axes], axis=1).astype(np.float32)  # shift: crop axes
        local = source[None] + iod * expression @ axes  # (T, 68, 2) the portrait with the driver's expression
        geometry = HeadGeometry(source)
        depth = keypoint_depth(geometry, source)
        keypoints = geometry.rotate_frames(np.asarray(local, np.float64), head_pose, depth).astype(np.float32)
        openness = np.array([eye_openness(k) for k in local]) / np.maximum(eye_openness(source), 1e-9)
        grid, envelope = envelope_grid(audio)
        channels = {
            "open": mouth_opening(local).astype(np.float32), "width": mouth_width(local).astype(np.float32),
            "blink": np.clip(1.0 - openness.mean(axis=1), 0.0, 1.0).astype(np.float32),
            "envelope": np.interp(times, grid, envelope).astype(np.float32),
        }
        found = track.found
        how = f"{int(found.sum())} of {found.size} frames with a face, relative to the first frame"
        return MotionSequence(times=times, keypoints=keypoints, head_pose=head_pose, channels=channels,
                              source=f"{self.name} ({how})")
