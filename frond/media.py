"""Media at the boundary: read any image or audio, write a browser-playable MP4.

Everything that touches a file format lives here. Bad input raises
`FrondInputError` with what was wrong and what to do.
"""
from __future__ import annotations

import math
import os
import queue
import threading
import warnings
from concurrent.futures import Future
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Generator, Iterator

import av
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .config import DEFAULT_LIMITS, IMAGE_PIXELS_CEILING, Limits
from .errors import FrondInputError
from .paths import part_path
from .shutdown import raise_if_stopped
from .types import AudioClip

ANALYSIS_RATE = 16_000  # Hz, the rate every analysis (features, phones) runs at
OUTPUT_AUDIO_RATE = 48_000  # Hz, the MP4's AAC when the source's rate is one AAC does not take
AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)  # what AAC encodes
AAC_FRAME = 1024  # samples per AAC frame
Image.MAX_IMAGE_PIXELS = IMAGE_PIXELS_CEILING  # PIL's own last resort, above any `Limits.max_image_pixels`
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)  # `open_image` refuses such images itself
_SMALLER = ("Use a smaller picture (4096 px on the long side is plenty for a face), or raise the limit "
            "(CLI: --max-image-pixels; app: FROND_MAX_IMAGE_PIXELS).")  # what to do with an image over the pixel limit


def load_image(source: str | os.PathLike | np.ndarray | Image.Image, limits: Limits = DEFAULT_LIMITS) -> tuple[np.ndarray, list[str]]:
    """Read a portrait as RGB.

    Returns the image (H, W, 3) uint8 and notices (e.g. that it was downscaled).
    Accepts a path, a PIL image or an array (H, W), (H, W, 3) or (H, W, 4).
    Images over `limits.max_image_pixels` are refused before decoding; a large JPEG is
    decoded at a reduced scale, then downscaled to `limits.max_image_side`.
    """
    notices: list[str] = []
    if isinstance(source, (np.ndarray, Image.Image)):
        image = source if isinstance(source, Image.Image) else Image.fromarray(_as_uint8(source))
        check_pixels(image.width, image.height, limits)
        full_side = max(image.size)
    else:
        image = open_image(source, limits)  # its header only: refused here when over the pixel limit
        full_side = max(image.size)
        try:
            _draft(image, limits.max_image_side)  # a large JPEG is decoded at 1/2, 1/4 or 1/8 scale
            image = ImageOps.exif_transpose(image)
        except (OSError, SyntaxError, ValueError) as exc:
            raise _unreadable(Path(source), exc) from None
    try:
        image = _flatten(image)
    except OSError as exc:
        raise FrondInputError(f"The portrait image is damaged or truncated ({exc}). Save it again as PNG or JPEG.") from None
    side = max(image.size)
    if side > limits.max_image_side:
        scale = limits.max_image_side / side
        new_size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(new_size, Image.Resampling.LANCZOS)
    if full_side > limits.max_image_side:
        notices.append(f"The portrait was {full_side}px on its long side; downscaled to {limits.max_image_side}px.")
    array = np.asarray(image, dtype=np.uint8)
    if min(array.shape[:2]) < 32:
        raise FrondInputError(f"The portrait is only {array.shape[1]}x{array.shape[0]} pixels; use a photo at least 128 pixels across.")
    return np.ascontiguousarray(array), notices


