"""Settings as dataclasses: one comment per field, one obvious place for each knob.

`GenerationSettings` holds what a user tunes; `SETTINGS` describes each of its fields once
(label, help, valid values, widget), and the CLI options, the app's widgets, the app's API,
manifest columns and the validation are all made from it. `Limits` holds what protects the
machine (input sizes, durations).
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import MISSING, asdict, dataclass, fields, replace
from typing import Any

from .stages import LEARNED, PRIOR


def available_cores() -> int:
    """CPU cores this process may run on (its affinity where the system has one)."""
    return len(os.sched_getaffinity(0)) if sys.platform == "linux" else os.cpu_count() or 1


IMAGE_PIXELS_CEILING = 400_000_000  # no limit admits more: PIL's own bomb check (frond.media sets it) refuses at twice this
MIN_IMAGE_PIXELS_LIMIT = 64 * 64  # the smallest pixel limit that makes sense (a 64 px portrait)
LANDMARK_BACKENDS = ("auto", "mediapipe", "fan")  # face.landmarks.resolve_backend; "auto": FAN when cached, else MediaPipe
WHOLE_END = 2**63  # whole-number settings stay below this (the seed feeds numpy's 64-bit generators)
PICTURE, CROP = "picture", "crop"  # the framings (`frond.face.framing`): the whole picture as uploaded, or the aligned face crop


@dataclass(frozen=True)
class Setting:
    """One user-facing generation setting: how the CLI, the app and the validation describe it."""

    name: str  # the GenerationSettings field; the CLI option is --name-with-dashes, the manifest column the name
    kind: type  # float, int, bool or str: what the CLI parses, the manifest reads and the app's value turns into
    label: str  # the app widget's label
    help: str  # one line: what it does (the app's info text; the CLI adds the range and the default)
    low: float | None = None  # smallest valid value (numbers without choices)
    high: float | None = None  # largest valid value; None: below WHOLE_END
    choices: tuple[Any, ...] = ()  # the valid values, when they are a short list
    widget: str = ""  # "slider", "radio" or "number" in the app; "": command line and manifest only
    column: int = 0  # which of the app's two settings columns holds the widget
    step: float = 1.0  # the slider's step
    slider: tuple[float, float] | None = None  # the slider's ends, where narrower than low..high
    app_name: str = ""  # its name in the app and its API, when not `name`
    app_values: tuple[Any, ...] = ()  # the app's value for each of `choices`, when they differ
    choice_labels: tuple[str, ...] = ()  # what the app's radio shows for each choice

    @property
    def default(self) -> Any:
        """The dataclass's default: GenerationSettings is the one source of defaults."""
        default = GenerationSettings.__dataclass_fields__[self.name].default
        assert default is not MISSING, self.name
        return default

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def api_name(self) -> str:
        return self.app_name or self.name

    @property
    def range_text(self) -> str:
        """The valid values in words: "0..3", "256 or 512", ">= 0"."""
        if self.choices:
            return " or ".join(str(c) for c in self.choices)
        if self.high is not None:
            return f"{self.low:g}..{self.high:g}"
        return f">= {self.low:g}"

    def check(self, value: Any) -> None:
        """Raise ValueError naming the setting when `value` is not one of its valid values."""
        if self.kind is bool:
            return
        if self.choices:
            ok = value in self.choices
        elif self.high is not None:
            ok = self.low <= value <= self.high
        else:
            ok = self.low <= value < WHOLE_END
        if not ok:
            raise ValueError(f"{self.name} must be {self.valid_text}, got {value!r}")

    def to_app(self, value: Any) -> Any:
        """A field value -> the app widget's value (`app_values`, when the app names the choices otherwise)."""
        return self.app_values[self.choices.index(value)] if self.app_values else value

    def from_app(self, value: Any) -> Any:
        """The app widget's value -> the field's type (None or "": the default); ValueError naming the setting."""
        if value is None or value == "":
            return self.default
        try:
            return self.choices[self.app_values.index(value)] if self.app_values else self.kind(value)
        except (TypeError, ValueError):
            valid = " or ".join(map(str, self.app_values)) if self.app_values else self.valid_text
            raise ValueError(f"{self.api_name} must be {valid}, got {value!r}") from None

    @property
    def valid_text(self) -> str:
        """The valid values as a phrase: a whole number >= 0, within 0..3, 256 or 512."""
        if self.choices:
            return self.range_text
        return ("a whole number " if self.kind is int else "within " if self.high is not None else "") + self.range_text


