"""The app's runtime: the pipeline built once and warmed in the background, the GPU part of a
request (wrapped with `spaces.GPU` on a ZeroGPU Space), and per-request output folders."""
from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

try:  # Hugging Face ZeroGPU: imported before torch, as it asks (torch loads only with learned weights, later)
    import spaces
except ImportError:
    spaces = None

import gradio as gr

from ..config import GenerationSettings
from ..errors import FrondInputError
from ..paths import process_alive
from ..pipeline import FrondPipeline
from .options import AppConfig

log = logging.getLogger("frond.app")

GPU_SECONDS = 120  # ZeroGPU: the longest one generation may hold the GPU

_PIPELINE: FrondPipeline | None = None
_PIPELINE_LOCK = threading.Lock()
WARM = threading.Event()  # set once the pipeline's models are loaded


def get_pipeline(config: AppConfig) -> FrondPipeline:
    """Build the pipeline on first use and keep it: requests never reload anything."""
    global _PIPELINE
    with _PIPELINE_LOCK:
        if _PIPELINE is None:
            t0 = time.perf_counter()
            _PIPELINE = FrondPipeline(limits=config.limits, weights=config.weights, device=config.device)
            modes = ", ".join(f"{stage}: {mode}" for stage, mode in _PIPELINE.modes.items())
            log.info("pipeline ready in %.1f s: %s", time.perf_counter() - t0, modes)
        return _PIPELINE


def pipeline() -> FrondPipeline | None:
    """The pipeline once `get_pipeline` has built it."""
    return _PIPELINE


def warm_up_in_background(pipe: FrondPipeline) -> None:
    """Load the pipeline's models (landmarks, phone recogniser) while the page is already served;
    the first request waits for `WARM`."""

    def run() -> None:
        t0 = time.perf_counter()
        try:
            pipe.warm_up()
            log.info("models loaded in %.1f s", time.perf_counter() - t0)
        except Exception:  # the first request will load (and report) whatever failed here
            log.warning("warm-up failed", exc_info=True)
        finally:
            WARM.set()

    threading.Thread(target=run, name="frond-warm-up", daemon=True).start()


def generate_on_device(portrait: str, audio: str | None, settings: GenerationSettings, work_dir: str, progress: Any,
                       driving_video: str | None = None) -> Any:
    """The GPU part of a request (wrapped with `spaces.GPU` on ZeroGPU Spaces); a driving video instead of audio."""
    assert _PIPELINE is not None, "get_pipeline() runs before the app serves"
    work = Path(work_dir)

    def report(fraction: float, stage: str) -> None:
        progress(min(max(float(fraction), 0.0), 1.0), desc=stage)

    try:
        return _PIPELINE.generate(
            portrait=portrait,
            audio=audio,
            out_path=work / "frond.mp4",
            settings=settings,
            intermediates_dir=work / "intermediates",
            progress=report,
            driving_video=driving_video,
        )
    except FrondInputError as exc:  # converted here so that it crosses the ZeroGPU process boundary as is
        raise gr.Error(str(exc), title="Cannot use this input", print_exception=False) from None


if spaces is not None:  # on Hugging Face Spaces; spaces.GPU is a no-op off ZeroGPU hardware
    generate_on_device = spaces.GPU(duration=GPU_SECONDS)(generate_on_device)


class OutputDirs:
    """Per-request working folders under one temporary root, removed when they age and at exit.

    Gradio copies each result into its own cache (which `delete_cache` cleans), so a request's
    folder is only needed until the response is sent. Roots left by apps that died are removed
    at start-up.
    """

    PREFIX = "frond-app-"

    def __init__(self, max_age_seconds: float) -> None:
        self._remove_orphans()
        self.root = Path(tempfile.mkdtemp(prefix=f"{self.PREFIX}{os.getpid()}-"))
        self.max_age = max_age_seconds
        atexit.register(shutil.rmtree, self.root, True)

    def new(self) -> Path:
        self.sweep()
        return Path(tempfile.mkdtemp(dir=self.root, prefix="req-"))

    def sweep(self) -> None:
        now = time.time()
        for path in self.root.iterdir():
            try:
                if now - path.stat().st_mtime > self.max_age:
                    shutil.rmtree(path, ignore_errors=True)
            except FileNotFoundError:
                pass

    @classmethod
    def _remove_orphans(cls) -> None:
        for path in Path(tempfile.gettempdir()).glob(f"{cls.PREFIX}*-*"):
            pid = path.name[len(cls.PREFIX):].split("-", 1)[0]
            if pid.isdigit() and not process_alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)

