"""The training-free motion estimator (stage 2; docs/DESIGN.md): speech -> visemes -> continuous keypoint trajectories.

1. Timed phones (pocketsphinx) give viseme targets (open, width, round) with a dominance
   weight each (coarticulation); without phones, the speech envelope and spectrum do.
2. A weighted smoothing spline turns the targets into a continuous trajectory
   (`frond.motion.trajectory`); `smoothing` sets its stiffness. Loudness scales the
   opening; a speech gate and a bilabial-closure channel close the mouth in pauses and
   on p/b/m.
3. Blinks, brows on emphasis and the head's pose (the global motion) are added, and the
   68 keypoints follow (`frond.motion.shape`, `frond.motion.head`).
"""
from __future__ import annotations

import numpy as np

from ..audio.features import spectral_shape, voice_activity
from ..audio.phone_worker import PhoneSource
from ..audio.phones import Phone
from ..audio.visemes import is_bilabial, viseme_for
from ..config import GenerationSettings
from ..face.ibug import mouth_opening, mouth_width
from ..stages import PriorStage
from ..types import AudioClip, MotionSequence
from .idle import envelope_grid, idle_motion, pose_keypoints
from .shape import deform
from .trajectory import Trajectory, stiffness

MAX_GAP = 0.32  # inner-lip gap at open = 1, in inter-ocular distances
LOUDNESS = 0.45  # how much loudness scales the opening (0 = phones alone)
GATE_THRESHOLD = 0.2  # envelope level (0..1 over 40 dB) below which the mouth closes: a pause (tuned on real clips)
LEAD_S = 0.04  # the mouth shapes a sound this early: real onsets and closures lead the voice (best of 0-120 ms on 42 real clips)


