"""Facial landmarks in the iBUG 68-point layout, from two backends.

- ``mediapipe``: MediaPipe's full-range face detector finds faces of any size (over a
  pyramid of tiles for small faces in large pictures), then its face mesh runs on a crop
  around each face; the 468 vertices are mapped onto the 68-point layout. Both models ship
  inside the mediapipe 0.10.x wheel, so it works offline.
- ``fan``: face-alignment's 2D-FAN (the field's standard), used when its weights are
  already in the local torch hub cache (they cannot be downloaded offline).

``auto`` picks FAN when its weights are cached, else MediaPipe.
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from contextlib import contextmanager
from functools import lru_cache
from typing import Iterator

import cv2
import numpy as np

from ..config import LANDMARK_BACKENDS
from ..errors import FrondInputError
from ..types import FaceDetection
from .mediapipe_import import face_solutions

# MediaPipe face-mesh vertex for each iBUG-68 landmark (0-indexed iBUG order).
MESH_TO_68 = np.array(
    [127, 234, 93, 132, 58, 136, 150, 176, 152, 400, 379, 365, 288, 361, 323, 454, 356]  # jaw 0-16
    + [70, 63, 105, 66, 107] + [336, 296, 334, 293, 300]  # brows 17-21, 22-26
    + [168, 197, 5, 4] + [75, 97, 2, 326, 305]  # nose bridge 27-30, nostrils 31-35
    + [33, 160, 158, 133, 153, 144] + [362, 385, 387, 263, 373, 380]  # eyes 36-41, 42-47
    + [61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91]  # outer lips 48-59
    + [78, 81, 13, 311, 308, 402, 14, 178],  # inner lips 60-67
    dtype=np.int64,
)
assert MESH_TO_68.shape == (68,)

FAN_FILES = ("2DFAN4-11f355bf06.pth.tar", "s3fd-619a316812.pth")
DETECT_TILE_MIN = 600  # px: smallest tile of the detection pyramid (the detector sees faces down to ~6 % of a tile)
TINY_TILE_MIN = 200  # px: when nothing is found, finer tiles (to 1/8 of the picture), so that a tiny face is reported as too small
CROP_SCALE = 2.0  # the mesh runs on a square crop this many times the detector's face box
MESH_SIDE = (256, 512)  # the crop is resized to within this many pixels: small faces up, large ones down
NOISE = re.compile(r"^([IWEF]\d{4} |INFO: Created TensorFlow Lite|WARNING: All log messages before absl|"
                   r"Downloading model to )")  # MediaPipe's C++ (absl/glog, TFLite) start-up chatter
_lock = threading.Lock()  # MediaPipe graphs are not re-entrant


def torch_hub_dir() -> str:
    """torch.hub.get_dir() without importing torch (2-3 s): $TORCH_HOME/hub, else $XDG_CACHE_HOME/torch/hub."""
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "torch")
    return os.path.join(os.path.expanduser(home), "hub")


def fan_weights_cached() -> bool:
    """True when face-alignment's weights are in the local torch hub cache."""
    folder = os.path.join(torch_hub_dir(), "checkpoints")
    return all(os.path.exists(os.path.join(folder, name)) for name in FAN_FILES)


def resolve_backend(backend: str = "auto") -> str:
    backend = os.environ.get("FROND_LANDMARKS", backend) if backend == "auto" else backend
    if backend == "auto":
        return "fan" if fan_weights_cached() else "mediapipe"
    if backend not in LANDMARK_BACKENDS:
        raise FrondInputError(f"unknown landmark backend {backend!r}: use {', '.join(LANDMARK_BACKENDS)}")
    if backend == "fan" and not fan_weights_cached():
        raise FrondInputError(
            "face-alignment's weights are not in the local cache and cannot be downloaded offline; "
            "use --landmarks mediapipe (the default)."
        )
    return backend


