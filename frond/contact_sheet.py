"""`python -m frond contact-sheet`: a visual regression sheet of the renderer.

For several portraits, the speech of `examples/speech_1.wav` drives the motion stage,
and a few frames are rendered at 512 through the field and the decoder, as `generate`
renders them (no video encoding, so the sheet shows the renderer, not x264): the
portrait, the mouth closed, half open and widest open, each a 1:1 crop of the face, so
the sheet shows the pixels of a 512 video; then the head turned to the extremes the
renderer must keep whole (`TURNS`: roll +-10 degrees, yaw +-15 degrees), each the whole
crop at half size, so that the neck, the hair and the background show. A change that
degrades the frames (stripes, blur, smears, painted mouths, tearing) shows in review when
the sheet is regenerated.

Portraits: `--portraits` (images, or videos whose first frame is used), else a fixed
selection from `../shared/data` (skipped, with a message, when it is absent).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .config import GenerationSettings
    from .pipeline import FrondPipeline
    from .stages import DenseFieldEstimator, ImageDecoder
    from .types import AlignedFace, OutputSpace

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DEFAULT_PORTRAITS = ("portraits/happy.png", "portraits/people_0.png", "portraits/art_1.png", "portraits/art_12.png",
                     "portraits/full_body_1.png", "clips/talk3.mp4", "clips/vox_00002.mp4")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
TURNS = (("roll -10", (0.0, 0.0, -10.0)), ("roll +10", (0.0, 0.0, 10.0)),
         ("yaw -15", (-15.0, 0.0, 0.0)), ("yaw +15", (15.0, 0.0, 0.0)))  # the head turned: label, (yaw, pitch, roll)


@dataclass
class Stills:
    """Frames of one portrait rendered by the pipeline's stages."""

    portrait: np.ndarray  # (S, S, 3) uint8 the aligned portrait
    frames: list[np.ndarray]  # (H, W, 3) uint8 rendered frames
    openings: list[float]  # driving mouth opening (inner-lip gap / inter-ocular distance) of each frame
    turned: list[tuple[str, np.ndarray]] = field(default_factory=list)  # (label, (H, W, 3) frame): the head turned


def load_portrait(path: Path) -> np.ndarray:
    """An image, or the first frame of a video -> (H, W, 3) uint8 RGB."""
    from .errors import FrondInputError
    from .media import load_image, read_video_frames

    if path.suffix.lower() in VIDEO_SUFFIXES:
        frames = read_video_frames(path)
        first = next(frames, None)
        frames.close()
        if first is None:
            raise FrondInputError(f"{path} has no decodable video frame.")
        return first
    return load_image(path)[0]


def prepare_portrait(pipe: FrondPipeline, image: np.ndarray, settings: GenerationSettings
                     ) -> tuple[AlignedFace, np.ndarray, OutputSpace, DenseFieldEstimator, ImageDecoder]:
    """The pipeline's stages ready for `image` (H, W, 3), as `generate` prepares them.

    Returns (aligned face, source keypoints (68, 2), output space, field stage, decoder stage).
    """
    from .face.framing import output_framing

    face = pipe.find_face(image, settings)
    source = pipe.stages.encoder.encode(face)
    space = output_framing(face, settings, pipe.limits).space
    field, decoder = pipe.stages.field, pipe.stages.decoder
    field.prepare(face, source, space)
    decoder.prepare(face, source, space)
    return face, source.keypoints, space, field, decoder


def render_stills(pipe: FrondPipeline, image: np.ndarray, settings: GenerationSettings, driving: np.ndarray,
                  poses: np.ndarray) -> Stills:
    """Render frames of `image` through the pipeline's stages: driving (T, 68, 2) keypoints, poses (T, 3)."""
    from .face.ibug import mouth_opening

    face, _, _, dense, decoder = prepare_portrait(pipe, image, settings)
    frames = list(decoder.render_batch(dense.frames(driving, poses), driving))
    return Stills(portrait=face.image, frames=frames, openings=[float(mouth_opening(k)) for k in driving])


def turned_stills(pipe: FrondPipeline, image: np.ndarray, size: int = 512) -> list[tuple[str, np.ndarray]]:
    """The portrait's face, mouth at rest, with the head turned to each of `TURNS`: (label, (S, S, 3) frame)."""
    from .config import CROP, GenerationSettings
    from .face.head import HeadGeometry, full_pose, keypoint_depth

    _, source, _, dense, decoder = prepare_portrait(pipe, image, GenerationSettings(size=size, framing=CROP))
    geometry = HeadGeometry(source)
    depth = keypoint_depth(geometry, source)
    poses = full_pose(np.array([pose for _, pose in TURNS], np.float32))
    driving = np.stack([geometry.rotate(source.astype(np.float64), pose, depth) for pose in poses]).astype(np.float32)
    frames = decoder.render_batch(dense.frames(driving, poses), driving)
    return [(label, frame) for (label, _), frame in zip(TURNS, frames)]


