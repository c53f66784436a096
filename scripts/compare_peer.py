"""Measure videos made from the same portrait and speech side by side (e.g. FROND's beside a peer's
published output): the mouth's spread, the audio-mouth correlation and the head's motion, each video's
landmarks re-detected with the same backend.

    python scripts/compare_peer.py --audio speech.wav ours.mp4 sadtalker.mp4
"""
from __future__ import annotations

import argparse

import numpy as np

from frond import metrics
from frond.audio.features import speech_envelope
from frond.evaluate.clip import detect_sequence
from frond.face.landmarks import resolve_backend
from frond.media import load_audio, probe_video, read_video_frames


def measure(video: str, samples: np.ndarray, rate: int, backend: str) -> dict[str, float]:
    fps = float(probe_video(video)["fps"])
    frames = np.stack(list(read_video_frames(video)))
    landmarks = detect_sequence(frames, backend)
    opening = metrics.opening_series(landmarks)
    envelope = speech_envelope(samples, rate, np.arange(len(frames)) / fps)
    av_r, av_lag = metrics.lagged_correlation(opening, envelope, 2)
    head = metrics.head_motion(landmarks)
    return {"frames": len(frames), "mouth std": float(np.nanstd(opening)), "mouth p95": float(np.nanpercentile(opening, 95)),
            "audio-mouth r": av_r, "at lag": av_lag, "head roll": head["roll"], "head shift": head["shift"],
            "head yaw": head["yaw"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--audio", required=True, help="the speech every video was made from")
    parser.add_argument("--landmarks", default="mediapipe")
    parser.add_argument("videos", nargs="+")
    args = parser.parse_args()
    clip = load_audio(args.audio)
    backend = resolve_backend(args.landmarks)
    rows = {v: measure(v, clip.samples, clip.sample_rate, backend) for v in args.videos}
    keys = list(next(iter(rows.values())))
    print("video | " + " | ".join(keys))
    for video, row in rows.items():
        print(f"{video} | " + " | ".join(f"{row[k]:.3f}" for k in keys))
    first, *others = rows.values()
    for video, row in zip(args.videos[1:], others):
        print(f"first over {video}: " + ", ".join(f"{k} {first[k] / row[k]:.2f}" for k in keys[1:4] + keys[5:] if row[k]))


if __name__ == "__main__":
    main()
