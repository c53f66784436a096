"""`python -m frond evaluate`: self-reconstruction on real talking clips, or speaker-disjoint folds.

For every video in a folder: the first frame is the portrait, the clip's own audio is the driver;
the pipeline generates a video, and it is compared with the real frames. Output: a table on stdout,
the report as JSON (`--out`), and one plot per clip beside it (mouth opening over time, generated vs
real, and the speech envelope).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import LANDMARK_BACKENDS


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `evaluate` subcommand to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "evaluate",
        help="measure the pipeline by self-reconstruction of real talking clips",
        description=(
            "Self-reconstruction: for every video in --clips, its first frame is the portrait and its "
            "own audio the driver; the generated video is compared with the real one (mouth-opening "
            "correlation, amplitude, audio-mouth sync, landmark distance, PSNR/SSIM, sharpness, jitter). "
            "With --reenact, the renderer alone: each clip's first frame driven by the clip's own face."
        ),
    )
    parser.add_argument("--clips", type=Path, help="folder of talking-face videos with their own speech")
    parser.add_argument("--out", type=Path, default=Path("report.json"), help="the JSON report; plots go beside it")
    parser.add_argument("--size", type=int, default=256, choices=(256, 512), help="side of the aligned face crop")
    parser.add_argument("--weights", default=None, help="Hub id[@revision] or local folder of learned weights (default: the bundled stages)")
    parser.add_argument("--motion", default="learned", choices=("learned", "prior", "both"),
                        help="motion path(s) to generate with (default learned; both: one row each)")
    parser.add_argument("--folds", type=int, default=0, metavar="K",
                        help="speaker-disjoint cross-validation of the motion stage: train on K-1 folds of --data's "
                             "speakers, evaluate learned against prior on the held-out fold's videos, rotate")
    parser.add_argument("--data", type=Path, help="--folds: a `prepare` output folder (its meta.json names each video)")
    parser.add_argument("--speakers", type=Path, help="--folds: clip,speaker CSV (default: the shared corpus's table)")
    parser.add_argument("--steps", type=int, default=1500, help="--folds: motion training steps per fold")
    parser.add_argument("--fold-models", type=Path, help="--folds: keep each fold's motion stage here (fold_<i>), and use "
                                                         "those already there (scripts/motion_folds.py trains the same)")
    parser.add_argument("--baselines", action="store_true", help="add the still portrait (floor) and the real video (ceiling) rows")
    parser.add_argument("--reenact", action="store_true",
                        help="measure the renderer alone: each clip reenacted from its first frame driven by the clip "
                             "itself (video-driven), in the whole picture; PSNR and SSIM of the mouth and the face "
                             "(boxes from the real landmarks) against the real frames, beside the still first frame")
    parser.add_argument("--markdown", action="store_true", help="also print the README-ready markdown table")
    parser.add_argument("--landmarks", default="auto", choices=LANDMARK_BACKENDS, help="landmark backend used to measure both videos")
    parser.add_argument("--max-seconds", type=float, default=None, help="use only the first N seconds of each clip (quick runs)")
    parser.add_argument("--keep-videos", action="store_true", help="keep the generated videos beside the report")
    parser.add_argument("--no-plots", action="store_true", help="skip the per-clip plots")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Entry point of `python -m frond evaluate`; returns the exit status."""
    from ..errors import FrondInputError
    from .folder import evaluate_folder
    from .report import format_table, reenact_markdown, results_markdown

    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    if args.folds:
        from .folds import folds_markdown, format_folds, run_folds

        if args.data is None:
            print("error: --folds needs --data, a `python -m frond prepare` output folder", file=sys.stderr)
            return 2
        try:
            report = run_folds(args.data, args.folds, args.out, steps=args.steps, size=args.size,
                               speakers=args.speakers, backend=args.landmarks, max_seconds=args.max_seconds, log=log,
                               models=args.fold_models)
        except FrondInputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(format_folds(report))
        args.out.with_suffix(".md").write_text(folds_markdown(report))
        print(f"\nreport: {args.out} (and {args.out.with_suffix('.md')})")
        return 0
    if args.clips is None:
        print("error: give --clips DIR (videos to evaluate), or --folds K with --data", file=sys.stderr)
        return 2
    try:
        report = evaluate_folder(
            args.clips,
            args.out,
            size=args.size,
            weights=args.weights,
            baselines=args.baselines,
            backend=args.landmarks,
            max_seconds=args.max_seconds,
            keep_videos=args.keep_videos,
            plots=not args.no_plots,
            motions=("learned", "prior") if args.motion == "both" else (args.motion,),
            reenact=args.reenact,
            log=log,
        )
    except FrondInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_table(report))
    if args.markdown:
        print("\n" + (reenact_markdown(report) if args.reenact else results_markdown(report)))
    print(f"\nreport: {args.out}")
    if report["failed"]:
        return 1
    return 0 if report["clips"] else 1