@dataclass(frozen=True)
class GenerationSettings:
    """What one generation does. Defaults are the app's and the CLI's defaults."""

    size: int = 256  # side of the aligned face crop, in pixels (256 or 512): the video's size with the crop framing
    fps: float = 25.0  # frames per second of the output video
    smoothing: float = 0.5  # trajectory stiffness, 0 = follow every phone, 1 = very smooth
    lip_scale: float = 1.0  # multiplies the mouth motion (0 = still mouth, 2 = exaggerated)
    head_motion: float = 1.0  # multiplies the head's motion (0 = still head)
    expression: float = 1.0  # multiplies the brows' and cheeks' motion (0 = still brows)
    blink_rate: float = 1.0  # multiplies the natural blink rate (about 17 per minute)
    framing: str = PICTURE  # PICTURE: the face animated inside the whole picture (pasted back, feathered); CROP: the aligned crop
    max_side: int = 720  # PICTURE framing: the video's long side at most, in pixels (larger pictures shrink, none grows)
    seed: int = 0  # seeds blinks, head drift and idle motion: same seed, same video
    face_index: int = 0  # which face when several are found: 0 = the largest, 1 = the next, ...
    motion: str = LEARNED  # "learned": the trained audio -> face and head network; "prior": the training-free phone/viseme path

    def __post_init__(self) -> None:
        for setting in SETTINGS:
            setting.check(getattr(self, setting.name))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, **changes: Any) -> "GenerationSettings":
        known = {f.name for f in fields(self)}
        return replace(self, **{k: v for k, v in changes.items() if k in known and v is not None})


SETTINGS: tuple[Setting, ...] = (  # in the app's order, which is also the order of its API's parameters
    Setting("smoothing", float, "Motion smoothing",
            "Trajectory stiffness: 0 follows every sound, 1 glides between mouth shapes.",
            low=0, high=1, widget="slider", step=0.05),
    Setting("lip_scale", float, "Lip motion scale", "Multiplies mouth motion: 0 keeps the mouth still, 2 exaggerates.",
            low=0, high=3, widget="slider", step=0.05, slider=(0, 2)),
    Setting("head_motion", float, "Head motion", "Multiplies the head's natural sway and nods: 0 keeps the head still.",
            low=0, high=3, widget="slider", step=0.05, slider=(0, 2)),
    Setting("blink_rate", float, "Blink rate", "Multiplies the natural blink rate (about 17 blinks a minute).",
            low=0, high=3, widget="slider", step=0.1),
    Setting("size", int, "Output size",
            "Side of the aligned face crop in pixels (the video's size with the face-crop framing). 512 is sharper and "
            "about 4x slower.", choices=(256, 512), widget="radio", column=1),
    Setting("fps", float, "Frames per second",
            "Frames per second of the video. Motion is continuous in time, so any rate works.",
            low=1, high=60, widget="slider", column=1, slider=(10, 60)),
    Setting("framing", str, "Framing",
            "Picture: the face animated in the whole picture as uploaded. Face crop: the aligned square of the output size.",
            choices=(PICTURE, CROP), widget="radio", column=1, choice_labels=("Whole picture", "Face crop")),
    Setting("seed", int, "Seed", "Seeds blinks and head sway: the same seed gives the same video.",
            low=0, widget="number", column=1),
    Setting("motion", str, "Mouth motion",
            "Learned: the network trained on real talking faces. Prior: hand-made phone -> mouth shape rules.",
            choices=(LEARNED, PRIOR), widget="radio", column=1, choice_labels=("Learned network", "Training-free prior")),
    Setting("expression", float, "Expression", "Multiplies the brows' and cheeks' motion: 0 keeps them still, 2 exaggerates.",
            low=0, high=3, widget="slider", step=0.05, slider=(0, 2)),
    Setting("face_index", int, "Face", "Which face when there are several: 0 = the largest, 1 = the next, ...", low=0),
    Setting("max_side", int, "Longest side",
            "Picture framing: the video's longest side at most, in pixels; larger pictures are scaled down (never up), "
            "sides rounded to even numbers for H.264. 720 keeps it fast.", low=64, high=4096),
)
APP_SETTINGS = tuple(s for s in SETTINGS if s.widget)  # the app's widgets and its API's parameters, in order


@dataclass(frozen=True)
class Limits:
    """Input limits: what is refused, what is shrunk."""

    max_audio_seconds: float = 300.0  # longer audio is refused with a message
    min_audio_seconds: float = 0.2  # shorter audio is refused with a message
    max_image_side: int = 4096  # larger portraits are downscaled to this side, then used
    max_image_pixels: int = 100_000_000  # portraits with more pixels are refused from their header, before decoding
    min_face_pixels: int = 64  # faces narrower than this (eye-to-eye span x 2.5) are refused

    def __post_init__(self) -> None:
        if not math.isfinite(self.max_audio_seconds) or self.max_audio_seconds < self.min_audio_seconds:
            raise ValueError(f"the audio length limit must be a number of seconds >= {self.min_audio_seconds:g}, "
                             f"got {self.max_audio_seconds}")
        if self.max_image_side < 64:
            raise ValueError(f"the image size limit must be >= 64 px, got {self.max_image_side}")
        if not MIN_IMAGE_PIXELS_LIMIT <= self.max_image_pixels <= IMAGE_PIXELS_CEILING:
            raise ValueError(f"the image pixel limit must be {MIN_IMAGE_PIXELS_LIMIT}..{IMAGE_PIXELS_CEILING}, "
                             f"got {self.max_image_pixels}")


DEFAULT_LIMITS = Limits()