@contextmanager
def quiet_native_logs() -> Iterator[None]:
    """Hold back MediaPipe's C++ log lines (absl/glog `W0000 ...`, TFLite's "Created ... delegate").

    They are written by C++ straight to file descriptor 2, so Python's logging cannot filter
    them: fd 2 goes to a temporary file meanwhile, and what is not such chatter is passed on
    afterwards. With FROND_VERBOSE=1 (what `--verbose` sets) everything passes through unchanged.
    """
    if os.environ.get("FROND_VERBOSE", "") not in ("", "0"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            kept = [line for line in sink.read().decode("utf-8", "replace").splitlines(True) if not NOISE.match(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


@lru_cache(maxsize=2)
def _mediapipe_mesh(max_faces: int):
    _, face_mesh = face_solutions()
    return face_mesh.FaceMesh(static_image_mode=True, max_num_faces=max_faces, refine_landmarks=False,
                              min_detection_confidence=0.4)


@lru_cache(maxsize=1)
def _mediapipe_detector():
    """MediaPipe's full-range face detector (model_selection=1; its model ships in the wheel)."""
    face_detection, _ = face_solutions()
    return face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)


@lru_cache(maxsize=1)
def _fan_model():
    import face_alignment
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    return face_alignment.FaceAlignment(face_alignment.LandmarksType.TWO_D, device=device, flip_input=False)


def detection_levels(height: int, width: int) -> tuple[list[int], list[int]]:
    """Tile sides of the detection pyramid: (the first pass: the whole picture, then halves, ...
    down to DETECT_TILE_MIN px; the finer pass, run only when the first finds no face)."""
    sides = [max(height, width)]
    while sides[-1] // 2 >= DETECT_TILE_MIN:
        sides.append(sides[-1] // 2)
    finer: list[int] = []
    while (finer or sides)[-1] // 2 >= max(TINY_TILE_MIN, max(height, width) // 8):
        finer.append((finer or sides)[-1] // 2)
    return sides, finer


def detection_tiles(height: int, width: int, sides: list[int]) -> list[tuple[int, int, int]]:
    """Square windows (x0, y0, side) of each side in `sides`, overlapping by a fifth, so that a face
    too small for one level lies whole in a tile of the next. The detector sees each window at
    192 px, so small faces need small windows."""
    tiles = []
    for side in sides:
        stride = int(side * 0.8)
        xs = sorted({*range(0, max(1, width - side), stride), max(0, width - side)})
        ys = sorted({*range(0, max(1, height - side), stride), max(0, height - side)})
        tiles += [(x, y, side) for y in ys for x in xs]
    return tiles


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Boxes (x0, y0, x1, y1, ...) -> their intersection over the smaller one's area: a face cut
    by a tile's edge, found again whole in another tile, counts as the same face."""
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    return inter / max(min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])), 1e-9)


def _distinct(boxes: list[np.ndarray]) -> list[int]:
    """Boxes in order of preference -> indices of those that overlap no kept earlier one by half or more."""
    kept: list[int] = []
    for i, box in enumerate(boxes):
        if all(_overlap(box, boxes[k]) < 0.5 for k in kept):
            kept.append(i)
    return kept


def face_boxes(image: np.ndarray, sides: list[int] | None = None) -> np.ndarray:
    """Every face the full-range detector finds in tiles of `sides` (default: the first pass of
    `detection_levels`): (F, 5) x0, y0, x1, y1, score in image pixels, largest first.
    image: (H, W, 3) uint8 RGB."""
    height, width = image.shape[:2]
    found = []
    detector = _mediapipe_detector()
    for x, y, side in detection_tiles(height, width, sides or detection_levels(height, width)[0]):
        window = np.ascontiguousarray(image[y:y + side, x:x + side])
        h, w = window.shape[:2]
        for d in detector.process(window).detections or []:
            b = d.location_data.relative_bounding_box
            found.append((x + b.xmin * w, y + b.ymin * h, x + (b.xmin + b.width) * w, y + (b.ymin + b.height) * h, d.score[0]))
    boxes = sorted((np.array(f, np.float64) for f in found), key=lambda f: -f[4])
    kept = [boxes[i] for i in _distinct(boxes)]  # of overlapping boxes, the surest
    kept.sort(key=lambda k: -(k[2] - k[0]) * (k[3] - k[1]))
    return np.array(kept, np.float64).reshape(-1, 5)


def _mesh_in_box(image: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """The face mesh on a square crop around a detector box -> (68, 2) image pixels, or None."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    side = CROP_SCALE * max(box[2] - box[0], box[3] - box[1])
    out = int(np.clip(side, *MESH_SIDE))
    scale = out / side
    crop_from_image = np.array([[scale, 0, out / 2 - scale * cx], [0, scale, out / 2 - scale * cy]])
    crop = cv2.warpAffine(image, crop_from_image, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    result = _mediapipe_mesh(1).process(crop)
    if not result.multi_face_landmarks:
        return None
    mesh = np.array([(p.x * out, p.y * out) for p in result.multi_face_landmarks[0].landmark], np.float64)[MESH_TO_68]
    return ((mesh - crop_from_image[:, 2]) / scale).astype(np.float32)


def _detect_mediapipe(image: np.ndarray, max_faces: int) -> list[np.ndarray]:
    """Full-range detection over a tile pyramid, then the mesh on each face's crop. When that finds
    nothing: finer tiles (a tiny face, to be reported as too small), then the mesh on the whole image."""
    image = np.ascontiguousarray(image)
    with _lock, quiet_native_logs():
        for sides in detection_levels(*image.shape[:2]):
            if not sides:
                continue
            meshes = [m for m in (_mesh_in_box(image, box) for box in face_boxes(image, sides)[:max_faces]) if m is not None]
            if meshes:  # two boxes can still lead the mesh to one face
                return [meshes[i] for i in _distinct([np.concatenate([m.min(0), m.max(0)]) for m in meshes])]
        height, width = image.shape[:2]
        result = _mediapipe_mesh(max_faces).process(image)
        return [np.array([(p.x * width, p.y * height) for p in face.landmark], dtype=np.float32)[MESH_TO_68]
                for face in result.multi_face_landmarks or []]


def _detect_fan(image: np.ndarray) -> list[np.ndarray]:
    with _lock:
        found = _fan_model().get_landmarks_from_image(image)
    return [np.asarray(f[:, :2], dtype=np.float32) for f in (found or [])]


def detect_faces(image: np.ndarray, backend: str = "auto", max_faces: int = 4) -> list[FaceDetection]:
    """Find faces, of any size, and their 68 landmarks.

    image: (H, W, 3) uint8 RGB. Returns up to `max_faces` detections sorted largest first
    (by the landmarks' bounding-box area); an empty list when there is no face.
    """
    name = resolve_backend(backend)
    detect = _detect_fan(image) if name == "fan" else _detect_mediapipe(image, max_faces)
    out = []
    for points in detect:
        x0, y0 = points.min(axis=0)
        x1, y1 = points.max(axis=0)
        out.append(FaceDetection(landmarks=points, box=(float(x0), float(y0), float(x1), float(y1)), backend=name))
    out.sort(key=lambda d: -(d.box[2] - d.box[0]) * (d.box[3] - d.box[1]))
    return out[:max_faces]


def several_faces_note(found: int, index: int, capped: bool = False) -> str | None:
    """What to tell the user when the portrait holds more than one face: which one is animated
    and how to pick another (`detect_faces` orders them largest first). None for a single face.
    capped: detection stopped at `found`, so there may be more."""
    if found < 2:
        return None
    count = f"{'at least ' if capped else ''}{found} faces"
    if index == 0:
        return f"Found {count}; animating the largest; --face-index 1 picks the next."
    ordinal = {1: "2nd", 2: "3rd"}.get(index, f"{index + 1}th")
    return f"Found {count}; animating the {ordinal} largest (--face-index {index}); --face-index 0 picks the largest."