def speech_stills(pipe: FrondPipeline, image: np.ndarray, audio: Path, size: int = 512) -> Stills:
    """The portrait driven by `audio`: its frames with the mouth closed, half open and widest open (the head
    held still: these columns are for the mouth; `turned_stills` shows the head's turns)."""
    from .config import CROP, GenerationSettings
    from .face.ibug import mouth_opening
    from .media import load_audio

    settings = GenerationSettings(size=size, framing=CROP, head_motion=0.0)
    face = pipe.find_face(image, settings)
    source = pipe.stages.encoder.encode(face)
    clip = load_audio(audio)
    times = (np.arange(int(clip.duration * settings.fps)) + 0.5) / settings.fps
    motion = pipe.stages.motion.estimate(clip, source.keypoints, times, settings)
    opening = mouth_opening(motion.keypoints)
    chosen = [int(np.argmin(opening)), int(np.argmin(np.abs(opening - 0.5 * opening.max()))), int(np.argmax(opening))]
    return render_stills(pipe, image, settings, motion.keypoints[chosen], motion.head_pose[chosen])


def face_tile(image: np.ndarray, tile: int) -> np.ndarray:
    """A 1:1 crop (tile, tile, 3) of an aligned frame, from the eyes to the chin (centre of the crop's face)."""
    size = image.shape[0]
    cy = int(round(size * 0.53))  # between the eyes (y -0.15) and the mouth (y 0.28) of the crop template
    y0 = int(np.clip(cy - tile // 2, 0, max(size - tile, 0)))
    x0 = max((image.shape[1] - tile) // 2, 0)
    return image[y0:y0 + tile, x0:x0 + tile]


def compose_sheet(rows: list[tuple[str, Stills]], tile: int = 256) -> np.ndarray:
    """One row per portrait: the aligned portrait, then its frames (1:1 face tiles), then the head turned
    (the whole crop, scaled to the tile); a caption strip above each tile."""
    import cv2

    caption = 22
    columns = 1 + max(len(stills.frames) + len(stills.turned) for _, stills in rows)
    sheet = np.full((len(rows) * (tile + caption), columns * tile, 3), 255, np.uint8)
    for r, (name, stills) in enumerate(rows):
        tiles = [("portrait: " + name, stills.portrait)] + [(f"opening {o:.2f}", f) for o, f in zip(stills.openings, stills.frames)]
        whole = [(f"head {label} (whole crop)", cv2.resize(f, (tile, tile), interpolation=cv2.INTER_AREA))
                 for label, f in stills.turned]
        for c, (label, image) in enumerate(tiles + whole):
            y, x = r * (tile + caption), c * tile
            crop = face_tile(image, tile)
            sheet[y + caption: y + caption + crop.shape[0], x: x + crop.shape[1]] = crop
            cv2.putText(sheet, label[:34], (x + 4, y + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (20, 20, 20), 1, cv2.LINE_AA)
    return sheet


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `contact-sheet` subcommand."""
    parser = subparsers.add_parser(
        "contact-sheet", help="render a grid of frames from several portraits at 512 (a visual regression sheet)",
        description="Render the portrait, a closed, a half-open and a wide-open mouth for several portraits at 512, "
                    "driven by the bundled speech, as 1:1 face crops, then the head turned (roll +-10, yaw +-15 "
                    "degrees) as whole crops, in one PNG. Without --portraits it uses a "
                    "selection from ../shared/data and skips when that is absent.")
    parser.add_argument("--portraits", type=Path, nargs="+", help="images (or videos: their first frame)")
    parser.add_argument("--audio", type=Path, default=ROOT / "examples" / "speech_1.wav", help="the driving speech")
    parser.add_argument("--size", type=int, default=512, choices=(256, 512), help="side of the rendered crop")
    parser.add_argument("--tile", type=int, default=256, help="side of each 1:1 tile in the sheet (px)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "contact_sheet.png", help="the PNG to write")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Entry point of `python -m frond contact-sheet`; returns the exit status."""
    import cv2

    from .pipeline import FrondPipeline

    portraits = list(args.portraits or [])
    if not portraits:
        portraits = [SHARED / p for p in DEFAULT_PORTRAITS if (SHARED / p).exists()]
        if not portraits:
            print(f"contact-sheet: skipped: no --portraits given and {SHARED} is absent.", file=sys.stderr)
            return 0
    pipe = FrondPipeline(landmarks="mediapipe")
    rows = []
    for path in portraits:
        image = load_portrait(path)
        stills = speech_stills(pipe, image, args.audio, args.size)
        stills.turned = turned_stills(pipe, image, args.size)
        rows.append((path.name, stills))
        print(f"{path.name}: openings " + ", ".join(f"{o:.2f}" for o in stills.openings), file=sys.stderr)
    sheet = compose_sheet(rows, min(args.tile, args.size))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]}, {len(rows)} portraits)")
    return 0
