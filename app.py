#!/usr/bin/env python
"""FROND in the browser: one portrait and some speech in, a lip-synced talking face out.

    python app.py                   # http://127.0.0.1:7860
    python app.py --share           # plus a temporary public link
    python app.py --host 0.0.0.0 --port 8080

The same file is the Hugging Face Space entry point (README front matter:
`sdk: gradio`, `app_file: app.py`). The app is a thin UI over `frond.FrondPipeline`:
it builds the pipeline once at start-up, turns the widgets into `GenerationSettings`,
shows the pipeline's outputs side by side, and turns bad input into messages a person
can act on. Everything about faces, motion and video lives in the `frond` package.

Settings come from command-line flags, each with an environment variable as its
default (handy on a Space, where there is no command line):

    FROND_HOST, FROND_PORT    where to listen (default: Gradio's, 127.0.0.1:7860, or GRADIO_SERVER_NAME/PORT)
    FROND_WEIGHTS             learned weights: a Hub repo id (optionally "id@revision") or a local folder
    FROND_DEVICE              "auto" (GPU when present), "cpu" or "cuda"
    FROND_MAX_AUDIO_SECONDS   longer speech is refused with a message (default 60)
    FROND_MAX_IMAGE_SIDE      larger portraits are downscaled to this side (default 4096)
    FROND_MAX_UPLOAD          largest upload Gradio accepts, e.g. "50mb"
    FROND_CONCURRENCY         generations running at once (default 1); more wait in the queue
    FROND_QUEUE_SIZE          requests allowed to wait; beyond this the queue says it is full
    FROND_EXAMPLES_DIR        folder whose portraits (*.png, *.jpg) and speech (*.wav, ...) become examples
"""
from __future__ import annotations

import argparse
import atexit
import dataclasses
import itertools
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# No phone-home at start-up: importing/launching Gradio must not wait on the network.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

try:  # Hugging Face ZeroGPU: imported before torch (via frond), as it asks
    import spaces
except ImportError:
    spaces = None

import gradio as gr  # noqa: E402

from frond import FrondPipeline  # noqa: E402
from frond.config import DEFAULT_SETTINGS, GenerationSettings, Limits  # noqa: E402
from frond.errors import FrondInputError  # noqa: E402
from frond.hub import go_offline_if_hub_unreachable  # noqa: E402
from frond.shutdown import stop_like_interrupt  # noqa: E402

log = logging.getLogger("frond.app")

ROOT = Path(__file__).resolve().parent
PORTRAIT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
SPEECH_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg", ".m4a")
MAX_EXAMPLES = 12
PANEL_HEIGHT = 400  # px, the four result panels
PRIOR_LABEL = "training-free motion prior"
GPU_SECONDS = 120  # ZeroGPU: the longest one generation may hold the GPU


# --------------------------------------------------------------------------- settings


@dataclasses.dataclass(frozen=True)
class AppConfig:
    """Everything the app needs to start; built from flags and environment variables."""

    host: str | None = None  # None: Gradio's default (GRADIO_SERVER_NAME or 127.0.0.1)
    port: int | None = None  # None: Gradio's default (GRADIO_SERVER_PORT or 7860, the next free one)
    share: bool = False  # ask Gradio for a temporary public link
    weights: str | None = None  # FROND_WEIGHTS: Hub id[@revision] or a local folder; None: training-free prior
    device: str = "auto"  # "auto": the GPU when there is one
    max_audio_seconds: float = 60.0  # longer speech is refused
    max_image_side: int = Limits().max_image_side  # larger portraits are downscaled
    max_upload: str = "50mb"  # Gradio refuses bigger uploads before they reach the app
    concurrency: int = 1  # generations at once; the rest queue and see their position
    queue_size: int = 16  # waiting requests allowed
    cache_seconds: int = 3600  # uploads and results older than this are deleted (checked every 10 min)
    examples_dir: Path = ROOT / "examples"
    verbose: bool = False  # third-party log lines too (httpx, MediaPipe's C++ start-up chatter)

    @property
    def limits(self) -> Limits:
        return dataclasses.replace(
            Limits(), max_audio_seconds=self.max_audio_seconds, max_image_side=self.max_image_side
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
        help="learned weights: Hub repo id, 'id@revision', or a local folder; unset = training-free prior [FROND_WEIGHTS]")
    add("--device", default=env("FROND_DEVICE", "auto"), help="auto | cpu | cuda (default auto) [FROND_DEVICE]")
    add("--max-audio-seconds", type=float, default=float(env("FROND_MAX_AUDIO_SECONDS", 60)),
        help="refuse longer speech (default 60) [FROND_MAX_AUDIO_SECONDS]")
    add("--max-image-side", type=int, default=int(env("FROND_MAX_IMAGE_SIDE", Limits().max_image_side)),
        help="downscale larger portraits to this side in pixels (default %(default)s) [FROND_MAX_IMAGE_SIDE]")
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
    return AppConfig(
        host=a.host, port=a.port, share=a.share, weights=a.weights, device=a.device,
        max_audio_seconds=a.max_audio_seconds, max_image_side=a.max_image_side, max_upload=a.max_upload,
        concurrency=a.concurrency, queue_size=a.queue_size, examples_dir=a.examples_dir.resolve(), verbose=a.verbose,
    )


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None


