"""`python -m frond prepare VIDEOS_DIR OUT_DIR`: talking-face videos -> training clips.

For each video (with audio): frames resampled to 25 fps, 68 landmarks per frame
(face-alignment when its weights are cached, else MediaPipe), a temporally stable crop
(the pipeline's similarity alignment, smoothed over time), 16 kHz mono audio. Each video is
decoded once: while its landmarks are found, every frame is cut to a generous box around
that frame's own crop (a slice of the frame, kept in a temporary JPEG shard); once the whole
clip's crops are smoothed, the final crops are resampled from those boxes. Videos run in parallel worker
processes (`workers`). Written per clip into OUT_DIR/<name>/:

- frames.bin, frames.idx.npy  the (S, S, 3) RGB crops, JPEG (or WebP) in one shard (`frames.py`)
- keypoints.npy  (T, 68, 2) float32, normalised crop space
- pose.npy       (T, 3) float32 degrees, geometric head pose (`frond.face.head`)
- crops.npy      (T, 2, 3) float32, each frame's image -> crop affine in pixels (the smoothed one its crop
                 was cut with; image = the video's own pixels, crop = S x S pixels, pixel i's centre at i):
                 the head's motion in the video, which the smoothed crop keeps out of keypoints.npy.
                 Image landmarks = inv(crops[t]) applied to `norm_to_px(keypoints[t], S)`
                 (`PreparedClip.image_keypoints`). Optional: clips prepared before it have none.
- audio.npy      (N,) int16 16 kHz mono
- meta.json      what was done, the speaker (written last: a clip with meta.json is complete)

and OUT_DIR/manifest.json lists every complete clip (speaker, frames, seconds, bytes). Resumable
(complete clips are skipped); bad videos are skipped with a reason recorded in
OUT_DIR/prepare_report.json, with the run's throughput (frames/s) and disk per hour of video.
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

from ..audio.mel import SAMPLE_RATE
from ..errors import FrondInputError
from ..face.head import head_pose_from_keypoints
from ..face.ibug import px_to_norm
from .frames import FrameShard, FrameShardWriter
from .speakers import SpeakerTable

PREPARE_VERSION = 2  # 2: compressed frame shards, int16 audio; 1 (frames.npy) still loads
READABLE_VERSIONS = (1, 2)
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
DETECT_MAX_SIDE = 640  # landmarks are found on frames shrunk to this side (speed)
CANVAS_EXTENT = 1.6  # the canvas kept per frame spans this many crop widths (room for the smoothed crop)
CANVAS_DENSITY = 1.25  # at most this many canvas pixels per final crop pixel (larger faces are shrunk)
CANVAS_QUALITY = 95  # JPEG quality of the temporary canvases


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
    frame_format: str = "jpeg"  # how crops are stored: jpeg or webp (`frames.py`)
    quality: int = 90  # encoder quality of the stored crops (0-100)
    workers: int = 1  # videos prepared in parallel, one process each (1: in this process)


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


def cut_canvas(image: np.ndarray, matrix: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep what a crop near `matrix` (image -> crop pixels, (2, 3)) can need: the image's axis-aligned
    box around the crop widened by CANVAS_EXTENT, a slice (no resampling), shrunk (INTER_AREA) to
    CANVAS_DENSITY pixels per crop pixel only where the image holds more than twice that.

    -> (canvas (h, w, 3) uint8, image -> canvas (2, 3))."""
    import cv2

    from ..imaging import apply_affine, invert_affine

    margin = size * (CANVAS_EXTENT - 1) / 2
    corners = np.array([[-margin, -margin], [size + margin, -margin], [-margin, size + margin], [size + margin] * 2])
    pts = apply_affine(invert_affine(matrix), corners)
    height, width = image.shape[:2]
    x0, y0 = (int(np.clip(np.floor(v), 0, lim - 1)) for v, lim in zip(pts.min(0), (width, height)))
    x1, y1 = (int(np.clip(np.ceil(v), lo + 1, lim)) for v, lo, lim in zip(pts.max(0), (x0, y0), (width, height)))
    canvas = image[y0:y1, x0:x1]
    factor = CANVAS_DENSITY * float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))  # canvas px per image px
    if factor < 0.5:  # a face far larger than the crop: shrink (below 2x the slice is kept as is)
        w, h = max(1, round((x1 - x0) * factor)), max(1, round((y1 - y0) * factor))
        canvas = cv2.resize(canvas, (w, h), interpolation=cv2.INTER_AREA)
    fx, fy = canvas.shape[1] / (x1 - x0), canvas.shape[0] / (y1 - y0)  # pixel centres: c = f (x - x0 + 0.5) - 0.5
    to_canvas = np.array([[fx, 0.0, fx * (0.5 - x0) - 0.5], [0.0, fy, fy * (0.5 - y0) - 0.5]])
    return np.ascontiguousarray(canvas), to_canvas