def open_image(path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> Image.Image:
    """Open an image lazily: its header is read, none of its pixels are decoded.

    Refuses (`FrondInputError`) a missing file, one that is not an image, and one with more
    than `limits.max_image_pixels` pixels (a decompression bomb: a few KB of PNG can hold
    gigabytes of pixels), at the cost of reading its header.
    """
    path = Path(path)
    if not path.is_file():
        raise FrondInputError(f"Portrait not found: {path}. Give the path of an image file (PNG, JPEG, WebP, ...).")
    try:
        image = Image.open(path)
    except Image.DecompressionBombError:  # over PIL's own ceiling, which is above every limit
        raise FrondInputError(f"The portrait {path.name!r} has over {2 * IMAGE_PIXELS_CEILING / 1e6:.0f} megapixels; "
                              f"the limit is {limits.max_image_pixels / 1e6:g} megapixels. {_SMALLER}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _unreadable(path, exc) from None
    check_pixels(image.width, image.height, limits)
    return image


def check_pixels(width: int, height: int, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse an image of more than `limits.max_image_pixels` pixels."""
    if width * height > limits.max_image_pixels:
        raise FrondInputError(f"The portrait is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels), over "
                              f"the limit of {limits.max_image_pixels / 1e6:g} megapixels. {_SMALLER}")


def _unreadable(path: Path, exc: BaseException) -> FrondInputError:
    return FrondInputError(f"Could not read the portrait {path.name!r} as an image ({type(exc).__name__}). "
                           "Use a PNG, JPEG or WebP photo of a face.")


def _draft(image: Image.Image, max_side: int) -> None:
    """Ask the decoder for a reduced image where the format allows (JPEG: 1/2, 1/4 or 1/8 scale)
    that still has at least `max_side` on its long side, so that a huge photo is never decoded in full."""
    side = max(image.size)
    if side > max_side:
        scale = max_side / side
        image.draft("RGB", (math.ceil(image.width * scale), math.ceil(image.height * scale)))


def _as_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        scale = 255.0 if array.max(initial=0.0) <= 1.0 else 1.0
        return np.clip(array * scale, 0, 255).astype(np.uint8)
    return np.clip(array, 0, 255).astype(np.uint8)


def _flatten(image: Image.Image) -> Image.Image:
    """Any mode -> RGB; transparency is composited on white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _open_audio(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise FrondInputError(f"Audio not found: {path}. Give the path of a speech recording (WAV, MP3, M4A, OGG, FLAC, WebM).")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise FrondInputError(
            f"Could not read {path.name!r} as audio ({type(exc).__name__}). Use WAV, MP3, M4A/AAC, OGG, FLAC or WebM."
        ) from None
    if not container.streams.audio:
        container.close()
        raise FrondInputError(f"{path.name!r} has no audio stream. Give a speech recording (WAV, MP3, M4A, OGG, FLAC, WebM).")
    return container


def _decode(path: Path, rate: int, layout: str, fmt: str, max_seconds: float | None,
            frame_size: int | None = None) -> Iterator[av.AudioFrame]:
    """Decode the first audio stream, resampled once to `rate`; stops past `max_seconds` (+1 s).

    Frames are re-stamped from the samples themselves (pts counts samples, time base 1/rate):
    containers' own timestamps and header durations (WebM's milliseconds, MKV, MP3 padding)
    are never trusted. `frame_size`: every frame but the last holds exactly that many samples.
    """
    container = _open_audio(path)
    try:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format=fmt, layout=layout, rate=rate, frame_size=frame_size)
        time_base = Fraction(1, rate)
        decoded = 0

        def stamped(frames: list[av.AudioFrame]) -> Iterator[av.AudioFrame]:
            nonlocal decoded
            for out in frames:
                out.pts, out.time_base, out.sample_rate = decoded, time_base, rate
                decoded += out.samples
                yield out

        try:
            for frame in container.decode(stream):
                frame.pts = None  # the input's timestamps play no part in the output's
                yield from stamped(resampler.resample(frame))
                if max_seconds is not None and decoded > (max_seconds + 1.0) * rate:
                    return
            yield from stamped(resampler.resample(None))
        except (av.FFmpegError, ValueError) as exc:
            raise FrondInputError(f"The audio in {path.name!r} is corrupt and could not be decoded ({type(exc).__name__}). "
                                  "Export it again as WAV or MP3, or use another recording.") from None
    finally:
        container.close()


def aac_rate(source_rate: int) -> int:
    """The soundtrack's sample rate: the source's when AAC takes it (no resampling), else 48 kHz."""
    return source_rate if source_rate in AAC_RATES else OUTPUT_AUDIO_RATE


def load_audio(path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> AudioClip:
    """Decode speech to the analysis copy: 16 kHz mono float32 in [-1, 1]."""
    path = Path(path)
    chunks = [f.to_ndarray().reshape(-1) for f in _decode(path, ANALYSIS_RATE, "mono", "flt", limits.max_audio_seconds)]
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    duration = samples.shape[0] / ANALYSIS_RATE
    if duration > limits.max_audio_seconds:
        raise FrondInputError(
            f"The audio is longer than the limit of {limits.max_audio_seconds:.0f} s. Trim it, or raise the limit (CLI: --max-audio-seconds; app: FROND_MAX_AUDIO_SECONDS)."
        )
    if duration < limits.min_audio_seconds:
        raise FrondInputError(
            f"The audio is {duration:.2f} s long; at least {limits.min_audio_seconds:.1f} s of speech is needed. "
            "Record or choose a longer clip."
        )
    if not np.isfinite(samples).all():
        raise FrondInputError(f"The audio in {path.name!r} holds invalid (NaN/inf) samples. "
                              "Export it again from your audio editor as 16-bit WAV.")
    return AudioClip(samples=np.clip(samples, -1.0, 1.0), sample_rate=ANALYSIS_RATE, duration=float(duration), path=path)


def _run_into(future: Future, fn, *args) -> None:
    """Run fn(*args) on this thread and settle `future` with its result or its exception."""
    try:
        future.set_result(fn(*args))
    except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
        future.set_exception(exc)


def _fps_fraction(fps: float) -> Fraction:
    return Fraction(fps).limit_denominator(1001)


class VideoWriter:
    """Streams RGB frames into an H.264 (yuv420p) + AAC MP4, atomically.

    Frames go to a hidden temporary file beside `path`, which replaces `path` only
    when `close()` succeeds; on an exception inside the `with` block it is removed.
    Memory does not grow with the number of frames: audio is encoded up front
    (a few MB for minutes of AAC) and interleaved as frames arrive. With
    `threaded=True` frames are encoded on a background thread (PyAV and x264 release
    the GIL), through a short queue, so rendering and encoding overlap.
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, fps: float,
                 audio_path: str | os.PathLike | None = None, crf: int = 20, preset: str = "veryfast",
                 threaded: bool = False) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"H.264 yuv420p needs even dimensions, got {width}x{height}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = part_path(self.path)
        self.width, self.height = width, height
        self.frames = 0
        self._rate = _fps_fraction(fps)
        self._container = av.open(str(self.tmp), mode="w", options={"movflags": "+faststart"})
        try:
            self._video = self._container.add_stream("libx264", rate=self._rate)
            self._video.width, self._video.height = width, height
            self._video.pix_fmt = "yuv420p"
            self._video.codec_context.time_base = 1 / self._rate
            self._video.options = {"crf": str(crf), "preset": preset}
            self._audio_packets: list[av.Packet] = []
            self._audio: av.AudioStream | None = None
            self._audio_job: Future | None = None
            if audio_path is not None:  # encoded beside whatever the caller does next
                self._audio_job = Future()
                threading.Thread(target=_run_into, args=(self._audio_job, self._prepare_audio, Path(audio_path)),
                                 name=f"aac-{self.path.name}", daemon=True).start()
        except BaseException:
            self._abort()
            raise
        self._queue: queue.Queue | None = None
        self._error: BaseException | None = None
        if threaded:
            self._queue = queue.Queue(maxsize=6)
            self._thread = threading.Thread(target=self._drain, args=(self._queue,), name=f"encode-{self.path.name}", daemon=True)
            self._thread.start()

    def _drain(self, frames: queue.Queue) -> None:
        while True:
            frame = frames.get()
            if frame is None:
                return
            if self._error is None:
                try:
                    self._encode(frame)
                except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
                    self._error = exc

    def _stop_thread(self) -> None:
        if self._queue is not None:
            self._queue.put(None)
            self._thread.join()
            self._queue = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _join_audio(self) -> None:
        """Wait for the soundtrack's encoding; its error, if any, is raised here."""
        job, self._audio_job = self._audio_job, None
        if job is not None:
            job.result()

    def _prepare_audio(self, audio_path: Path) -> None:
        probe = _open_audio(audio_path)
        source = probe.streams.audio[0].codec_context
        channels, source_rate = min(2, source.channels or 1), int(source.sample_rate or OUTPUT_AUDIO_RATE)
        probe.close()
        layout = "stereo" if channels == 2 else "mono"
        rate = aac_rate(source_rate)
        self._audio = stream = self._container.add_stream("aac", rate=rate)
        stream.layout = layout
        stream.bit_rate = min(128_000, 3 * rate * channels)  # AAC's ceiling is ~6 bits per sample and channel
        for frame in _decode(audio_path, rate, layout, "fltp", None, frame_size=AAC_FRAME):
            self._audio_packets.extend(stream.encode(frame))
        self._audio_packets.extend(stream.encode(None))
        self._audio_cursor = 0

    def _mux_audio_until(self, seconds: float | Fraction | None) -> None:
        self._join_audio()
        if self._audio is None:
            return
        while self._audio_cursor < len(self._audio_packets):
            packet = self._audio_packets[self._audio_cursor]
            if seconds is not None and packet.pts is not None and packet.pts * packet.time_base > seconds:
                break
            self._container.mux(packet)
            self._audio_cursor += 1

    def write(self, frame: np.ndarray) -> None:
        """frame: (H, W, 3) uint8 RGB."""
        raise_if_stopped()
        if frame.shape != (self.height, self.width, 3):
            raise ValueError(f"expected a ({self.height}, {self.width}, 3) frame, got {frame.shape}")
        if self._queue is None:
            self._encode(frame)
            return
        if self._error is not None:
            self._stop_thread()
        self._queue.put(frame)

    def _encode(self, frame: np.ndarray) -> None:
        if self.frames == 0:
            self._join_audio()  # every stream must exist before the first packet writes the header
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        video_frame.pts = self.frames
        self._container.mux(self._video.encode(video_frame))
        self.frames += 1
        self._mux_audio_until(self.frames / self._rate)

    def close(self) -> Path:
        """Flush, finish the file and move it into place."""
        try:
            self._join_audio()
            self._stop_thread()
            self._container.mux(self._video.encode(None))
            self._mux_audio_until(None)
            self._container.close()
            raise_if_stopped()
        except BaseException:
            self._abort()
            raise
        os.replace(self.tmp, self.path)
        return self.path

    def _abort(self) -> None:
        try:
            self._join_audio()
        except BaseException:  # noqa: BLE001 - already failing
            pass
        try:
            self._stop_thread()
        except BaseException:  # noqa: BLE001 - already failing
            pass
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - cleanup must not hide the original error
            pass
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort()


def probe_video(path: str | os.PathLike) -> dict[str, float | int | str | None]:
    """Streams of an MP4: codec names, size, pixel format, frame count, durations (s)."""
    with av.open(str(path)) as container:
        info: dict[str, float | int | str | None] = {"video_codec": None, "audio_codec": None}
        if container.streams.video:
            v = container.streams.video[0]
            info.update(video_codec=v.codec_context.name, width=v.width, height=v.height, pix_fmt=v.codec_context.pix_fmt,
                        fps=float(v.average_rate) if v.average_rate else None,
                        frames=v.frames, video_duration=float(v.duration * v.time_base) if v.duration else None)
        if container.streams.audio:
            a = container.streams.audio[0]
            info.update(audio_codec=a.codec_context.name, sample_rate=a.rate,
                        audio_duration=float(a.duration * a.time_base) if a.duration else None)
        return info


def read_video_frames(path: str | os.PathLike) -> Generator[np.ndarray, None, None]:
    """Decode a video's frames as (H, W, 3) uint8 RGB, one at a time."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")