# --------------------------------------------------------------------------- the pipeline, once

_PIPELINE: FrondPipeline | None = None
_PIPELINE_LOCK = threading.Lock()


def get_pipeline(config: AppConfig) -> FrondPipeline:
    """Build the pipeline on first use and keep it: requests never reload anything."""
    global _PIPELINE
    with _PIPELINE_LOCK:
        if _PIPELINE is None:
            t0 = time.perf_counter()
            _PIPELINE = FrondPipeline(limits=config.limits, weights=config.weights, device=config.device)
            log.info("pipeline ready in %.1f s: %s", time.perf_counter() - t0, describe_modes(_PIPELINE.modes))
        return _PIPELINE


_WARM = threading.Event()  # set once the pipeline's models are loaded


def warm_up_in_background(pipeline: FrondPipeline) -> None:
    """Load the pipeline's models (landmarks, phone recogniser) while the page is already served.

    Uses `FrondPipeline.warm_up()` when the pipeline has one; the first request waits for it.
    """
    warm = getattr(pipeline, "warm_up", None)
    if warm is None:
        _WARM.set()
        return

    def run() -> None:
        t0 = time.perf_counter()
        try:
            warm()
            log.info("models loaded in %.1f s", time.perf_counter() - t0)
        except Exception:  # the first request will load (and report) whatever failed here
            log.warning("warm-up failed", exc_info=True)
        finally:
            _WARM.set()

    threading.Thread(target=run, name="frond-warm-up", daemon=True).start()


def _generate_on_device(
    portrait: str, audio: str, settings: GenerationSettings, work_dir: str, progress: Any
) -> Any:
    """The GPU part of a request (wrapped with `spaces.GPU` on ZeroGPU Spaces)."""
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
        )
    except FrondInputError as exc:  # converted here so that it crosses the ZeroGPU process boundary as is
        raise gr.Error(str(exc), title="Cannot use this input", print_exception=False) from None


if spaces is not None:  # on Hugging Face Spaces; spaces.GPU is a no-op off ZeroGPU hardware
    _generate_on_device = spaces.GPU(duration=GPU_SECONDS)(_generate_on_device)


# --------------------------------------------------------------------------- request handling


def friendly_image_errors(component: gr.Image) -> gr.Image:
    """Let FROND's own reader judge an upload that PIL cannot open.

    gr.Image opens the upload with PIL before our functions run, and a failure there would
    surface as an unexplained error (before the validator, even). Instead the raw upload's
    path goes on, and `load_image` refuses it with its message ("Could not read ... as an
    image ..."). (An instance attribute, not a subclass: Gradio writes a .pyi stub next to any
    file that defines a Component subclass.)
    """
    original = component.preprocess

    def preprocess(payload: Any) -> Any:
        try:
            return original(payload)
        except gr.Error:
            raise
        except Exception:  # noqa: BLE001 - not an image PIL can open: our reader says why
            path = getattr(payload, "path", None)
            if path is None:
                raise gr.Error("Could not read the upload as an image. Upload a PNG, JPEG or WebP photo with a face in it.",
                               title="Cannot use this portrait", print_exception=False) from None
            return path

    component.preprocess = preprocess  # type: ignore[method-assign]
    return component


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
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def describe_modes(modes: dict[str, str]) -> str:
    """'training-free motion prior', or which learned weights (Hub id@revision) ran on which stages."""
    learned = {stage: mode.split(":", 1)[1].strip() for stage, mode in modes.items() if mode.startswith("learned")}
    if not learned:
        return PRIOR_LABEL
    ids = ", ".join(f"`{w}`" for w in dict.fromkeys(learned.values()))
    prior = [stage for stage in modes if stage not in learned]
    text = f"learned weights {ids}"
    if prior:
        text += f" for {', '.join(learned)}; {PRIOR_LABEL} for {', '.join(prior)}"
    return text


