"""`python -m frond prepare VIDEOS_DIR OUT_DIR`: talking-face videos -> training clips.

For each video (with audio): frames resampled to 25 fps, 68 landmarks per frame
(face-alignment when its weights are cached, else MediaPipe), a temporally stable crop
(the pipeline's similarity alignment, smoothed over time), 16 kHz mono audio. Written per
clip into OUT_DIR/<name>/:

- frames.npy     (T, S, S, 3) uint8 RGB crops
- keypoints.npy  (T, 68, 2) float32, normalised crop space
- pose.npy       (T, 3) float32 degrees, geometric head pose (`frond.models.geometry`)
- audio.npy      (N,) float32 16 kHz mono
- meta.json      what was done (written last: a clip with meta.json is complete)

Resumable (complete clips are skipped), bad videos are skipped with a reason recorded in
OUT_DIR/prepare_report.json.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d
from tqdm import tqdm

from ..errors import FrondInputError
from ..audio.mel import SAMPLE_RATE
from ..models.geometry import head_pose_from_keypoints, pixels_to_normalised

PREPARE_VERSION = 1
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
DETECT_MAX_SIDE = 640  # landmarks are found on frames shrunk to this side (speed)


@dataclass(frozen=True)
class PrepareSettings:
    """How videos become clips."""

    size: int = 256  # side of the face crop
    fps: float = 25.0  # frames per second of the clips
    backend: str = "auto"  # landmark backend: auto, mediapipe, fan
    crop_smoothing_s: float = 1.0  # Gaussian sigma (seconds) of the crop's motion over time
    max_missing: float = 0.2  # skip a video when more frames than this fraction have no face
    min_seconds: float = 1.0  # skip videos shorter than this
    overwrite: bool = False  # redo clips that are already complete


class SkipVideo(Exception):
    """A video that cannot be used; the message is the reason."""


def list_videos(videos_dir: Path) -> list[Path]:
    if not videos_dir.is_dir():
        raise FrondInputError(f"videos folder not found: {videos_dir}")
    videos = sorted(p for p in videos_dir.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    if not videos:
        raise FrondInputError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) in {videos_dir}")
    return videos


def resampled_frames(path: Path, fps: float):
    """Decode a video (PyAV) and yield (index, time, frame (H, W, 3) uint8) at `fps`, nearest frame."""
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise SkipVideo("no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        j, prev = 0, None
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            cur = (float(frame.time), frame)
            if prev is None and cur[0] > 0:
                prev = cur
            while j / fps <= cur[0]:
                t = j / fps
                pick = prev if prev is not None and (t - prev[0]) <= (cur[0] - t) else cur
                yield j, t, pick[1].to_ndarray(format="rgb24")
                j += 1
            prev = cur
        if prev is not None:
            while j / fps <= prev[0] + 0.5 / fps:
                yield j, j / fps, prev[1].to_ndarray(format="rgb24")
                j += 1


def read_audio(path: Path) -> np.ndarray:
    """The first audio stream, as (N,) float32 mono at 16 kHz."""
    import av

    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise SkipVideo("no audio track")
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        chunks = []
        for frame in container.decode(container.streams.audio[0]):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    if not chunks:
        raise SkipVideo("audio track is empty")
    return np.concatenate(chunks).astype(np.float32)


def detect_landmarks(path: Path, settings: PrepareSettings, progress: bool) -> tuple[np.ndarray, np.ndarray, str]:
    """First pass: landmarks (T, 68, 2) in image pixels (NaN where no face), found mask (T,), backend."""
    import cv2

    from ..face.landmarks import detect_faces, resolve_backend

    backend = resolve_backend(settings.backend)
    marks, found = [], []
    bar = tqdm(desc=f"landmarks {path.stem}", unit="frame", leave=False, disable=not progress)
    for _, _, image in resampled_frames(path, settings.fps):
        scale = min(1.0, DETECT_MAX_SIDE / max(image.shape[:2]))
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
        faces = detect_faces(small, backend=backend)
        if faces:
            marks.append(faces[0].landmarks.astype(np.float64) / scale)
            found.append(True)
        else:
            marks.append(np.full((68, 2), np.nan))
            found.append(False)
        bar.update(1)
    bar.close()
    if not marks:
        raise SkipVideo("no decodable frames")
    return np.stack(marks), np.array(found), backend


def fill_missing(landmarks: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Linear interpolation over time of frames without a face."""
    if found.all():
        return landmarks
    t = np.arange(len(found))
    flat = landmarks.reshape(len(found), -1).copy()
    for c in range(flat.shape[1]):
        flat[~found, c] = np.interp(t[~found], t[found], flat[found, c])
    return flat.reshape(landmarks.shape)


