"""The app's own settings (`AppConfig`): command-line flags, each with an environment variable as
its default (handy on a Space, where there is no command line)."""
from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

from ..config import IMAGE_PIXELS_CEILING, MIN_IMAGE_PIXELS_LIMIT, Limits

ROOT = Path(__file__).resolve().parents[2]  # the repository: app.py, examples/


@dataclasses.dataclass(frozen=True)
class AppConfig:
    """Everything the app needs to start; built from flags and environment variables."""

    host: str | None = None  # None: Gradio's default (GRADIO_SERVER_NAME or 127.0.0.1)
    port: int | None = None  # None: Gradio's default (GRADIO_SERVER_PORT or 7860, the next free one)
    share: bool = False  # ask Gradio for a temporary public link
    weights: str | None = None  # FROND_WEIGHTS: Hub id[@revision] or a local folder; None: the bundled stages
    device: str = "auto"  # "auto": the GPU when there is one
    max_audio_seconds: float = 60.0  # longer speech is refused
    max_image_side: int = Limits().max_image_side  # larger portraits are downscaled
    max_image_pixels: int = Limits().max_image_pixels  # portraits with more pixels are refused (from their header)
    max_upload: str = "50mb"  # Gradio refuses bigger uploads before they reach the app
    concurrency: int = 1  # generations at once; the rest queue and see their position
    queue_size: int = 16  # waiting requests allowed
    cache_seconds: int = 3600  # uploads and results older than this are deleted (checked every 10 min)
    examples_dir: Path = ROOT / "examples"  # portraits and speech shown as examples; the first pair is preloaded
    verbose: bool = False  # third-party log lines too (httpx, MediaPipe's C++ start-up chatter)

    @property
    def limits(self) -> Limits:
        return dataclasses.replace(
            Limits(), max_audio_seconds=self.max_audio_seconds, max_image_side=self.max_image_side,
            max_image_pixels=self.max_image_pixels,
        )


def parse_args(argv: list[str] | None = None) -> AppConfig:
    env = os.environ.get
    p = argparse.ArgumentParser(
        prog="app.py",
        description="FROND talking-face generator: a Gradio app (portrait + speech -> lip-synced MP4).",
        epilog="Every option also reads an environment variable (in brackets), e.g. on a Hugging Face Space.",
    )
    add = p.add_argument
    add("--share", action="store_true", help="also open a temporary public *.gradio.live link")
    add("--host", default=env("FROND_HOST"),
        help="address to listen on, e.g. 0.0.0.0 for all (default 127.0.0.1) [FROND_HOST]")
    add("--port", type=int, default=_env_int("FROND_PORT"), help="port to listen on (default 7860) [FROND_PORT]")
    add("--weights", default=env("FROND_WEIGHTS") or None,
        help="learned weights: Hub repo id, 'id@revision', or a local folder; unset = the bundled stages (learned motion, training-free render) [FROND_WEIGHTS]")
    add("--device", default=env("FROND_DEVICE", "auto"), help="auto | cpu | cuda (default auto) [FROND_DEVICE]")
    add("--max-audio-seconds", type=float, default=float(env("FROND_MAX_AUDIO_SECONDS", 60)),
        help="refuse longer speech (default 60) [FROND_MAX_AUDIO_SECONDS]")
    add("--max-image-side", type=int, default=int(env("FROND_MAX_IMAGE_SIDE", Limits().max_image_side)),
        help="downscale larger portraits to this side in pixels (default %(default)s) [FROND_MAX_IMAGE_SIDE]")
    add("--max-image-pixels", type=int, default=int(env("FROND_MAX_IMAGE_PIXELS", Limits().max_image_pixels)),
        help="refuse portraits with more pixels, before decoding them (default %(default)s) [FROND_MAX_IMAGE_PIXELS]")
    add("--max-upload", default=env("FROND_MAX_UPLOAD", "50mb"),
        help="largest upload accepted, e.g. 50mb (default 50mb) [FROND_MAX_UPLOAD]")
    add("--concurrency", type=int, default=int(env("FROND_CONCURRENCY", 1)),
        help="generations running at once (default 1) [FROND_CONCURRENCY]")
    add("--queue-size", type=int, default=int(env("FROND_QUEUE_SIZE", 16)),
        help="requests allowed to wait in the queue (default 16) [FROND_QUEUE_SIZE]")
    add("--examples-dir", type=Path, default=Path(env("FROND_EXAMPLES_DIR", ROOT / "examples")),
        help="folder of example portraits and speech (default ./examples) [FROND_EXAMPLES_DIR]")
    add("--verbose", action="store_true", default=env("FROND_VERBOSE", "") not in ("", "0"),
        help="also show third-party log lines (HTTP requests, MediaPipe/TFLite start-up) [FROND_VERBOSE]")
    a = p.parse_args(argv)
    if a.max_audio_seconds <= 0 or a.max_image_side < 64 or a.concurrency < 1 or a.queue_size < 1:
        p.error("--max-audio-seconds must be > 0, --max-image-side >= 64, --concurrency and --queue-size >= 1")
    if not MIN_IMAGE_PIXELS_LIMIT <= a.max_image_pixels <= IMAGE_PIXELS_CEILING:
        p.error(f"--max-image-pixels must be within {MIN_IMAGE_PIXELS_LIMIT}..{IMAGE_PIXELS_CEILING}")
    return AppConfig(
        host=a.host, port=a.port, share=a.share, weights=a.weights, device=a.device,
        max_audio_seconds=a.max_audio_seconds, max_image_side=a.max_image_side, max_image_pixels=a.max_image_pixels,
        max_upload=a.max_upload,
        concurrency=a.concurrency, queue_size=a.queue_size, examples_dir=a.examples_dir.resolve(), verbose=a.verbose,
    )


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None