def _settings_from_widgets(
    size: Any, fps: Any, smoothing: Any, lip_scale: Any, head_motion: Any, blink_rate: Any, framing: Any, seed: Any,
    motion: Any = DEFAULT_SETTINGS.motion,
) -> GenerationSettings:
    try:
        return _settings_or_raise(size, fps, smoothing, lip_scale, head_motion, blink_rate, framing, seed, motion)
    except (TypeError, ValueError) as exc:
        raise gr.Error(f"Invalid setting: {exc}.", title="Check the settings", print_exception=False) from None


def _settings_or_raise(
    size: Any, fps: Any, smoothing: Any, lip_scale: Any, head_motion: Any, blink_rate: Any, framing: Any, seed: Any,
    motion: Any = DEFAULT_SETTINGS.motion,
) -> GenerationSettings:
    """The widgets' values -> GenerationSettings; TypeError/ValueError naming the bad one."""
    return GenerationSettings(
        size=int(size),
        fps=float(fps),
        smoothing=float(smoothing),
        lip_scale=float(lip_scale),
        head_motion=float(head_motion),
        blink_rate=float(blink_rate),
        full_frame=(framing == "full"),
        seed=int(seed or 0),
        motion=str(motion or DEFAULT_SETTINGS.motion),
    )


INPUT_NAMES = ("portrait", "speech", "smoothing", "lip_scale", "head_motion", "blink_rate", "size", "fps", "framing", "seed",
               "motion")


def make_validator(config: AppConfig):
    """The check Gradio runs *before* a request joins the queue, so that bad input is answered at
    once instead of after its turn: the settings, the speech (decoded: format, length, NaN) and the
    portrait (read, and its face found). One `gr.validate` per input, in `INPUT_NAMES` order."""
    from frond.media import load_audio, load_image

    def validate(portrait: str | None, speech: str | None, *settings_values: Any) -> list[Any]:
        verdicts: dict[str, str] = {}
        settings = None
        try:
            settings = _settings_or_raise(*_widget_order(settings_values))
        except (TypeError, ValueError) as exc:
            field = next((n for n in INPUT_NAMES if str(exc).startswith(n)), "size")
            verdicts[field] = f"Invalid setting: {exc}."
        if not speech:
            verdicts["speech"] = "Add speech first: upload an audio file or record one with the microphone."
        else:
            try:
                load_audio(speech, config.limits)
            except FrondInputError as exc:
                verdicts["speech"] = str(exc)
        if not portrait:
            verdicts["portrait"] = "Add a portrait first: upload a photo, paste one, or take one with the webcam."
        else:
            try:
                image, _ = load_image(portrait, config.limits)
                if settings is not None and _PIPELINE is not None:
                    _PIPELINE.find_face(image, settings)
            except FrondInputError as exc:
                verdicts["portrait"] = str(exc)
        return [gr.validate(name not in verdicts, verdicts.get(name, "")) for name in INPUT_NAMES]

    return validate


