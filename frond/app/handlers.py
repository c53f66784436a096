"""What the page's events run: the note beside the portrait, the validator (before a request joins
the queue) and `generate`. The settings' names, defaults, order and valid values come from
`frond.config.APP_SETTINGS`, so the API's parameters are the table's app names, and a bad value is
answered with the CLI's message, on its own field."""
from __future__ import annotations

import inspect
import logging
import time
from typing import Any, Callable, Mapping

import gradio as gr

from ..config import APP_SETTINGS, GenerationSettings
from ..errors import FrondInputError
from . import runtime
from .describe import summary
from .options import AppConfig

log = logging.getLogger("frond.app")

MEDIA = ("portrait", "speech")  # the two uploads, before the settings
DRIVING = "driving_video"  # the optional driving video, after the settings (reenactment: it wins over the speech)
INPUT_NAMES = MEDIA + tuple(s.api_name for s in APP_SETTINGS) + (DRIVING,)  # the click's inputs = the API's parameters, in order
NO_PORTRAIT = "Add a portrait first: upload a photo, paste one, or take one with the webcam."
NO_SPEECH = "Add speech first: upload an audio file or record one with the microphone (or a driving video)."
VIDEO_WINS = "A driving video was given: its face's motion and its soundtrack drive the portrait; the speech was not used."

_POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD
SIGNATURE = inspect.Signature(  # `generate`'s, which Gradio reads for the API's parameter names and defaults
    [inspect.Parameter(name, _POSITIONAL, annotation=str | None) for name in MEDIA]
    + [inspect.Parameter(s.api_name, _POSITIONAL, default=s.to_app(s.default), annotation=str if s.app_values else s.kind)
       for s in APP_SETTINGS]
    + [inspect.Parameter(DRIVING, _POSITIONAL, default=None, annotation=str | None)]
    + [inspect.Parameter("progress", _POSITIONAL, default=gr.Progress(), annotation=gr.Progress)],
    return_annotation=tuple[str, str, str, str, str, str],
)


def settings_from_app(values: Mapping[str, Any]) -> GenerationSettings:
    """The widgets' values, by API name -> GenerationSettings (a missing one takes its default);
    ValueError naming the bad one."""
    return GenerationSettings(**{s.name: s.from_app(values.get(s.api_name)) for s in APP_SETTINGS})


def setting_errors(values: Mapping[str, Any]) -> dict[str, str]:
    """API name -> the CLI's message ("smoothing must be within 0..1, got 5.0."), for each bad value."""
    errors = {}
    for setting in APP_SETTINGS:
        try:
            setting.check(setting.from_app(values.get(setting.api_name)))
        except ValueError as exc:
            errors[setting.api_name] = f"{exc}."
    return errors


def make_portrait_note(config: AppConfig) -> Callable[[str | None], str]:
    """The Markdown beside the portrait, as soon as one is chosen: its notices (downscaled; several
    faces, and which one is animated) or why it cannot be used; "" when there is nothing to say."""
    from ..media import load_image

    def portrait_note(portrait: str | None) -> str:
        if not portrait:
            return ""
        try:
            image, notices = load_image(portrait, config.limits)
            pipe = runtime.pipeline()
            if pipe is not None:
                pipe.find_face(image, GenerationSettings(), notices)
        except FrondInputError as exc:
            return f"⚠️ {exc}"
        return "  \n".join(f"ⓘ {notice}" for notice in notices)

    return portrait_note


def make_validator(config: AppConfig) -> Callable[..., list[Any]]:
    """The check Gradio runs *before* a request joins the queue, so that bad input is answered at
    once instead of after its turn: the settings, the speech (decoded: format, length, NaN) and the
    portrait (read, and its face found). One `gr.validate` per input, in `INPUT_NAMES` order."""
    from ..media import load_audio, load_image, probe_video

    def validate(portrait: str | None, speech: str | None, *values: Any) -> list[Any]:
        *setting_values, driving = values
        named = dict(zip(INPUT_NAMES[len(MEDIA):], setting_values))
        verdicts = setting_errors(named)  # each on its own field
        settings = None if verdicts else settings_from_app(named)
        if driving:  # its landmarks are read in the request; here only that it is a video of an allowed length
            try:
                info = probe_video(driving)
                seconds = float(info.get("video_duration") or 0.0)
                if info.get("video_codec") is None or seconds > config.limits.max_audio_seconds:
                    verdicts[DRIVING] = (f"The driving video must be a video of at most {config.limits.max_audio_seconds:g} s."
                                         if info.get("video_codec") else "Could not read the driving video as a video.")
            except Exception:  # noqa: BLE001 - whatever PyAV raises on a file that is no video
                verdicts[DRIVING] = "Could not read the driving video as a video."
        elif not speech:
            verdicts["speech"] = NO_SPEECH
        else:
            try:
                load_audio(speech, config.limits)
            except FrondInputError as exc:
                verdicts["speech"] = str(exc)
        if not portrait:
            verdicts["portrait"] = NO_PORTRAIT
        else:
            try:
                image, _ = load_image(portrait, config.limits)
                pipe = runtime.pipeline()
                if settings is not None and pipe is not None:
                    pipe.find_face(image, settings)
            except FrondInputError as exc:
                verdicts["portrait"] = str(exc)
        return [gr.validate(name not in verdicts, verdicts.get(name, "")) for name in INPUT_NAMES]

    return validate


def make_generate(dirs: runtime.OutputDirs) -> Callable[..., tuple[str, str, str, str, str, str]]:
    """The Generate button's function; its signature is `SIGNATURE` (portrait, speech, then the
    settings by their app names: the public API's keywords)."""

    def generate(*args: Any, **kwargs: Any) -> tuple[str, str, str, str, str, str]:
        """Animate a portrait with speech, or with a driving video's face (which then wins over the speech).

        Returns: the aligned input with keypoints (PNG), the keypoint trajectories plot (PNG),
        the dense motion field (MP4), the output video with sound (MP4), the combined
        side-by-side video (MP4), and a Markdown summary naming the path that ran.
        """
        request = SIGNATURE.bind(*args, **kwargs)
        request.apply_defaults()
        values = request.arguments
        progress = values["progress"]
        if not values["portrait"]:
            raise gr.Error(NO_PORTRAIT, title="No portrait", print_exception=False)
        driving = values[DRIVING] or None
        if not values["speech"] and driving is None:
            raise gr.Error(NO_SPEECH, title="No speech", print_exception=False)
        try:
            settings = settings_from_app(values)
        except (TypeError, ValueError) as exc:
            raise gr.Error(f"Invalid setting: {exc}.", title="Check the settings", print_exception=False) from None
        if not runtime.WARM.is_set():
            progress(0.0, desc="loading the models (first request only)")
            runtime.WARM.wait()
        progress(0.0, desc="starting")
        t0 = time.perf_counter()
        try:
            result = runtime.generate_on_device(values["portrait"], None if driving else values["speech"], settings,
                                                str(dirs.new()), progress, driving)
            if driving and values["speech"]:
                result.notices.insert(0, VIDEO_WINS)
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

    generate.__signature__ = SIGNATURE  # type: ignore[attr-defined]
    return generate
