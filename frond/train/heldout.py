"""Held-out evaluation of the learned stages on prepared clips.

render: the clip's first frame is the source; held-out frames (the clips of held-out
speakers, or the last part of each clip with the time split; never frame 0 itself) are
reconstructed from their measured keypoints; PSNR / SSIM on the crop, next to the "copy the
source frame" baseline.
motion: held-out clips whole (speakers never trained on), the first frame as the portrait:
the correlation of the driving mouth opening with the real one at lag 0 and at the best
lag, and the amplitude ratio (`evaluate_motion`).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..motion.global_stream import facing
from ..motion.learned import LearnedMotionEstimator
from ..weights.model import FrondModel
from .data import PreparedClip, pair
from .losses import psnr, ssim


@torch.no_grad()
def evaluate_render(model: FrondModel, clips: list[PreparedClip], image_size: int, holdout: float = 0.2,
                    device: str = "cpu", max_frames: int = 16, batch: int = 8) -> dict[str, float]:
    """-> {"psnr", "ssim", "psnr_copy_source", "ssim_copy_source", "n_frames"} over held-out frames."""
    model.eval()
    scores: dict[str, list[float]] = {"psnr": [], "ssim": [], "psnr_copy_source": [], "ssim_copy_source": []}
    for clip in clips:
        held = clip.split(holdout)[1]
        held = held[held != 0]  # frame 0 is the source: scoring it would score a copy
        if len(held) > max_frames:
            held = held[np.linspace(0, len(held) - 1, max_frames).round().astype(int)]
        for i in range(0, len(held), batch):
            items = [pair(clip, 0, int(f), image_size) for f in held[i:i + batch]]
            b = {k: torch.stack([it[k] for it in items]).to(device) for k in items[0]}
            out = model.reconstruct(b["source"], b["source_kp"], b["source_pose"], b["driving_kp"], b["driving_pose"])
            pred = out["image"].float().clamp(-1, 1)
            scores["psnr"] += psnr(pred, b["driving"]).tolist()
            scores["ssim"] += ssim(pred, b["driving"]).tolist()
            scores["psnr_copy_source"] += psnr(b["source"], b["driving"]).tolist()
            scores["ssim_copy_source"] += ssim(b["source"], b["driving"]).tolist()
    result = {k: round(float(np.mean(v)), 4) for k, v in scores.items()}
    result["n_frames"] = len(scores["psnr"])
    return result


HEAD_MEASURES = ("head_roll", "head_yaw", "head_shift")  # generated over real spread of roll, yaw, the shift's size
FACE_MEASURES = (*HEAD_MEASURES, "brows")  # and of the brows' height over the eyes (`frond.metrics.brow_raise`)


def head_spreads(pose: np.ndarray) -> np.ndarray:
    """A head pose track (T, 5) -> (3,) its spread: roll and yaw std (degrees), the shift's std (inter-ocular
    distances, both axes together)."""
    pose = np.asarray(pose, np.float64)
    return np.array([pose[:, 2].std(), pose[:, 0].std(), float(np.sqrt(pose[:, 3].var() + pose[:, 4].var()))])


@torch.no_grad()
def evaluate_motion(model: FrondModel, clips: list[PreparedClip], device: str = "cpu",
                    calibration: dict[str, float] | None = None) -> dict:
    """The learned motion stage of `model` (`calibration` overrides its config's gain, lead, head_gain, ...)
    on held-out clips: `evaluate_motion_stage`."""
    from dataclasses import asdict

    from ..motion.learned import LearnedMotionEstimator, motion_net

    model.eval()
    tensors = {k: v.detach().float().cpu().numpy() for k, v in model.motion.state_dict().items()}
    stage = LearnedMotionEstimator(motion_net(tensors, {**asdict(model.config.motion), **(calibration or {})}), "evaluation")
    return evaluate_motion_stage(stage, clips)


def evaluate_motion_stage(stage: LearnedMotionEstimator, clips: list[PreparedClip], seed: int = 0) -> dict:
    """Each clip whole, exactly as the pipeline's motion stage makes it (`frond.motion.learned`): its
    first frame's keypoints are the portrait, its audio drives the face; the driving mouth opening
    is compared with the real one, and the head's motion (seed `seed`) with the real head's spread.

    -> {"open_r": mean lag-0 correlation, "open_r_synced": the same against the clip aligned by its own
    audio/video offset as training aligns it (`PreparedClip.sync_shift`), "open_r_best": mean best within
    +-2 frames, "lag": mean best lag (positive: the prediction trails), "amplitude": mean std ratio, "amplitude_median": its median,
    FACE_MEASURES: the median over clips of generated over real spread (the brows' with the emphasis raise the
    pipeline adds, head still), "n_clips", "clips": {name: {...}}}.
    """
    from ..config import GenerationSettings
    from ..metrics import amplitude_ratio, brow_raise, correlation_at_lag, lagged_correlation, opening_series, pearson
    from ..motion.idle import envelope_grid, pose_keypoints
    from ..types import AudioClip

    rows: dict[str, dict[str, float]] = {}
    settings = GenerationSettings(seed=seed)
    for clip in clips:
        n = min(clip.n_frames, int(clip.audio.size / 16000 * clip.fps))
        if n < 10:
            continue
        times = np.arange(n) / clip.fps
        audio = AudioClip(samples=clip.audio, sample_rate=16000, duration=clip.audio.size / 16000)
        outputs = stage.outputs(audio, clip.phones)
        envelope = envelope_grid(audio)
        driving, _ = stage.local_face(audio, clip.keypoints[0], times, settings, envelope, clip.phones, outputs)
        pred, real = opening_series(driving), opening_series(clip.keypoints[:n])
        best, lag = lagged_correlation(pred, real, 2)
        idle = stage.idle(audio, times, settings, envelope)  # the brows' emphasis raise; no blinks, no head
        face = pose_keypoints(clip.keypoints[0], driving, replace(idle, blink=0 * idle.blink, pose=0 * idle.pose))
        rows[clip.name] = {"open_r": pearson(pred, real), "open_r_synced": correlation_at_lag(pred, real, -clip.sync_shift),
                           "open_r_best": best, "lag": lag,
                           "amplitude": amplitude_ratio(pred, real), "frames": n,
                           "brows": amplitude_ratio(brow_raise(face), brow_raise(clip.keypoints[:n]))}
        if stage.net.head and clip.head is not None:
            pose = stage.net.head_pose(outputs, times, settings.smoothing, 1.0, np.random.default_rng([seed, 7]),
                                      facing(clip.keypoints[0]))
            ratio = head_spreads(pose) / np.maximum(head_spreads(clip.head[:n]), 1e-6)
            rows[clip.name].update(dict(zip(HEAD_MEASURES, ratio.tolist())))
    if not rows:
        return {"n_clips": 0}
    mean = {k: round(float(np.nanmean([r[k] for r in rows.values()])), 4) for k in ("open_r", "open_r_synced", "open_r_best", "lag", "amplitude")}
    mean["amplitude_median"] = round(float(np.nanmedian([r["amplitude"] for r in rows.values()])), 4)
    for k in FACE_MEASURES:
        values = [r[k] for r in rows.values() if k in r and np.isfinite(r[k])]
        if values:
            mean[k] = round(float(np.median(values)), 4)
    return {**mean, "n_clips": len(rows), "n_frames": int(sum(r["frames"] for r in rows.values())),
            "clips": {k: {m: round(float(v), 4) for m, v in r.items()} for k, r in rows.items()}}