class _Canvases:
    """The single decoding pass: landmarks per frame, and each frame cut to a canvas around its
    own crop (`cut_canvas`; frames before the first face are kept whole), in a temporary shard."""

    def __init__(self, path: Path, settings: PrepareSettings) -> None:
        from ..face.landmarks import resolve_backend

        self.settings, self.backend = settings, resolve_backend(settings.backend)
        self.writer = FrameShardWriter(path, "jpeg", CANVAS_QUALITY)
        self.transforms: list[np.ndarray] = []  # image -> stored frame, per frame
        self.marks: list[np.ndarray] = []
        self.found: list[bool] = []
        self.last: np.ndarray | None = None  # the latest face's crop transform

    def add(self, image: np.ndarray) -> None:
        import cv2

        from ..face.align import crop_transform
        from ..face.landmarks import detect_faces

        scale = min(1.0, DETECT_MAX_SIDE / max(image.shape[:2]))
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
        faces = detect_faces(small, backend=self.backend)
        if faces:
            marks = faces[0].landmarks.astype(np.float64) / scale
            self.last = crop_transform(marks, self.settings.size)
        else:
            marks = np.full((68, 2), np.nan)
        self.marks.append(marks)
        self.found.append(bool(faces))
        if self.last is None:  # no face yet: keep the whole frame
            canvas, matrix = image, np.eye(2, 3)
        else:
            canvas, matrix = cut_canvas(image, self.last, self.settings.size)
        self.transforms.append(matrix)
        self.writer.add(canvas)


