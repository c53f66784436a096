"""Build `frond/decoder/interiors.npz`: the bank of real mouth interiors the training-free decoder draws
from where the portrait has no interior of its own (`frond.decoder.interiors`).

    python scripts/build_interiors.py [--data ../shared/data] [--out frond/decoder/interiors.npz] [--sheet PNG]

Each entry is one video frame of the shared corpus (`../shared/data/train`, provenance in its
PROVENANCE.md) with the mouth wide open, chosen by eye from the frames where MediaPipe reads an opening
above 0.28 inter-ocular distances, a frontal face (roll < 10 degrees) and at least 55 px between the eyes.
The mouth is cut in its normalised frame: the eye line horizontal, PX_PER_IOD pixels per inter-ocular
distance, the middle of the inner-lip corners at the patch's centre. MediaPipe's inner-lip points of a
wide-open mouth often sit inside the lip (up to 0.12 inter-ocular distances); each entry's inner
contour is moved onto the edge of the interior by hand (`upper`, `lower`: vertical shifts of the
upper and lower inner-lip points, measured on the centre columns' colour profile), and the heights of
its upper teeth (under the upper lip) and of what sits on the lower lip (lower teeth, tongue) were
read the same way (`bands`). The bank stays small (< 300 KB): a choice of skin tones and interiors,
not a model.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PX_PER_IOD = 96  # patch pixels per inter-ocular distance
PATCH = (96, 144)  # (height, width) of each patch: 1.0 x 1.5 inter-ocular distances


@dataclass
class Pick:
    clip: str  # file in ../shared/data/train
    frame: int  # frame index (25 fps)
    upper: float  # shift of the upper inner-lip points 61-63 onto the interior's edge, inter-ocular distances (down +)
    lower: float  # ... of the lower inner-lip points 65-67
    bands: tuple[float, float]  # heights (inter-ocular distances, centre columns) of the upper teeth and of the lower band
    source: str  # the clip's origin, from PROVENANCE.md


PICKS = (
    Pick("src_spectre_1.mp4", 30, 0.0, -0.12, (0.09, 0.11),
         "filby89/spectre samples/MEAD/M026_level_3_disgusted_018.mp4 (0b339a8): MEAD speaker M026"),
    Pick("src_hearbridge_1.mp4", 114, 0.02, -0.07, (0.10, 0.05),
         "team-ruku/hearbridge-vsr demos/demo.mp4 (37795c1), cropped: a woman in a studio interview"),
    Pick("src_videosummarizer_1.mp4", 420, -0.01, 0.0, (0.07, 0.08),
         "Soumya1201/Video-Summarizer sample_video.mp4 (6979350), 5.6-25.6 s: a young man talking to camera"),
    Pick("src_edtalk_4.mp4", 444, 0.0, -0.10, (0.08, 0.03),
         "tanshuai0219/EDTalk test_data/uncrop_Obama.mp4 (06a9a96): Barack Obama, Oval Office address"),
)


def frame_of(path: Path, index: int) -> np.ndarray:
    from frond.media import read_video_frames

    frames = read_video_frames(path)
    for i, frame in enumerate(frames):
        if i == index:
            frames.close()
            return frame
    raise SystemExit(f"{path} has no frame {index}")


def cut(frame: np.ndarray, keypoints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """frame (H, W, 3), keypoints (68, 2) -> the mouth patch (PATCH, 3) and its 20 mouth points (20, 2) in patch px."""
    from frond.face.ibug import eye_centres, inter_ocular

    left, right = eye_centres(keypoints)
    angle = np.arctan2(right[1] - left[1], right[0] - left[0])
    scale = PX_PER_IOD / float(inter_ocular(keypoints))
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    matrix = np.array([[c, s, 0.0], [-s, c, 0.0]])
    centre = (keypoints[60] + keypoints[64]) / 2
    matrix[:, 2] = np.array([PATCH[1] / 2, PATCH[0] / 2]) - matrix[:, :2] @ centre
    patch = cv2.warpAffine(frame, matrix, (PATCH[1], PATCH[0]), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    return patch, keypoints[48:68] @ matrix[:, :2].T + matrix[:, 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "frond" / "decoder" / "interiors.npz")
    parser.add_argument("--sheet", type=Path, help="also write the entries, with their inner contours, as a PNG")
    args = parser.parse_args()
    from frond.face.landmarks import detect_faces

    images, inner, outer, bands, sources = [], [], [], [], []
    for pick in PICKS:
        frame = frame_of(args.data / "train" / pick.clip, pick.frame)
        found = detect_faces(frame, backend="mediapipe", max_faces=1)
        if not found:
            raise SystemExit(f"no face in {pick.clip} frame {pick.frame}")
        patch, mouth = cut(frame, found[0].landmarks.astype(np.float64))
        mouth[[13, 14, 15], 1] += pick.upper * PX_PER_IOD  # 61-63
        mouth[[17, 18, 19], 1] += pick.lower * PX_PER_IOD  # 65-67
        images.append(patch)
        inner.append(mouth[12:])
        outer.append(mouth[:12])
        bands.append(pick.bands)
        sources.append(f"../shared/data/train/{pick.clip} frame {pick.frame}: {pick.source}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, images=np.stack(images).astype(np.uint8), inner=np.stack(inner).astype(np.float32),
                        outer=np.stack(outer).astype(np.float32), bands=np.asarray(bands, np.float32),
                        sources=np.asarray(sources), px_per_iod=np.float32(PX_PER_IOD))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KB, {len(images)} interiors)")
    if args.sheet:
        tiles = []
        for patch, contour in zip(images, inner):
            big = cv2.resize(patch, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
            cv2.polylines(big, [np.round(contour * 3 + 1).astype(np.int32)], True, (0, 255, 0), 1, cv2.LINE_AA)
            tiles.append(big)
        cv2.imwrite(str(args.sheet), cv2.cvtColor(np.concatenate(tiles, 1), cv2.COLOR_RGB2BGR))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
