"""The `prepare` and `train` subcommands of `python -m frond`."""
from __future__ import annotations

import argparse
import json
import os

from ..config import LANDMARK_BACKENDS
from ..errors import FrondInputError


def register(subparsers) -> None:
    """Add `prepare` and `train` to an argparse subparsers object (each sets `func`)."""
    p = subparsers.add_parser(
        "prepare", help="talking-face videos -> training clips (landmarks, stable 256 crops, 25 fps, 16 kHz audio)",
        description="Prepare every video of VIDEOS_DIR (mp4 with audio) for `train`. Resumable; "
                    "bad videos are skipped with a reason (OUT_DIR/prepare_report.json).")
    p.add_argument("videos_dir", help="folder of talking-face videos with audio")
    p.add_argument("out_dir", help="where the prepared clips go")
    p.add_argument("--size", type=int, default=256, help="side of the face crop (default 256)")
    p.add_argument("--fps", type=float, default=25.0, help="frames per second of the clips (default 25)")
    p.add_argument("--landmarks", default="auto", choices=LANDMARK_BACKENDS,
                   help="landmark backend (auto: face-alignment when its weights are cached, else MediaPipe)")
    p.add_argument("--overwrite", action="store_true", help="redo clips that are already prepared")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="videos prepared in parallel, one process each (default: the CPU count)")
    p.add_argument("--speakers", default=None,
                   help="clip,speaker[,note] CSV recorded per clip (held-out splits are by speaker); "
                        "'shared' for the shared corpus's table")
    p.add_argument("--format", dest="frame_format", default="jpeg", choices=("jpeg", "webp"),
                   help="how the crops are stored (default jpeg)")
    p.add_argument("--quality", type=int, default=90, help="encoder quality of the stored crops (default 90)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run_prepare)

    t = subparsers.add_parser(
        "train", help="train the learned FROND stages (render, then motion) on prepared clips",
        description="Train one stage into --out (a folder FrondModel.from_pretrained loads). "
                    "Multi-GPU: torchrun --nproc_per_node N -m frond train ...")
    t.add_argument("--data", required=True, help="a `prepare` output folder")
    t.add_argument("--stage", required=True, choices=("render", "motion"),
                   help="render: encoder + dense field + decoder; motion: audio -> keypoint trajectories")
    t.add_argument("--steps", type=int, default=2000, help="total optimiser steps for this stage (default 2000)")
    t.add_argument("--batch", type=int, default=8, help="examples per step per process (default 8)")
    t.add_argument("--out", default="runs/frond", help="model folder (default runs/frond)")
    t.add_argument("--device", default="auto", help="auto (cuda when available), cpu, cuda, cuda:N")
    t.add_argument("--lr", type=float, default=None, help="learning rate (default 2e-4 render, 1e-3 motion)")
    t.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    t.add_argument("--image-size", type=int, default=None,
                   help="render training resolution (default: the model's, 256 for a new model)")
    t.add_argument("--model", dest="model_size", default="base", choices=("base", "small", "tiny"),
                   help="size of a new model (small: CPU-friendly) (an existing --out keeps its own)")
    t.add_argument("--keypoint-motion", default=None, choices=("translation", "affine", "tps"),
                   help="a new model's keypoint motion in the dense field (default affine: first order)")
    t.add_argument("--holdout", type=float, default=0.2,
                   help="fraction of speakers held out (or, with --split time, of each clip's end) (default 0.2)")
    t.add_argument("--split", default="speaker", choices=("speaker", "time"),
                   help="held-out data: whole speakers (default) or the end of every clip")
    t.add_argument("--speakers", default=None, help="clip,speaker CSV (default: what prepare recorded)")
    t.add_argument("--perceptual", default="auto",
                   help="VGG19 weights for the perceptual loss: auto ($FROND_VGG19_WEIGHTS, then the Hub cache), "
                        "off, FILE.safetensors or a Hub repo id (safetensors only)")
    t.add_argument("--mouth-adv", type=float, default=0.0, help="weight of the mouth adversarial term (default 0: off)")
    t.add_argument("--mouth-fm", type=float, default=0.0, help="weight of the mouth feature-matching term (default 0: off)")
    t.add_argument("--no-augment", dest="augment", action="store_false", help="no flip or colour augmentation")
    t.add_argument("--sync-embed", type=float, default=None,
                   help="motion: weight of the frozen contrastive sync embedding's score of the predicted lips "
                        "(trained first on the same clips; default 1; 0: off)")
    t.add_argument("--sync-steps", type=int, default=600, help="motion: steps of the sync embedding's training (default 600)")
    t.add_argument("--window", type=int, default=50, help="motion: frames per training window (default 50)")
    t.add_argument("--log-every", type=int, default=10, help="steps between log lines")
    t.add_argument("--sample-every", type=int, default=250, help="steps between sample images (0: never)")
    t.add_argument("--checkpoint-every", type=int, default=250, help="steps between checkpoints")
    t.add_argument("--eval-frames", type=int, default=16, help="held-out frames per clip to evaluate (0: skip)")
    t.add_argument("--eval-clips", type=int, default=32, help="held-out clips evaluated at most, split across processes")
    t.add_argument("--workers", type=int, default=-1,
                   help="data loader worker processes per process (default: 4 on CUDA, 0 on CPU)")
    t.add_argument("--no-resume", dest="resume", action="store_false", help="ignore an existing checkpoint")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=run_train)

    h = subparsers.add_parser(
        "push", help="publish a trained model folder to the Hugging Face Hub",
        description="Upload a `train --out` folder (safetensors + config + model card) to a Hub model repo. "
                    "Needs a token (`huggingface-cli login` or HF_TOKEN) and network access.")
    h.add_argument("folder", help="a `train --out` folder")
    h.add_argument("repo_id", help="owner/name of the Hub model repo (created when missing)")
    h.add_argument("--private", action="store_true", help="create the repo as private")
    h.add_argument("--message", default="Upload FROND weights", help="commit message")
    h.set_defaults(func=run_push)


