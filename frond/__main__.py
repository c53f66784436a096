"""Command line: python -m frond generate|prepare|train|evaluate|bench|contact-sheet."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from .config import GenerationSettings, Limits
from .errors import FrondInputError

os.environ.setdefault("GLOG_minloglevel", "2")  # keep MediaPipe's start-up chatter off the terminal
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _add_generate(sub: argparse._SubParsersAction) -> None:
    d = GenerationSettings()
    p = sub.add_parser("generate", help="portrait + speech -> talking-face MP4",
                       description="Turn one portrait and one speech clip into a lip-synchronised talking-face video "
                                   "(H.264 + AAC MP4). Runs offline on the training-free prior unless --weights is given.")
    p.add_argument("--portrait", required=True, type=Path, help="image with a face (PNG, JPEG, WebP, ...)")
    p.add_argument("--audio", required=True, type=Path, help="speech recording (WAV, MP3, M4A/AAC, OGG, FLAC, WebM), any rate")
    p.add_argument("--out", required=True, type=Path, help="output video, e.g. out.mp4 (written atomically)")
    p.add_argument("--size", type=int, choices=(256, 512), default=d.size, help="side of the aligned face crop in pixels (default %(default)s)")
    p.add_argument("--fps", type=float, default=d.fps, help="frames per second, 1-60 (default %(default)s)")
    p.add_argument("--smoothing", type=float, default=d.smoothing, help="trajectory stiffness 0..1: 0 follows every phone, 1 very smooth (default %(default)s)")
    p.add_argument("--lip-scale", type=float, default=d.lip_scale, help="mouth motion multiplier 0..3 (default %(default)s)")
    p.add_argument("--head-motion", type=float, default=d.head_motion, help="head motion multiplier 0..3, 0 = still head (default %(default)s)")
    p.add_argument("--blink-rate", type=float, default=d.blink_rate, help="blink rate multiplier 0..3, 1 = about 17 per minute (default %(default)s)")
    p.add_argument("--full-frame", action="store_true", help="paste the animated face back into the whole original image (default: the aligned crop)")
    p.add_argument("--seed", type=int, default=d.seed, help="seed for blinks and head motion: same seed, same video (default %(default)s)")
    p.add_argument("--face-index", type=int, default=d.face_index, help="which face when there are several: 0 = largest (default %(default)s)")
    p.add_argument("--save-intermediates", type=Path, metavar="DIR", help="also write keypoints.npz, trajectories.png, motion_field.mp4, overlay.mp4 (and aligned.png, side_by_side.mp4) to DIR")
    p.add_argument("--weights", help="learned FROND weights: a Hub repo id[@revision] or a local folder (default: training-free prior)")
    p.add_argument("--landmarks", choices=("auto", "mediapipe", "fan"), default="auto", help="landmark backend (default: FAN if its weights are cached, else MediaPipe)")
    p.add_argument("--max-audio-seconds", type=float, default=Limits().max_audio_seconds, help="refuse longer audio (default %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_generate)


def _generate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .pipeline import FrondPipeline

    try:
        settings = GenerationSettings(size=args.size, fps=args.fps, smoothing=args.smoothing, lip_scale=args.lip_scale,
                                      head_motion=args.head_motion, blink_rate=args.blink_rate, full_frame=args.full_frame,
                                      seed=args.seed, face_index=args.face_index)
    except ValueError as exc:
        raise FrondInputError(str(exc)) from None
    limits = Limits(max_audio_seconds=args.max_audio_seconds)
    pipe = FrondPipeline(limits=limits, weights=args.weights, landmarks=args.landmarks)
    for notice in pipe.notices:
        print(f"note: {notice}", file=sys.stderr)
    bar = tqdm(total=100, unit="%", disable=args.quiet, bar_format="{l_bar}{bar}| {elapsed}<{remaining}")

    def progress(fraction: float, stage: str) -> None:
        bar.set_description(stage[:40])
        bar.update(round(fraction * 100) - bar.n)

    try:
        result = pipe.generate(args.portrait, args.audio, args.out, settings, args.save_intermediates, progress)
    finally:
        bar.close()
    for notice in result.notices[len(pipe.notices):]:
        print(f"note: {notice}", file=sys.stderr)
    modes = ", ".join(f"{k}: {v}" for k, v in result.modes.items())
    print(f"wrote {result.video_path} ({result.n_frames} frames, {result.duration:.2f} s, {result.width}x{result.height}) [{modes}]")
    print(f"motion: {result.motion.source}")
    return 0


def _add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="speed and memory benchmark (prints real-time factors)",
                       description="Time the pipeline end to end and per stage on synthetic speech and a bundled portrait; "
                                   "peak memory for a short and a long clip; the app's cold start.")
    p.add_argument("--seconds", type=float, default=10.0, help="length of the timed clip (default %(default)s)")
    p.add_argument("--long-seconds", type=float, default=60.0, help="length of the long clip for the memory check (default %(default)s)")
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="crop sizes to time (default 256 512)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per size; the best is reported (default %(default)s)")
    p.add_argument("--skip-memory", action="store_true", help="skip the peak-memory runs")
    p.add_argument("--skip-app", action="store_true", help="skip the app cold-start measurement")
    p.set_defaults(func=lambda args: __import__("frond.bench", fromlist=["main"]).main(args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m frond", description="FROND talking-face generation.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_generate(sub)
    for module in ("frond.train.cli", "frond.evaluate", "frond.contact_sheet"):
        try:
            __import__(module, fromlist=["register"]).register(sub)
        except ImportError as exc:  # an optional part missing must not break generate
            logging.getLogger(__name__).debug("%s unavailable: %s", module, exc)
    _add_bench(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except FrondInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
