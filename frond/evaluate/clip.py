"""One clip's self-reconstruction: its first frame is the portrait, its own audio the driver; the
pipeline generates a video, and it is compared with the real frames (docs/DESIGN.md, "Measures of
quality"). Both videos are seen through the same crop: each real frame is warped with the portrait's
alignment transform, so the generated crop and the real crop show the same pixels where nothing moved.
Landmarks are re-detected on both crops by the same backend; the measures are in `frond.metrics`.

With `baselines` two reference rows come from the same run: the still portrait repeated (the floor)
and the real video itself (the ceiling).
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import metrics
from .report import CEILING, FLOOR, GENERATED, row_name

if TYPE_CHECKING:
    from ..pipeline import FrondPipeline

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")


class ClipSkipped(Exception):
    """A clip that cannot be used (no face, no audio, ...); the message is the reason."""


def find_clips(folder: Path) -> list[Path]:
    """The video files directly in `folder`, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def evaluate_clip(
    pipe: FrondPipeline,
    path: Path,
    work: Path,
    size: int = 256,
    backend: str = "mediapipe",
    baselines: bool = False,
    max_seconds: float | None = None,
    motions: tuple[str, ...] = ("learned",),
    sync_shift: int = 0,
) -> dict[str, Any]:
    """Self-reconstruct one clip and measure it. Raises ClipSkipped when it cannot be used.

    `motions`: the motion paths to generate with ("learned", "prior"); one gives the row
    GENERATED, several give one row each, named `row_name(motion)`.
    `sync_shift`: frames by which this recording's video is read later than its audio to align it
    (`frond.train.data.PreparedClip.sync_shift`); each generated row's `mouth_corr_synced` is its lag-0
    mouth correlation against the real mouth so aligned (`mouth_corr` when 0).
    """
    import av
    from scipy.io import wavfile

    from ..audio.features import speech_envelope
    from ..config import CROP, GenerationSettings
    from ..face.align import warp_to_crop
    from ..face.landmarks import detect_faces
    from ..media import load_audio, probe_video, read_video_frames

    timings: dict[str, float] = {}
    tick = time.perf_counter()
    try:
        info = probe_video(path)
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise ClipSkipped(f"not a readable video ({type(exc).__name__})") from None
    if info.get("video_codec") is None:
        raise ClipSkipped("no video stream")
    if info.get("audio_codec") is None:
        raise ClipSkipped("no audio track")
    fps = info.get("fps")
    if not fps or not 1.0 <= float(fps) <= 60.0:
        raise ClipSkipped(f"frame rate {fps} is outside 1..60 fps")
    fps = float(fps)
    frames_iter = read_video_frames(path)
    first = next(frames_iter, None)
    frames_iter.close()
    if first is None:
        raise ClipSkipped("no decodable video frame")
    faces = detect_faces(first, backend=backend)
    if not faces:
        raise ClipSkipped("no face in the first frame")

    audio = load_audio(path)  # FrondInputError (too short, corrupt) -> skipped by the caller
    samples = audio.samples
    if max_seconds is not None:
        samples = samples[: int(round(max_seconds * audio.sample_rate))]
    if np.sqrt(np.mean(samples.astype(np.float64) ** 2)) < 1e-4:
        raise ClipSkipped("the audio track is silent")
    wav = work / f"{path.stem}.wav"
    wavfile.write(wav, audio.sample_rate, (np.clip(samples, -1, 1) * 32767).astype(np.int16))
    timings["read"] = time.perf_counter() - tick

    names = {m: GENERATED if len(motions) == 1 else row_name(m) for m in motions}
    generated_by: dict[str, np.ndarray] = {}
    results: dict[str, Any] = {}
    for motion in motions:
        tick = time.perf_counter()
        result = pipe.generate(portrait=first, audio=wav, out_path=work / f"{path.stem}.{motion}.mp4",
                               settings=GenerationSettings(size=size, fps=fps, motion=motion, framing=CROP))
        timings[f"generate {motion}"] = time.perf_counter() - tick
        generated = [f for f in read_video_frames(result.video_path)]
        if generated and generated[0].shape[:2] != (size, size):
            raise ClipSkipped(f"the generated video is {generated[0].shape[1]}x{generated[0].shape[0]}, not the {size}px crop")
        generated_by[motion] = np.stack(generated)
        results[motion] = result

    tick = time.perf_counter()
    # the portrait's crop transform, in the pixels of the original frame
    matrix = np.asarray(result.aligned.crop_from_image, dtype=np.float64)
    ph, pw = result.aligned.portrait.shape[:2]
    if (ph, pw) != first.shape[:2]:  # the pipeline downscaled the portrait
        matrix = matrix @ np.diag([pw / first.shape[1], ph / first.shape[0], 1.0])
    portrait = result.aligned.image
    n_real_max = int(info.get("frames") or 0) or None
    limit = min(len(g) for g in generated_by.values())
    if max_seconds is not None:
        limit = min(limit, int(math.floor(max_seconds * fps + 1e-6)))
    real: list[np.ndarray] = []
    frames_iter = read_video_frames(path)
    for frame in frames_iter:
        if len(real) >= limit:
            break
        real.append(warp_to_crop(frame, matrix, size))
    frames_iter.close()
    n = min(len(real), limit)
    if n < 3:
        raise ClipSkipped(f"only {n} frames to compare")
    real_frames = np.stack(real[:n])
    del real
    timings["decode"] = time.perf_counter() - tick

    tick = time.perf_counter()
    real_lms = detect_sequence(real_frames, backend)
    gen_lms = {m: detect_sequence(g[:n], backend) for m, g in generated_by.items()}
    portrait_found = detect_faces(portrait, backend=backend)
    portrait_lms = portrait_found[0].landmarks.astype(np.float64) if portrait_found else np.full((68, 2), np.nan)
    timings["landmarks"] = time.perf_counter() - tick

    times = np.arange(n) / fps  # presentation times
    envelope = np.asarray(speech_envelope(samples, audio.sample_rate, times), dtype=np.float64)

    tick = time.perf_counter()
    rows = {names[m]: metrics.compare(gen_lms[m], real_lms, envelope, generated_by[m][:n], real_frames, portrait)
            for m in motions}
    real_opening = metrics.opening_series(real_lms)
    closed_real = metrics.closed_level(real_opening)
    seen_by = {m: metrics.opening_series(gen_lms[m]) for m in motions}  # re-detected opening
    driving_by = {m: _driving_opening(results[m].motion.keypoints[:n]) for m in motions}  # what the motion asked for
    for m in motions:  # does the renderer show the motion it is given: re-detected opening vs the driving keypoints'
        driving, seen = driving_by[m], seen_by[m]
        fits = driving.size == n
        rows[names[m]]["mouth_corr_synced"] = metrics.correlation_at_lag(seen, real_opening, -sync_shift)
        rows[names[m]]["render_fidelity"] = metrics.pearson(seen, driving) if fits else math.nan
        # closed lips read as closed: where the motion asks for them, against the real speaker's own closed mouth
        rows[names[m]]["closed_opening"] = metrics.closed_opening(seen, driving) if fits else math.nan
        rows[names[m]]["closed_real"] = closed_real
    still_lms = np.repeat(portrait_lms[None], n, axis=0)
    if baselines:
        still_frames = np.broadcast_to(portrait, real_frames.shape)
        rows[FLOOR] = metrics.compare(still_lms, real_lms, envelope, still_frames, real_frames, portrait)
        rows[CEILING] = metrics.compare(real_lms, real_lms, envelope, real_frames, real_frames, portrait)
    timings["measure"] = time.perf_counter() - tick

    first_motion = motions[0]
    return {
        "clip": path.name,
        "fps": fps,
        "frames": n,
        "frames_in_clip": n_real_max,
        "seconds": round(n / fps, 3),
        "rows": rows,
        "series": {
            "times": times,
            "mouth_real": real_opening,
            "mouth_generated": seen_by[first_motion],
            "mouth_portrait": float(metrics.opening_series(portrait_lms)[0]),
            "envelope": envelope,
            "mouth_driving": driving_by[first_motion],
        },
        "modes": dict(results[first_motion].modes),
        "stage_weights": dict(results[first_motion].stage_weights),
        "timings": {k: round(v, 2) for k, v in timings.items()},
    }


def detect_sequence(frames: np.ndarray, backend: str) -> np.ndarray:
    """Landmarks of the largest face in each frame: (T, H, W, 3) -> (T, 68, 2), NaN where none."""
    from ..face.landmarks import detect_faces

    out = np.full((len(frames), 68, 2), np.nan)
    for t, frame in enumerate(frames):
        found = detect_faces(np.ascontiguousarray(frame), backend=backend)
        if found:
            out[t] = found[0].landmarks
    return out


def _driving_opening(keypoints: np.ndarray) -> np.ndarray:
    """The mouth opening the motion stage asked for (from its keypoints, not re-detected)."""
    try:
        return metrics.opening_series(np.asarray(keypoints, dtype=np.float64))
    except ValueError:
        return np.zeros(0)
