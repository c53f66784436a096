"""Settings as dataclasses: one comment per field, one obvious place for each knob.

`GenerationSettings` holds what a user tunes (the CLI options and the app's sliders);
`Limits` holds what protects the machine (input sizes, durations).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any


MOTION_PATHS = ("learned", "prior")  # GenerationSettings.motion


@dataclass(frozen=True)
class GenerationSettings:
    """What one generation does. Defaults are the app's and the CLI's defaults."""

    size: int = 256  # side of the aligned face crop, in pixels (256 or 512)
    fps: float = 25.0  # frames per second of the output video
    smoothing: float = 0.5  # trajectory stiffness, 0 = follow every phone, 1 = very smooth
    lip_scale: float = 1.0  # multiplies the mouth motion (0 = still mouth, 2 = exaggerated)
    head_motion: float = 1.0  # multiplies the head's pose drift (0 = still head)
    blink_rate: float = 1.0  # multiplies the natural blink rate (about 17 per minute)
    full_frame: bool = False  # paste the animated face back into the whole original image
    seed: int = 0  # seeds blinks, head drift and idle motion: same seed, same video
    face_index: int = 0  # which face when several are found: 0 = the largest, 1 = the next, ...
    motion: str = "learned"  # "learned": the trained audio -> mouth network; "prior": the training-free phone/viseme path

    def __post_init__(self) -> None:
        if self.size not in (256, 512):
            raise ValueError(f"size must be 256 or 512, got {self.size}")
        if not 1.0 <= self.fps <= 60.0:
            raise ValueError(f"fps must be within 1..60, got {self.fps}")
        if not 0.0 <= self.smoothing <= 1.0:
            raise ValueError(f"smoothing must be within 0..1, got {self.smoothing}")
        for name in ("lip_scale", "head_motion", "blink_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 3.0:
                raise ValueError(f"{name} must be within 0..3, got {value}")
        if self.motion not in MOTION_PATHS:
            raise ValueError(f"motion must be one of {', '.join(MOTION_PATHS)}, got {self.motion!r}")
        if self.face_index < 0:
            raise ValueError(f"face_index must be >= 0, got {self.face_index}")
        if not 0 <= self.seed < 2**63:
            raise ValueError(f"seed must be a whole number >= 0, got {self.seed}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, **changes: Any) -> "GenerationSettings":
        known = {f.name for f in fields(self)}
        return replace(self, **{k: v for k, v in changes.items() if k in known and v is not None})


@dataclass(frozen=True)
class Limits:
    """Input limits: what is refused, what is shrunk."""

    max_audio_seconds: float = 300.0  # longer audio is refused with a message
    min_audio_seconds: float = 0.2  # shorter audio is refused with a message
    max_image_side: int = 4096  # larger portraits are downscaled to this side, then used
    min_face_pixels: int = 64  # faces narrower than this (eye-to-eye span x 2.5) are refused
    max_full_frame_side: int = 1920  # full-frame output is downscaled to fit this side

    def __post_init__(self) -> None:
        if not math.isfinite(self.max_audio_seconds) or self.max_audio_seconds < self.min_audio_seconds:
            raise ValueError(f"the audio length limit must be a number of seconds >= {self.min_audio_seconds:g}, "
                             f"got {self.max_audio_seconds}")
        if self.max_image_side < 64 or self.max_full_frame_side < 64:
            raise ValueError(f"image size limits must be >= 64 px, got {self.max_image_side} and {self.max_full_frame_side}")


DEFAULT_SETTINGS = GenerationSettings()
DEFAULT_LIMITS = Limits()