def run_prepare(args: argparse.Namespace) -> int:
    from .prepare import PrepareSettings, prepare_videos

    if args.size < 64 or args.size % 16:
        raise FrondInputError(f"--size must be a multiple of 16, >= 64, got {args.size}")
    if not 1 <= args.fps <= 60:
        raise FrondInputError(f"--fps must be within 1..60, got {args.fps}")
    if not 0 <= args.quality <= 100:
        raise FrondInputError(f"--quality must be within 0..100, got {args.quality}")
    settings = PrepareSettings(size=args.size, fps=args.fps, backend=args.landmarks, overwrite=args.overwrite,
                               frame_format=args.frame_format, quality=args.quality, workers=max(1, args.workers))
    speakers = None
    if args.speakers:
        from .speakers import load_speakers

        speakers = load_speakers(None if args.speakers == "shared" else args.speakers)
    report = prepare_videos(args.videos_dir, args.out_dir, settings, progress=not args.quiet, speakers=speakers)
    rate = report["throughput"]
    print(f"prepared {len(report['prepared'])}, already done {len(report['done_before'])}, "
          f"skipped {len(report['skipped'])} -> {args.out_dir} ({rate['frames_per_s']} frames/s, "
          f"{rate['corpus_gb_per_hour']} GB per hour of video)")
    for name, reason in report["skipped"].items():
        print(f"  skipped {name}: {reason}")
    return 0 if report["prepared"] or report["done_before"] else 1


def run_train(args: argparse.Namespace) -> int:
    from .trainer import TrainConfig, train

    cfg = TrainConfig(
        data=args.data, stage=args.stage, out=args.out, steps=args.steps, batch=args.batch, lr=args.lr,
        device=args.device, seed=args.seed, image_size=args.image_size, model_size=args.model_size,
        holdout=args.holdout, window=args.window, log_every=args.log_every, sample_every=args.sample_every,
        checkpoint_every=args.checkpoint_every, eval_frames=args.eval_frames, workers=args.workers,
        resume=args.resume, progress=not args.quiet, keypoint_motion=args.keypoint_motion, split=args.split,
        speakers=args.speakers, perceptual=args.perceptual, augment=args.augment, eval_clips=args.eval_clips,
        sync_steps=args.sync_steps,
    )
    cfg.render_weights.update(mouth_adv=args.mouth_adv, mouth_fm=args.mouth_fm)
    if args.sync_embed is not None:
        cfg.motion_weights["sync_embed"] = args.sync_embed
    summary = train(cfg)
    print(json.dumps(summary, indent=2))
    return 0


def run_push(args: argparse.Namespace) -> int:
    from ..weights.model import load_model

    model = load_model(args.folder)  # validates the folder (safetensors + config) before any upload
    if not model.config.trained_stages:
        raise FrondInputError(f"{args.folder} holds no trained stage; train one before publishing")
    try:
        url = model.push_to_hub(args.repo_id, private=args.private, commit_message=args.message)
    except Exception as exc:  # noqa: BLE001 - offline, no token, no permission: say which
        raise FrondInputError(f"could not push to {args.repo_id}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    print(f"pushed {args.folder} -> {url}")
    return 0
