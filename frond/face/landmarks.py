"""Facial landmarks in the iBUG 68-point layout, from two backends.

- ``mediapipe``: MediaPipe's face mesh (its model ships inside the mediapipe 0.10.x wheel,
  so it works offline), its 468 vertices mapped onto the 68-point layout.
- ``fan``: face-alignment's 2D-FAN (the field's standard), used when its weights are
  already in the local torch hub cache (they cannot be downloaded offline).

``auto`` picks FAN when its weights are cached, else MediaPipe.
"""
from __future__ import annotations

import os
import threading
from functools import lru_cache

import numpy as np

from ..errors import FrondInputError
from ..types import FaceDetection

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
_lock = threading.Lock()  # MediaPipe graphs are not re-entrant


def fan_weights_cached() -> bool:
    """True when face-alignment's weights are in the local torch hub cache."""
    import torch.hub

    folder = os.path.join(torch.hub.get_dir(), "checkpoints")
    return all(os.path.exists(os.path.join(folder, name)) for name in FAN_FILES)


def resolve_backend(backend: str = "auto") -> str:
    backend = os.environ.get("FROND_LANDMARKS", backend) if backend == "auto" else backend
    if backend == "auto":
        return "fan" if fan_weights_cached() else "mediapipe"
    if backend not in ("mediapipe", "fan"):
        raise ValueError(f"unknown landmark backend {backend!r}: use auto, mediapipe or fan")
    if backend == "fan" and not fan_weights_cached():
        raise FrondInputError(
            "face-alignment's weights are not in the local cache and cannot be downloaded offline; "
            "use --landmarks mediapipe (the default)."
        )
    return backend


@lru_cache(maxsize=2)
def _mediapipe_mesh(max_faces: int):
    import mediapipe as mp

    return mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=max_faces,
                                           refine_landmarks=False, min_detection_confidence=0.4)


@lru_cache(maxsize=1)
def _fan_model():
    import face_alignment
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    return face_alignment.FaceAlignment(face_alignment.LandmarksType.TWO_D, device=device, flip_input=False)


def _detect_mediapipe(image: np.ndarray, max_faces: int) -> list[np.ndarray]:
    height, width = image.shape[:2]
    with _lock:
        result = _mediapipe_mesh(max_faces).process(np.ascontiguousarray(image))
    faces = []
    for face in result.multi_face_landmarks or []:
        mesh = np.array([(p.x * width, p.y * height) for p in face.landmark], dtype=np.float32)
        faces.append(mesh[MESH_TO_68])
    return faces


def _detect_fan(image: np.ndarray) -> list[np.ndarray]:
    with _lock:
        found = _fan_model().get_landmarks_from_image(image)
    return [np.asarray(f[:, :2], dtype=np.float32) for f in (found or [])]


def detect_faces(image: np.ndarray, backend: str = "auto", max_faces: int = 4) -> list[FaceDetection]:
    """Find faces and their 68 landmarks.

    image: (H, W, 3) uint8 RGB. Returns detections sorted largest first (by the
    landmarks' bounding-box area); an empty list when there is no face.
    """
    name = resolve_backend(backend)
    detect = _detect_fan(image) if name == "fan" else _detect_mediapipe(image, max_faces)
    out = []
    for points in detect:
        x0, y0 = points.min(axis=0)
        x1, y1 = points.max(axis=0)
        out.append(FaceDetection(landmarks=points, box=(float(x0), float(y0), float(x1), float(y1)), backend=name))
    out.sort(key=lambda d: -(d.box[2] - d.box[0]) * (d.box[3] - d.box[1]))
    return out


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """landmarks (..., 68, 2) -> the two eye centres (..., 2): image-left eye, image-right eye."""
    return landmarks[..., 36:42, :].mean(axis=-2), landmarks[..., 42:48, :].mean(axis=-2)


def inter_ocular(landmarks: np.ndarray) -> np.ndarray:
    """landmarks (..., 68, 2) -> distance between the eye centres (...)."""
    left, right = eye_centres(landmarks)
    return np.linalg.norm(right - left, axis=-1)


def mouth_opening(landmarks: np.ndarray) -> np.ndarray:
    """landmarks (..., 68, 2) -> inner-lip gap (62 to 66) / inter-ocular distance (...)."""
    gap = np.linalg.norm(landmarks[..., 66, :] - landmarks[..., 62, :], axis=-1)
    return gap / np.maximum(inter_ocular(landmarks), 1e-6)
