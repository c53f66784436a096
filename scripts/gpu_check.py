"""Proof of the learned FROND on one GPU: prepare -> train render -> train motion -> batched
inference -> one video, each timed, every number written to WORK/gpu_check.json.

    python scripts/gpu_check.py                      # defaults: cuda, bf16, the shared clips
    python scripts/gpu_check.py --device cpu --model tiny --image-size 64 ...   # the same code on CPU (tests)

Training runs through `frond.train.trainer.train` (bf16 autocast on CUDA), inference through
`frond.train.bench.benchmark` (batched, bf16 on CUDA) with the trained model's configuration,
and the video through `FrondPipeline.from_pretrained(WORK/model)` with the learned stages.
`scripts/gpu_check.sh` runs it with time limits.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _peak_gb(device: str) -> float | None:
    import torch

    return round(torch.cuda.max_memory_allocated() / 2 ** 30, 2) if device.startswith("cuda") else None


def _reset_peak(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def _portrait_and_audio(video: Path, work: Path) -> tuple[Path, Path]:
    """The first frame of a video as a PNG; the video itself is the audio (PyAV decodes its track)."""
    import av
    import cv2

    with av.open(str(video)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    path = work / "portrait.png"
    cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return path, video


def run(args: argparse.Namespace) -> dict:
    import torch

    from frond.train.prepare import PrepareSettings, prepare_videos
    from frond.train.speakers import load_speakers
    from frond.train.trainer import TrainConfig, train

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    device = args.device
    report: dict = {"device": device, "torch": torch.__version__, "python": platform.python_version(),
                    "gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else None,
                    "bf16_autocast": device.startswith("cuda"), "args": vars(args)}

    def save() -> None:
        (work / "gpu_check.json").write_text(json.dumps(report, indent=2))

    # 1. prepare (CPU work: landmarks, crops, JPEG shards)
    table = None if args.speakers == "none" else load_speakers(None if args.speakers == "shared" else args.speakers)
    start = time.time()
    prep = prepare_videos(args.videos, work / "data", PrepareSettings(size=args.prepare_size, workers=args.prepare_workers),
                          progress=False, speakers=table)
    report["prepare"] = {**prep["throughput"], "seconds_total": round(time.time() - start, 2),
                         "skipped": prep["skipped"], "clips": len(prep["prepared"]) + len(prep["done_before"])}
    save()

    # 2-3. train both stages into one folder
    model_dir = work / "model"
    for stage, steps in (("render", args.render_steps), ("motion", args.motion_steps)):
        _reset_peak(device)
        cfg = TrainConfig(data=str(work / "data"), stage=stage, out=str(model_dir), steps=steps, batch=args.batch,
                          device=device, image_size=args.image_size, model_size=args.model, holdout=args.holdout,
                          window=args.window, sample_every=0, checkpoint_every=0, eval_frames=args.eval_frames,
                          progress=False, resume=False, perceptual=args.perceptual, log_every=max(1, steps // 20))
        summary = train(cfg)
        report[stage] = {"steps": summary["steps"], "seconds": summary["seconds"],
                         "steps_per_s": round(summary["steps"] / max(summary["seconds"], 1e-9), 3),
                         "frames_per_s": round(summary["steps"] * args.batch / max(summary["seconds"], 1e-9), 2)
                         if stage == "render" else None,
                         "peak_memory_gb": _peak_gb(device), "loss_first": summary["loss_first"],
                         "loss_last": summary["loss_last"], "heldout_before": summary["heldout_before"],
                         "heldout_after": summary["heldout_after"], "split": summary["split"],
                         "perceptual": summary.get("perceptual")}
        save()

    # 4. batched inference (field + decoder) of the trained configuration at each size
    from frond.train.bench import benchmark
    from frond.weights.model import FrondModel

    config = FrondModel.from_pretrained(model_dir).config
    bench = benchmark(device, sizes=tuple(args.sizes), batch=args.infer_batch, config=config,
                      warmup=args.bench_warmup, iters=args.bench_iters, train=False)
    report["params"] = bench["params"]
    report["inference"] = {str(size): {"infer_frames_per_s": row["infer_frames_per_s"],
                                       "batch": args.infer_batch, "peak_memory_gb": row["peak_memory_gb"]}
                           for size, row in bench["sizes"].items()}
    save()

    # 5. one video with the learned stages: a held-out speaker's first frame, driven by its own audio
    from frond.config import GenerationSettings
    from frond.pipeline import FrondPipeline

    held = report["render"]["split"]["held_out_speakers"]
    clips = sorted(p for p in (work / "data").iterdir() if (p / "meta.json").is_file())
    metas = [json.loads((c / "meta.json").read_text()) for c in clips]
    pick = next((m for m in metas if m.get("speaker") in held), metas[0])
    portrait, audio = _portrait_and_audio(Path(pick["video"]), work)
    pipe = FrondPipeline.from_pretrained(str(model_dir), device=device)
    start = time.time()
    result = pipe.generate(portrait, audio, work / "learned.mp4", GenerationSettings(size=256))
    seconds = time.time() - start
    report["video"] = {"path": str(result.video_path), "source_clip": pick["name"], "frames": result.n_frames,
                       "seconds": round(seconds, 2), "frames_per_s": round(result.n_frames / seconds, 2),
                       "modes": result.modes, "stage_weights": result.stage_weights, "timings": {k: round(v, 3) for k, v in result.timings.items()}}
    save()
    return report


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    p.add_argument("--videos", default=str(ROOT.parent / "shared" / "data" / "train"), help="talking-face videos")
    p.add_argument("--work", default="runs/gpu_check", help="where data, model, video and gpu_check.json go")
    p.add_argument("--speakers", default="shared", help="shared (the corpus's table), none, or a CSV")
    p.add_argument("--prepare-workers", type=int, default=16, help="prepare's worker processes")
    p.add_argument("--prepare-size", type=int, default=256, help="crop side of the prepared clips")
    p.add_argument("--model", default="base", choices=("base", "small", "tiny"), help="size of the new model")
    p.add_argument("--image-size", type=int, default=256, help="render training resolution")
    p.add_argument("--batch", type=int, default=16, help="training batch")
    p.add_argument("--render-steps", type=int, default=300)
    p.add_argument("--motion-steps", type=int, default=300)
    p.add_argument("--window", type=int, default=50, help="motion training window (frames)")
    p.add_argument("--holdout", type=float, default=0.2, help="fraction of speakers held out")
    p.add_argument("--eval-frames", type=int, default=8, help="held-out frames per clip, before and after")
    p.add_argument("--perceptual", default="auto", help="VGG19 weights (auto: only when already cached)")
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="inference sizes")
    p.add_argument("--infer-batch", type=int, default=32, help="frames per inference batch")
    p.add_argument("--bench-warmup", type=int, default=3)
    p.add_argument("--bench-iters", type=int, default=10)
    return p.parse_args(argv)


if __name__ == "__main__":
    out = run(parse())
    print(json.dumps({k: out[k] for k in ("device", "gpu", "prepare", "render", "motion", "inference", "video")}, indent=2))
