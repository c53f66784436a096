"""One clip reenacted from its first frame by itself: the renderer measured alone (docs/DESIGN.md, "Measures of
quality": "the renderer alone, by reconstruction").

The clip's first frame is the portrait, the clip itself the driving video (`frond.motion.video`: its face's
motion relative to its first frame), rendered in the default framing, the whole picture at the clip's own
resolution (`max_side` = its long side), so that generated frame i and real frame i are the same pixels where
nothing moved. Measured per frame against the real frame, in two boxes from the real frame's own landmarks (the
driving track's detections): the mouth (`frond.metrics.mouth_region`) and the whole face (`frond.metrics.face_box`):
PSNR and SSIM. The still first frame, repeated, is the floor.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import metrics
from .clip import ClipSkipped
from .report import FLOOR, GENERATED

if TYPE_CHECKING:
    from ..pipeline import FrondPipeline


def region_rows(frames: np.ndarray, real_frames: np.ndarray, landmarks: np.ndarray) -> dict[str, float]:
    """frames, real_frames (T, H, W, 3) uint8, the real frames' landmarks (T, 68, 2) in their pixels (NaN: no face)
    -> psnr_mouth, ssim_mouth, psnr_face, ssim_face (each the mean over the frames with a face)."""
    shape = real_frames.shape[1:3]
    mouths = [metrics.mouth_region(lm, shape) for lm in landmarks]
    faces = [metrics.face_box(lm, shape) for lm in landmarks]
    psnr_mouth, ssim_mouth = metrics.region_scores(frames, real_frames, mouths)
    psnr_face, ssim_face = metrics.region_scores(frames, real_frames, faces)
    return {"psnr_mouth": psnr_mouth, "ssim_mouth": ssim_mouth, "psnr_face": psnr_face, "ssim_face": ssim_face}


def reenact_clip(pipe: FrondPipeline, path: Path, work: Path, size: int = 256, backend: str = "mediapipe",
                 max_seconds: float | None = None) -> dict[str, Any]:
    """Reenact one clip from its first frame, driven by itself, and measure it. Raises ClipSkipped when it cannot
    be used (the caller also catches FrondInputError: no face, too long, ...)."""
    from ..config import GenerationSettings
    from ..media import read_video_frames
    from ..motion.video import read_driving_video

    timings: dict[str, float] = {}
    tick = time.perf_counter()
    driving = read_driving_video(path, backend, pipe.limits)
    frames = read_video_frames(path)
    first = next(frames)
    frames.close()
    timings["track"] = time.perf_counter() - tick
    if not 1.0 <= driving.fps <= 60.0:
        raise ClipSkipped(f"frame rate {driving.fps:g} is outside 1..60 fps")
    tick = time.perf_counter()
    settings = GenerationSettings(size=size, fps=driving.fps, max_side=min(4096, max(first.shape[:2])))
    result = pipe.generate(first, None, work / f"{path.stem}.reenacted.mp4", settings, driving_video=driving)
    timings["generate"] = time.perf_counter() - tick

    tick = time.perf_counter()
    limit = result.n_frames if max_seconds is None else min(result.n_frames, int(max_seconds * driving.fps + 1e-6))
    height, width = result.height, result.width
    if (height, width) != (first.shape[0] // 2 * 2, first.shape[1] // 2 * 2):
        raise ClipSkipped(f"the reenacted video is {width}x{height}, not the clip's {first.shape[1]}x{first.shape[0]}")
    generated = np.stack([f for _, f in zip(range(limit), read_video_frames(result.video_path))])
    real = np.stack([f[:height, :width] for _, f in zip(range(limit), read_video_frames(path))])
    n = min(len(generated), len(real))
    if n < 3:
        raise ClipSkipped(f"only {n} frames to compare")
    generated, real = generated[:n], real[:n]
    landmarks = driving.track.raw[:n]  # the real frames' own landmarks (the detector's, unsmoothed)
    still = np.broadcast_to(real[0], real.shape)
    rows = {GENERATED: region_rows(generated, real, landmarks), FLOOR: region_rows(still, real, landmarks)}
    timings["measure"] = time.perf_counter() - tick
    return {
        "clip": path.name,
        "fps": driving.fps,
        "frames": n,
        "frame_size": f"{width}x{height}",
        "seconds": round(n / driving.fps, 3),
        "faces_found": float(driving.track.found[:n].mean()),
        "rows": rows,
        "modes": dict(result.modes),
        "timings": {k: round(v, 2) for k, v in timings.items()},
    }