def prepare_video(path: Path, dest: Path, settings: PrepareSettings, speaker: dict | None = None) -> dict:
    """One video -> one clip folder (decoded once). Raises SkipVideo with a reason.

    speaker: {"speaker": id, "own_voice": bool} recorded in meta.json (default: the clip is its own speaker)."""
    from ..face.align import warp_to_crop
    from ..imaging import apply_affine, invert_affine

    start = time.time()
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        try:
            audio = read_audio(path)
            canvases = _Canvases(tmp / "canvas.bin", settings)
            for _, _, image in resampled_frames(path, settings.fps):
                canvases.add(image)
            canvases.writer.close()
        except SkipVideo:
            raise
        except Exception as exc:  # noqa: BLE001 - corrupt containers, codec errors
            raise SkipVideo(f"cannot decode: {type(exc).__name__}: {exc}") from exc
        found = np.array(canvases.found, dtype=bool)
        n = len(found)
        if not n:
            raise SkipVideo("no decodable frames")
        duration = n / settings.fps
        if duration < settings.min_seconds:
            raise SkipVideo(f"too short ({duration:.2f} s < {settings.min_seconds} s)")
        if 1.0 - found.mean() > settings.max_missing:
            raise SkipVideo(f"no face in {int((~found).sum())} of {n} frames")
        if float(np.sqrt(np.mean(audio ** 2))) < 1e-4:
            raise SkipVideo("silent audio")
        landmarks = fill_missing(np.stack(canvases.marks), found)
        mats = stable_crops(landmarks, settings.size, settings.crop_smoothing_s * settings.fps)
        stored = FrameShard(tmp / "canvas.bin")
        with FrameShardWriter(tmp / "frames.bin", settings.frame_format, settings.quality) as writer:
            for j in range(n):  # canvas -> crop = (image -> crop) after (canvas -> image)
                to_crop = mats[j] @ np.vstack([invert_affine(canvases.transforms[j]), [0, 0, 1]])
                writer.add(warp_to_crop(stored[j], to_crop, settings.size))
        del stored
        for leftover in tmp.glob("canvas.*"):
            leftover.unlink()
        keypoints = np.stack([px_to_norm(apply_affine(m, lm), settings.size) for m, lm in zip(mats, landmarks)])
        np.save(tmp / "keypoints.npy", keypoints.astype(np.float32))
        np.save(tmp / "pose.npy", head_pose_from_keypoints(keypoints))
        np.save(tmp / "crops.npy", mats.astype(np.float32))
        np.save(tmp / "audio.npy", np.round(np.clip(audio, -1, 1) * 32767).astype(np.int16))
        frame_bytes = (tmp / "frames.bin").stat().st_size
        meta = {
            "version": PREPARE_VERSION, "video": str(path), "name": dest.name, "fps": settings.fps,
            "n_frames": n, "size": settings.size, "duration": duration,
            "audio_seconds": audio.size / SAMPLE_RATE, "sample_rate": SAMPLE_RATE, "landmarks": canvases.backend,
            "missing_frames": int((~found).sum()), "crop_smoothing_s": settings.crop_smoothing_s,
            "frames": {"file": "frames.bin", "format": settings.frame_format, "quality": settings.quality,
                       "bytes": frame_bytes},
            "bytes": sum(p.stat().st_size for p in tmp.iterdir()),
            **(speaker or {"speaker": dest.name, "own_voice": True}),
            "seconds": round(time.time() - start, 2),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
        return meta
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def is_complete(dest: Path) -> bool:
    try:
        return json.loads((dest / "meta.json").read_text()).get("version") in READABLE_VERSIONS
    except (OSError, ValueError):
        return False


def write_manifest(out: Path) -> dict:
    """OUT/manifest.json: every complete clip with its speaker, frames, seconds and bytes, plus totals."""
    clips = []
    for dest in sorted(p for p in out.iterdir() if p.is_dir() and is_complete(p)):
        meta = json.loads((dest / "meta.json").read_text())
        clips.append({"name": dest.name, "speaker": meta.get("speaker", dest.name),
                      "own_voice": meta.get("own_voice", True), "n_frames": meta["n_frames"],
                      "seconds": meta["duration"], "frames": (meta.get("frames") or {}).get("format", "npy"),
                      "bytes": meta.get("bytes", sum(p.stat().st_size for p in dest.iterdir()))})
    seconds = sum(c["seconds"] for c in clips)
    total = sum(c["bytes"] for c in clips)
    manifest = {"version": PREPARE_VERSION, "clips": clips,
                "totals": {"clips": len(clips), "speakers": len({c["speaker"] for c in clips}),
                           "frames": sum(c["n_frames"] for c in clips), "seconds": round(seconds, 2), "bytes": total,
                           "gb_per_hour": round(total / 1e9 * 3600 / seconds, 3) if seconds else None}}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


def _worker_init() -> None:
    """One thread per library in a worker: the parallelism is the processes."""
    import cv2

    cv2.setNumThreads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass


def _prepare_one(path: Path, dest: Path, settings: PrepareSettings, speaker: dict | None) -> tuple[str, dict | str]:
    """(name, meta) or (name, skip reason): what a worker returns."""
    try:
        return "prepared", prepare_video(path, dest, settings, speaker)
    except SkipVideo as exc:
        return "skipped", str(exc)


def prepare_videos(videos_dir: str | Path, out_dir: str | Path, settings: PrepareSettings = PrepareSettings(),
                   progress: bool = True, speakers: SpeakerTable | None = None) -> dict:
    """Prepare every video of a folder, `settings.workers` at a time (spawned processes: a script that
    calls this with workers > 1 needs the `if __name__ == "__main__":` guard).

    speakers: a table (`speakers.load_speakers`) recorded per clip in meta.json and the manifest.
    Returns {"prepared": [...], "done_before": [...], "skipped": {name: reason}, "throughput": {...}}.
    """
    videos = list_videos(Path(videos_dir))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"prepared": [], "done_before": [], "skipped": {}}
    todo = []
    for path in videos:
        if is_complete(out / path.stem) and not settings.overwrite:
            report["done_before"].append(path.stem)
        else:
            info = None if speakers is None else {"speaker": speakers.speaker_of(path.stem),
                                                  "own_voice": speakers.usable(path.stem)}
            todo.append((path, out / path.stem, settings, info))
    start, frames, seconds = time.time(), 0, 0.0
    bar = tqdm(total=len(todo), desc="prepare", unit="video", disable=not progress)
    if settings.workers > 1 and len(todo) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(min(settings.workers, len(todo)), multiprocessing.get_context("spawn"),
                                   initializer=_worker_init)
        results = pool.map(_prepare_one, *zip(*todo))
    else:
        pool, results = None, (_prepare_one(*job) for job in todo)
    try:
        for (path, *_), (_, value) in zip(todo, results):
            if isinstance(value, dict):  # prepared: its meta (else: why it was skipped)
                report["prepared"].append(path.stem)
                frames += value["n_frames"]
                seconds += value["duration"]
            else:
                report["skipped"][path.name] = value
                tqdm.write(f"skipped {path.name}: {value}")
            bar.update(1)
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    wall = time.time() - start
    manifest = write_manifest(out)
    report["throughput"] = {
        "workers": settings.workers, "seconds": round(wall, 2), "frames": frames, "video_seconds": round(seconds, 2),
        "frames_per_s": round(frames / wall, 2) if frames else None,
        "x_real_time": round(seconds / wall, 3) if frames else None,
        "corpus_gb_per_hour": manifest["totals"]["gb_per_hour"],
    }
    (out / "prepare_report.json").write_text(json.dumps(report, indent=2))
    return report