def _widget_order(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """(smoothing, lip_scale, head_motion, blink_rate, size, fps, framing, seed, motion) as the click sends them ->
    the order `_settings_or_raise` takes: (size, fps, smoothing, lip_scale, head_motion, blink_rate, framing, seed, motion)."""
    smoothing, lip_scale, head_motion, blink_rate, size, fps, framing, seed, *motion = values
    return size, fps, smoothing, lip_scale, head_motion, blink_rate, framing, seed, *motion


def make_generate(dirs: OutputDirs):
    def generate(
        portrait: str | None,
        speech: str | None,
        smoothing: float = DEFAULT_SETTINGS.smoothing,
        lip_scale: float = DEFAULT_SETTINGS.lip_scale,
        head_motion: float = DEFAULT_SETTINGS.head_motion,
        blink_rate: float = DEFAULT_SETTINGS.blink_rate,
        size: int = DEFAULT_SETTINGS.size,
        fps: float = DEFAULT_SETTINGS.fps,
        framing: str = "crop",
        seed: int = DEFAULT_SETTINGS.seed,
        motion: str = DEFAULT_SETTINGS.motion,
        progress: gr.Progress = gr.Progress(),
    ) -> tuple[str, str, str, str, str, str]:
        """Animate a portrait with speech.

        Returns: the aligned input with keypoints (PNG), the keypoint trajectories plot (PNG),
        the dense motion field (MP4), the output video with sound (MP4), the combined
        side-by-side video (MP4), and a Markdown summary naming the path that ran.
        """
        if not portrait:
            raise gr.Error("Add a portrait first: upload a photo, paste one, or take one with the webcam.",
                           title="No portrait", print_exception=False)
        if not speech:
            raise gr.Error("Add speech first: upload an audio file or record one with the microphone.",
                           title="No speech", print_exception=False)
        settings = _settings_from_widgets(size, fps, smoothing, lip_scale, head_motion, blink_rate, framing, seed, motion)
        if not _WARM.is_set():
            progress(0.0, desc="loading the models (first request only)")
            _WARM.wait()
        progress(0.0, desc="starting")
        t0 = time.perf_counter()
        try:
            result = _generate_on_device(portrait, speech, settings, str(dirs.new()), progress)
        except gr.Error:
            raise
        except FrondInputError as exc:
            raise gr.Error(str(exc), title="Cannot use this input", print_exception=False) from None
        except MemoryError:
            raise gr.Error("Ran out of memory. Try shorter speech, output size 256, or the face crop.",
                           title="Out of memory") from None
        except Exception as exc:  # a bug: log it in full, tell the person something useful, keep serving
            log.exception("generation failed")
            raise gr.Error(
                f"Generation failed because of an internal error ({type(exc).__name__}). "
                "The app is still running: try again, or try another portrait or clip.",
                title="Something went wrong",
            ) from None
        elapsed = time.perf_counter() - t0
        inter = result.intermediates
        return (
            str(inter["aligned.png"]),
            str(inter["trajectories.png"]),
            str(inter["motion_field.mp4"]),
            str(result.video_path),
            str(inter["side_by_side.mp4"]),
            summary(result, elapsed),
        )

    return generate


def summary(result: Any, elapsed: float) -> str:
    lines = [
        f"**Path:** {describe_modes(result.modes)}  \n"
        f"{result.duration:.2f} s of video, {result.n_frames} frames at {result.fps:g} fps, "
        f"{result.width}×{result.height}, made in {elapsed:.1f} s."
    ]
    lines += [f"- {notice}" for notice in result.notices]
    return "\n".join(lines)


# --------------------------------------------------------------------------- examples


def find_examples(folder: Path) -> tuple[list[list[str]], list[str]]:
    """Portrait x speech pairs from `folder` (all pairs when few, else each file at least once)."""
    if not folder.is_dir():
        return [], []
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    portraits = [p for p in files if p.suffix.lower() in PORTRAIT_SUFFIXES]
    speech = [p for p in files if p.suffix.lower() in SPEECH_SUFFIXES]
    if not portraits or not speech:
        return [], []
    if len(portraits) * len(speech) <= MAX_EXAMPLES:
        pairs = list(itertools.product(portraits, speech))
    else:
        n = max(len(portraits), len(speech))
        pairs = [(portraits[i % len(portraits)], speech[i % len(speech)]) for i in range(n)][:MAX_EXAMPLES]
    return [[str(p), str(s)] for p, s in pairs], [f"{p.stem} + {s.stem}" for p, s in pairs]


# --------------------------------------------------------------------------- the page

CSS = """
#frond-header h1 { margin-bottom: 0.1em; }
#frond-mode { font-size: 0.95em; }
.frond-panel { min-width: 220px; }
#generate-btn { min-height: 3em; }
"""

HELP = {
    "smoothing": "Trajectory stiffness: 0 follows every sound, 1 glides between mouth shapes.",
    "lip_scale": "Multiplies mouth motion: 0 keeps the mouth still, 2 exaggerates.",
    "head_motion": "Multiplies the head's natural sway and nods: 0 keeps the head still.",
    "blink_rate": "Multiplies the natural blink rate (about 17 blinks a minute).",
    "size": "Side of the face crop in pixels. 512 is sharper and about 4x slower.",
    "fps": "Frames per second of the video. Motion is continuous in time, so any rate works.",
    "framing": "Face crop: the aligned square. Full frame: the face pasted back into the whole photo.",
    "seed": "Seeds blinks and head sway: the same seed gives the same video.",
    "motion": "Learned: the network trained on real talking faces (default). Prior: hand-made phone -> mouth shape rules.",
}


def build_demo(config: AppConfig, pipeline: FrondPipeline, notices: list[str] | None = None) -> gr.Blocks:
    dirs = OutputDirs(max_age_seconds=min(config.cache_seconds, 900))
    examples, example_labels = find_examples(config.examples_dir)
    d = DEFAULT_SETTINGS

    startup = f"**Path:** {describe_modes(pipeline.modes)}"
    if config.weights and getattr(pipeline, "weights_error", None):
        startup = (f"⚠️ **The weights `{config.weights}` could not be loaded** ({pipeline.weights_error.rstrip('.')}): "
                   f"every video is made with the training-free prior. Check FROND_WEIGHTS / --weights.  \n" + startup)
    notices = list(pipeline.notices) if notices is None else notices
    if notices:
        startup += "  \n" + "  \n".join(f"ⓘ {n}" for n in notices)

    with gr.Blocks(title="FROND talking faces", fill_width=True, delete_cache=(600, config.cache_seconds)) as demo:
        gr.Markdown(
            "# FROND: talking faces\n"
            "One portrait plus speech gives a lip-synced video. Keypoints move along continuous "
            "trajectories, a dense motion field warps the portrait, and a decoder renders each frame.",
            elem_id="frond-header",
        )
        gr.Markdown(startup, elem_id="frond-mode")

        with gr.Row():
            with gr.Column(scale=2, min_width=260):
                default = examples[0] if examples else (None, None)  # open ready to go: press Generate
                portrait = friendly_image_errors(gr.Image(
                    value=default[0], label="Portrait", type="filepath", image_mode=None,
                    sources=["upload", "clipboard", "webcam"], height=320, elem_id="portrait",
                ))
            with gr.Column(scale=2, min_width=260):
                speech = gr.Audio(
                    value=default[1], label="Speech", type="filepath", sources=["upload", "microphone"], elem_id="speech",
                )
                gr.Markdown(
                    f"Any common audio format (WAV, MP3, FLAC, OGG, M4A) up to "
                    f"{config.max_audio_seconds:g} s, or record with the microphone."
                )
                if examples:
                    gr.Examples(
                        examples=examples, inputs=[portrait, speech], example_labels=example_labels,
                        cache_examples=False, label="Examples: click one, then Generate",
                        examples_per_page=MAX_EXAMPLES,
                    )
                generate_btn = gr.Button("Generate", variant="primary", elem_id="generate-btn")
            with gr.Column(scale=3, min_width=320):
                with gr.Accordion("Settings", open=True):
                    with gr.Row():
                        with gr.Column(min_width=180):
                            smoothing = gr.Slider(0, 1, value=d.smoothing, step=0.05, label="Motion smoothing",
                                                  info=HELP["smoothing"])
                            lip_scale = gr.Slider(0, 2, value=d.lip_scale, step=0.05, label="Lip motion scale",
                                                  info=HELP["lip_scale"])
                            head_motion = gr.Slider(0, 2, value=d.head_motion, step=0.05, label="Head motion",
                                                    info=HELP["head_motion"])
                            blink_rate = gr.Slider(0, 3, value=d.blink_rate, step=0.1, label="Blink rate",
                                                   info=HELP["blink_rate"])
                        with gr.Column(min_width=180):
                            size = gr.Radio([256, 512], value=d.size, label="Output size", info=HELP["size"])
                            framing = gr.Radio([("Face crop", "crop"), ("Full frame", "full")],
                                               value="full" if d.full_frame else "crop", label="Framing", info=HELP["framing"])
                            fps = gr.Slider(10, 60, value=d.fps, step=1, label="Frames per second", info=HELP["fps"])
                            seed = gr.Number(value=d.seed, precision=0, minimum=0, label="Seed", info=HELP["seed"],
                                             elem_id="seed")
                            motion = gr.Radio([("Learned network", "learned"), ("Training-free prior", "prior")],
                                              value=d.motion, label="Mouth motion", info=HELP["motion"], elem_id="motion")
                    reset_btn = gr.Button("Reset to defaults", size="sm", elem_id="reset-btn")

        # The four panels. Labels name the API outputs; the headers above them are what people read.
        with gr.Row(equal_height=True):
            with gr.Column(scale=1, min_width=240, elem_classes="frond-panel"):
                gr.Markdown("**1 · Aligned input**: the detected keypoints")
                aligned_out = gr.Image(label="aligned", show_label=False, type="filepath", format="png",
                                       interactive=False, height=PANEL_HEIGHT, elem_id="aligned-out")
            with gr.Column(scale=2, min_width=360, elem_classes="frond-panel"):
                gr.Markdown("**2 · Keypoint trajectories**: mouth opening, lip width, head pose, with the audio envelope")
                plot_out = gr.Image(label="trajectories", show_label=False, type="filepath", format="png",
                                    interactive=False, height=PANEL_HEIGHT, elem_id="trajectories-out")
            with gr.Column(scale=1, min_width=240, elem_classes="frond-panel"):
                gr.Markdown("**3 · Dense motion field**: colour = direction, arrows = motion")
                field_out = gr.Video(label="motion_field", show_label=False, interactive=False, autoplay=True,
                                     loop=True, height=PANEL_HEIGHT, elem_id="field-out")
            with gr.Column(scale=1, min_width=240, elem_classes="frond-panel"):
                gr.Markdown("**4 · Output**: the talking face, with sound")
                video_out = gr.Video(label="output_video", show_label=False, interactive=False,
                                     height=PANEL_HEIGHT, elem_id="output-video")
        with gr.Row():
            combined_out = gr.File(label="Download: input | motion field | output, side by side (MP4)",
                                   interactive=False, height=90, elem_id="combined-out", scale=1)
            info_out = gr.Markdown(label="run_info", elem_id="run-info")

        settings = [smoothing, lip_scale, head_motion, blink_rate, size, fps, framing, seed, motion]
        generate_btn.click(
            make_generate(dirs),
            inputs=[portrait, speech, *settings],
            outputs=[aligned_out, plot_out, field_out, video_out, combined_out, info_out],
            api_name="generate",
            concurrency_limit=config.concurrency,
            concurrency_id="generate",
            validator=make_validator(config),
        )
        defaults = [d.smoothing, d.lip_scale, d.head_motion, d.blink_rate, d.size, d.fps,
                    "full" if d.full_frame else "crop", d.seed, d.motion]
        reset_btn.click(lambda: defaults, outputs=settings, api_visibility="private", queue=False)
    return demo


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)
    stop_like_interrupt()  # SIGTERM (docker stop, a Space restart) and SIGHUP shut down like Ctrl+C: temporary files go
    logging.basicConfig(level=logging.INFO if config.verbose else logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("frond").setLevel(logging.INFO)  # ours: start-up and model timings; third parties' only with --verbose
    if config.verbose:
        os.environ["FROND_VERBOSE"] = "1"
    offline = go_offline_if_hub_unreachable(config.weights)
    pipeline = get_pipeline(config)  # before serving: the page answers only once the pipeline is ready
    notices = ([offline] if offline else []) + list(pipeline.notices)
    for notice in notices:
        print(f"[frond] {notice}", file=sys.stderr)
    print(f"[frond] path: {describe_modes(pipeline.modes)}", file=sys.stderr)
    warm_up_in_background(pipeline)
    demo = build_demo(config, pipeline, notices)
    demo.queue(default_concurrency_limit=config.concurrency, max_size=config.queue_size)
    allowed = [str(config.examples_dir)] if config.examples_dir.is_dir() else []
    demo.launch(
        server_name=config.host,
        server_port=config.port,
        share=config.share,
        allowed_paths=allowed,
        max_file_size=config.max_upload,
        footer_links=["api", "gradio"],
        ssr_mode=False,
        theme=gr.themes.Soft(),
        css=CSS,
    )


if __name__ == "__main__":
    main()