def viseme_targets(phones: list[Phone], grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """phones + grid (N,) -> targets (N, 3) open/width/round, weights (N,), bilabial core (N,)."""
    targets = np.zeros((grid.size, 3))
    weights = np.full(grid.size, 3.0)  # silence between phones
    closure = np.zeros(grid.size)
    for phone in phones:
        inside = (grid >= phone.start) & (grid < phone.end)
        if not inside.any():
            continue
        v = viseme_for(phone.label)
        targets[inside] = (v.open, v.width, v.round)
        weights[inside] = v.dominance
        if is_bilabial(phone.label):
            margin = 0.2 * (phone.end - phone.start)
            closure[(grid >= phone.start + margin) & (grid < phone.end - margin)] = 1.0
    return targets, weights, closure


def energy_targets(audio: AudioClip, grid: np.ndarray, env: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fallback without phones: opening from the envelope, spread/rounding from the spectrum."""
    shape = spectral_shape(audio.samples, audio.sample_rate, grid)
    targets = np.stack([0.85 * env ** 0.8, 0.5 * shape, 0.5 * np.clip(-shape, 0, 1)], axis=1)
    return targets, np.ones(grid.size)


def viseme_trajectory(audio: AudioClip, phones: list[Phone] | None, smoothing: float,
                      envelope: tuple[np.ndarray, np.ndarray]) -> Trajectory:
    """Phones (or, without them, the energy fallback) -> the continuous mouth trajectory with
    channels open, width, round and closure; loudness scales the opening, pauses close it."""
    grid, env = envelope
    gate = voice_activity(env, threshold=GATE_THRESHOLD)
    if phones:
        targets, weights, closure = viseme_targets(phones, grid)
    else:
        (targets, weights), closure = energy_targets(audio, grid, env), np.zeros(grid.size)
    targets[:, 0] *= (1.0 - LOUDNESS + LOUDNESS * env) * gate  # loud syllables open more; pauses close
    targets[:, 1:] *= gate[:, None]
    weights = np.where(gate < 0.5, np.maximum(weights, 3.0), weights)
    values = np.concatenate([targets, closure[:, None]], axis=1)
    w = np.stack([weights] * 3 + [np.ones(grid.size)], axis=1)
    return Trajectory.smooth(grid, values, ("open", "width", "round", "closure"), w, stiffness(smoothing))


def viseme_features(samples: np.ndarray, sample_rate: int, phones: list[Phone] | None, n_frames: int) -> np.ndarray:
    """The prior's mouth channels as features for the learned motion: (4, n_frames) at 100 Hz
    (open, width, round, closure at default smoothing); zeros without phones."""
    if not phones:
        return np.zeros((4, n_frames), np.float32)
    audio = AudioClip(samples=samples, sample_rate=sample_rate, duration=samples.size / sample_rate)
    trajectory = viseme_trajectory(audio, phones, 0.5, envelope_grid(audio))
    return trajectory(np.arange(n_frames) / 100.0).T.astype(np.float32)


def mouth_keypoints(source: np.ndarray, trajectory: Trajectory, times: np.ndarray,
                    lip_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The prior's mouth on a portrait: source (68, 2) + its viseme trajectory -> local keypoints
    (T, 68, 2) at `times` (the mouth LEAD_S ahead of the voice), and the open and round channels (T,).

    A portrait with parted lips closes them when the trajectory asks for less than its own opening.
    """
    sampled = trajectory(times + LEAD_S)
    closure = np.clip(1.6 * sampled[:, 3], 0.0, 1.0)
    open_ = np.clip(sampled[:, 0], 0.0, 1.1) * (1.0 - closure) * lip_scale
    width = np.clip(sampled[:, 1], -1.0, 1.0) * lip_scale
    round_ = np.clip(sampled[:, 2], 0.0, 1.0) * lip_scale
    rest_gap = float(mouth_opening(source))  # a parted-lips portrait closes too
    rest = rest_gap / MAX_GAP  # the portrait's own opening, in units of `open`
    open_eff = np.maximum(open_ - rest, 0.0)
    close = np.clip(1.0 - open_ / max(rest, 1e-6), 0.0, 1.0) * rest_gap if rest > 0.02 else np.zeros_like(open_)
    local = deform(source, {"open": open_eff, "close": close, "width": width, "round": round_})
    return local, open_, round_


class PriorMotionEstimator(PriorStage):
    """Stage 2, training-free: see the module docstring."""

    def __init__(self, use_phones: bool = True, source: PhoneSource | None = None) -> None:
        self.use_phones = use_phones
        self.source = source or PhoneSource()  # phones, recognised in a helper process beside the rest of the preparation

    def prefetch(self, audio: AudioClip) -> None:
        """Start recognising the phones of `audio` now; `estimate` collects them."""
        if self.use_phones:
            self.source.prefetch(audio.samples, audio.sample_rate)

    def phones(self, audio: AudioClip) -> tuple[list[Phone] | None, str]:
        """Timed phones, or None with the reason the energy fallback is used."""
        if not self.use_phones:
            return None, "energy/spectrum fallback (phones off)"
        phones, how = self.source.phones(audio.samples, audio.sample_rate)
        if phones is None:
            return None, f"energy/spectrum fallback ({how})"
        return phones, f"{how} -> visemes"

    def trajectory(self, audio: AudioClip, settings: GenerationSettings,
                   envelope: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[Trajectory, np.ndarray, str]:
        """The mouth's continuous trajectory (channels open, width, round, closure) + the 100 Hz envelope.

        `envelope`: the clip's (grid, envelope) from `envelope_grid`, when the caller has it already.
        """
        grid, env = envelope if envelope is not None else envelope_grid(audio)
        phones, how = self.phones(audio)
        return viseme_trajectory(audio, phones, settings.smoothing, (grid, env)), env, how

    def estimate(self, audio: AudioClip, source_keypoints: np.ndarray, times: np.ndarray,
                 settings: GenerationSettings) -> MotionSequence:
        """source_keypoints (68, 2), times (T,) -> MotionSequence at `times`."""
        # what does not need the phones first: they may still be arriving from the helper process
        envelope = envelope_grid(audio)
        idle = idle_motion(audio, times, settings, envelope)
        trajectory, _, how = self.trajectory(audio, settings, envelope)
        local, open_, round_ = mouth_keypoints(source_keypoints, trajectory, times, settings.lip_scale)
        keypoints = pose_keypoints(source_keypoints, local, idle)
        channels = {
            "open": mouth_opening(local).astype(np.float32), "width": mouth_width(local).astype(np.float32),
            "round": round_.astype(np.float32), "viseme_open": open_.astype(np.float32),
            "blink": idle.blink, "brow": idle.brow, "envelope": idle.envelope, "voice": idle.activity,
        }
        return MotionSequence(times=np.asarray(times, np.float64), keypoints=keypoints, head_pose=idle.pose,
                              channels=channels, source=f"{self.name}: {how}")