def stable_crops(landmarks: np.ndarray, size: int, sigma_frames: float) -> np.ndarray:
    """Per-frame similarity crops (T, 2, 3), smoothed over time so the crop does not jitter."""
    from ..face.align import crop_transform

    mats = np.stack([crop_transform(m, size) for m in landmarks])
    if sigma_frames > 0 and len(mats) > 1:
        mats = gaussian_filter1d(mats, sigma_frames, axis=0, mode="nearest")
    return mats


def prepare_video(path: Path, dest: Path, settings: PrepareSettings, progress: bool = True) -> dict:
    """One video -> one clip folder. Raises SkipVideo with a reason."""
    from ..face.align import apply_affine, warp_to_crop

    start = time.time()
    try:
        audio = read_audio(path)
        landmarks, found, backend = detect_landmarks(path, settings, progress)
    except SkipVideo:
        raise
    except Exception as exc:  # noqa: BLE001 - corrupt containers, codec errors
        raise SkipVideo(f"cannot decode: {type(exc).__name__}: {exc}") from exc
    n = len(found)
    duration = n / settings.fps
    if duration < settings.min_seconds:
        raise SkipVideo(f"too short ({duration:.2f} s < {settings.min_seconds} s)")
    missing = 1.0 - found.mean()
    if missing > settings.max_missing:
        raise SkipVideo(f"no face in {int((~found).sum())} of {n} frames")
    if float(np.sqrt(np.mean(audio ** 2))) < 1e-4:
        raise SkipVideo("silent audio")
    landmarks = fill_missing(landmarks, found)
    mats = stable_crops(landmarks, settings.size, settings.crop_smoothing_s * settings.fps)

    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    frames = np.lib.format.open_memmap(tmp / "frames.npy", mode="w+", dtype=np.uint8,
                                       shape=(n, settings.size, settings.size, 3))
    bar = tqdm(desc=f"crops {path.stem}", total=n, unit="frame", leave=False, disable=not progress)
    for j, _, image in resampled_frames(path, settings.fps):
        if j >= n:
            break
        frames[j] = warp_to_crop(image, mats[j], settings.size)
        bar.update(1)
    bar.close()
    frames.flush()
    del frames
    keypoints = np.stack([pixels_to_normalised(apply_affine(m, lm), settings.size) for m, lm in zip(mats, landmarks)])
    np.save(tmp / "keypoints.npy", keypoints.astype(np.float32))
    np.save(tmp / "pose.npy", head_pose_from_keypoints(keypoints))
    np.save(tmp / "audio.npy", audio)
    meta = {
        "version": PREPARE_VERSION, "video": str(path), "name": dest.name, "fps": settings.fps,
        "n_frames": n, "size": settings.size, "duration": duration,
        "audio_seconds": audio.size / SAMPLE_RATE, "sample_rate": SAMPLE_RATE, "landmarks": backend,
        "missing_frames": int((~found).sum()), "crop_smoothing_s": settings.crop_smoothing_s,
        "seconds": round(time.time() - start, 2),
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return meta


def is_complete(dest: Path) -> bool:
    try:
        return json.loads((dest / "meta.json").read_text()).get("version") == PREPARE_VERSION
    except (OSError, ValueError):
        return False


def prepare_videos(videos_dir: str | Path, out_dir: str | Path, settings: PrepareSettings = PrepareSettings(),
                   progress: bool = True) -> dict:
    """Prepare every video of a folder. Returns {"prepared": [...], "done_before": [...], "skipped": {name: reason}}."""
    videos = list_videos(Path(videos_dir))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"prepared": [], "done_before": [], "skipped": {}}
    for path in tqdm(videos, desc="prepare", unit="video", disable=not progress):
        dest = out / path.stem
        if is_complete(dest) and not settings.overwrite:
            report["done_before"].append(path.stem)
            continue
        try:
            prepare_video(path, dest, settings, progress)
            report["prepared"].append(path.stem)
        except SkipVideo as exc:
            report["skipped"][path.name] = str(exc)
            tqdm.write(f"skipped {path.name}: {exc}")
    (out / "prepare_report.json").write_text(json.dumps(report, indent=2))
    return report
