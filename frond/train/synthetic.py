"""A tiny, real-looking prepared clip made on the spot (for tests and smoke runs).

scikit-image's `astronaut` photo, cropped around the face, with a 68-point keypoint
layout drawn from a parametric face, a small head translation over time and a mouth
that opens and closes (a dark inner-mouth ellipse, inner-lip keypoints following), plus
a voiced tone whose loudness follows the opening. Written in the `prepare` format.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from ..audio.mel import SAMPLE_RATE
from ..face.head import head_pose_from_keypoints
from ..face.ibug import norm_to_px
from .frames import FrameShardWriter
from .prepare import PREPARE_VERSION

IOD = 0.42  # inter-ocular distance of the parametric face, normalised crop units


def _ellipse(cx: float, cy: float, rx: float, ry: float, degrees) -> np.ndarray:
    a = np.radians(np.asarray(degrees, dtype=np.float64))
    return np.stack([cx + rx * np.cos(a), cy - ry * np.sin(a)], axis=1)


def face_keypoints(open_: float = 0.0) -> np.ndarray:
    """A parametric iBUG-68 face in normalised crop space; mouth_open() of it equals `open_`."""
    phi = np.linspace(0, np.pi, 17)
    jaw = np.stack([-0.42 * np.cos(phi), -0.1 + 0.52 * np.sin(phi) + 0.3 * open_ * np.sin(phi) ** 4], 1)
    brow_l = np.stack([np.linspace(-0.36, -0.08, 5), -0.27 - 0.03 * np.sin(np.linspace(0, np.pi, 5))], 1)
    brow_r = brow_l * [-1, 1]
    bridge = np.stack([np.zeros(4), np.linspace(-0.15, 0.08, 4)], 1)
    nostrils = np.stack([np.linspace(-0.08, 0.08, 5), np.full(5, 0.12)], 1)
    eye = [180, 120, 60, 0, -60, -120]
    eye_l, eye_r = _ellipse(-0.21, -0.15, 0.07, 0.03, eye), _ellipse(0.21, -0.15, 0.07, 0.03, eye)
    gap = open_ * IOD
    cy = 0.28 + gap / 2
    outer = _ellipse(0, cy, 0.16, 0.05 + gap / 2, [180, 150, 120, 90, 60, 30, 0, -30, -60, -90, -120, -150])
    inner = _ellipse(0, cy, 0.1, gap / 2, [180, 135, 90, 45, 0, -45, -90, -135])
    return np.concatenate([jaw, brow_l, brow_r[::-1], bridge, nostrils, eye_l,
                           eye_r, outer, inner]).astype(np.float32)


def astronaut_face(size: int) -> np.ndarray:
    """(size, size, 3) uint8: the astronaut's face, roughly at the alignment template's place."""
    import skimage.data

    crop = skimage.data.astronaut()[22:230, 118:326]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def open_curve(n_frames: int, fps: float) -> np.ndarray:
    t = np.arange(n_frames) / fps
    return (0.05 + 0.3 * np.abs(np.sin(2 * np.pi * 1.3 * t))).astype(np.float32)


def make_clip(out_dir: str | Path, name: str = "astronaut", n_frames: int = 12, size: int = 64,
              fps: float = 25.0, shift: float = 0.04, speaker: str | None = None) -> Path:
    """Write one synthetic prepared clip to out_dir/name (frames in a JPEG shard, as `prepare` writes
    them) and return its folder. `speaker` goes into meta.json (default: the clip is its own speaker)."""
    dest = Path(out_dir) / name
    dest.mkdir(parents=True, exist_ok=True)
    base = astronaut_face(size)
    opens = open_curve(n_frames, fps)
    t = np.arange(n_frames) / fps
    frames, kps = [], []
    for i in range(n_frames):
        dx, dy = shift * np.sin(2 * np.pi * 0.7 * t[i]), 0.5 * shift * np.cos(2 * np.pi * 0.5 * t[i])
        kp = face_keypoints(float(opens[i])) + np.array([dx, dy], dtype=np.float32)
        img = base.copy()
        inner = norm_to_px(kp[60:68], size)
        centre = inner.mean(0)
        axes = (max(1, int(round((inner[4, 0] - inner[0, 0]) / 2))), max(1, int(round((inner[6, 1] - inner[2, 1]) / 2))))
        cv2.ellipse(img, (int(round(centre[0] - dx * size / 2)), int(round(centre[1] - dy * size / 2))),
                    axes, 0, 0, 360, (60, 20, 25), -1, lineType=cv2.LINE_AA)
        m = np.array([[1, 0, dx * size / 2], [0, 1, dy * size / 2]], np.float32)
        frames.append(cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
        kps.append(kp)
    keypoints = np.stack(kps).astype(np.float32)
    n_samples = int(np.ceil(n_frames / fps * SAMPLE_RATE)) + SAMPLE_RATE // 10
    ts = np.arange(n_samples) / SAMPLE_RATE
    env = np.interp(ts, t, opens)
    tone = sum(np.sin(2 * np.pi * f * ts) / (k + 1) for k, f in enumerate((180, 360, 540, 900)))
    audio = (0.5 * env * tone / 2 + 0.001 * np.random.default_rng(0).standard_normal(n_samples)).astype(np.float32)
    with FrameShardWriter(dest / "frames.bin", "jpeg", 95) as writer:
        for frame in frames:
            writer.add(frame)
    np.save(dest / "keypoints.npy", keypoints)
    np.save(dest / "pose.npy", head_pose_from_keypoints(keypoints))
    np.save(dest / "audio.npy", audio)
    meta = {"version": PREPARE_VERSION, "video": "synthetic:astronaut", "name": name, "fps": fps,
            "n_frames": n_frames, "size": size, "duration": n_frames / fps, "audio_seconds": n_samples / SAMPLE_RATE,
            "sample_rate": SAMPLE_RATE, "landmarks": "synthetic", "missing_frames": 0,
            "frames": {"file": "frames.bin", "format": "jpeg", "quality": 95}, "speaker": speaker or name,
            "own_voice": True}
    (dest / "meta.json").write_text(json.dumps(meta, indent=2))
    return dest
