"""`python -m frond train`: the render stage (encoder + dense field + decoder, by
reconstructing a driving frame from a source frame of the same clip) and the motion
stage (audio -> keypoint trajectories measured on real frames).

One process on CPU or GPU, or several under `torchrun` (PyTorch DDP: a process group
when WORLD_SIZE > 1, a DistributedSampler, rank 0 logs and saves). bf16 autocast on
CUDA, checkpoints with resume, periodic sample images, seeded, losses logged as JSON
lines. `--out DIR` is a `FrondModel.from_pretrained` folder; training both stages into
the same folder fills it stage by stage (`config.trained_stages`).
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from ..errors import FrondInputError
from ..models.config import STAGES, FrondConfig
from ..models.frond_model import FrondModel
from ..models.motion import opening
from .data import MotionWindows, PreparedClip, RenderPairs, load_prepared
from .heldout import evaluate_motion, evaluate_render
from .losses import motion_losses, render_losses


@dataclass
class TrainConfig:
    """One training run (the `train` command's options)."""

    data: str  # a `prepare` output folder
    stage: str  # "render" or "motion"
    out: str = "runs/frond"  # the model folder (from_pretrained-able) + checkpoints/, logs/, samples/
    steps: int = 2000  # total optimiser steps of this stage (resume continues up to it)
    batch: int = 8  # examples per step per process
    lr: float | None = None  # learning rate; None: 2e-4 (render), 1e-3 (motion)
    device: str = "auto"  # auto (cuda when available), cpu, cuda, cuda:N
    seed: int = 0  # seeds data order, sampling and initialisation
    image_size: int | None = None  # render training resolution; None: the model's config (256 for a new model)
    model_size: str = "base"  # a new model's size: base, small (CPU-friendly) or tiny (an existing folder keeps its config)
    holdout: float = 0.2  # render: last fraction of each clip held out; motion: fraction of speakers held out (hashed ids)
    speakers: str | None = None  # clip,speaker CSV (default: the shared corpus's table; unlisted clips are their own speaker)
    clips: tuple[str, ...] = ()  # motion: train on these prepared clips only (default: every clip whose speaker is not held out)
    eval_clips: tuple[str, ...] = ()  # motion: evaluate on these clips (default: the held-out speakers' clips)
    window: int = 50  # motion stage: frames per training window
    weight_decay: float | None = None  # AdamW weight decay; None: 0 (render), 0.05 (motion)
    log_every: int = 10  # steps between log lines
    sample_every: int = 250  # steps between sample images (0: never)
    checkpoint_every: int = 250  # steps between checkpoints (0: only at the end)
    eval_frames: int = 16  # held-out frames per clip for the before/after evaluation (0: skip)
    workers: int = 0  # DataLoader worker processes
    resume: bool = True  # continue from OUT/checkpoints/<stage>.pt when present
    progress: bool = True  # tqdm progress bar
    render_weights: dict[str, float] = field(default_factory=lambda: {"l1": 1.0, "ssim": 0.5, "grad": 0.5})
    motion_weights: dict[str, float] = field(default_factory=lambda: {"shape": 1.0, "velocity": 1.0, "open": 1.0,
                                                                      "sync": 0.1, "amplitude": 0.05})

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise FrondInputError(f"--stage must be one of {', '.join(STAGES)}, got {self.stage!r}")
        if self.steps < 1 or self.batch < 1:
            raise FrondInputError(f"--steps and --batch must be >= 1, got {self.steps} and {self.batch}")
        if self.model_size not in ("base", "small", "tiny"):
            raise FrondInputError(f"--model must be base, small or tiny, got {self.model_size!r}")
        if self.image_size is not None and (self.image_size < 32 or self.image_size % 16):
            raise FrondInputError(f"--image-size must be a multiple of 16, >= 32, got {self.image_size}")


@dataclass
class Distributed:
    world: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str) -> Distributed:
    """torch.distributed when launched by torchrun (WORLD_SIZE > 1), else a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Distributed()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    return Distributed(world=world, rank=dist.get_rank(), local_rank=int(os.environ.get("LOCAL_RANK", "0")))


def resolve_device(device: str, local_rank: int = 0) -> str:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise FrondInputError("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
        if device == "cuda":
            device = f"cuda:{local_rank}" if int(os.environ.get("WORLD_SIZE", "1")) > 1 else "cuda"
    elif device != "cpu":
        raise FrondInputError(f"--device must be auto, cpu or cuda[:N], got {device!r}")
    return device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


def load_or_create(out: Path, cfg: TrainConfig) -> FrondModel:
    """The model already in OUT (an earlier stage) or a new one."""
    if (out / "config.json").is_file() and (out / "model.safetensors").is_file():
        return FrondModel.from_pretrained(str(out))
    size = cfg.image_size or 256
    presets = {"tiny": FrondConfig.tiny, "small": FrondConfig.small, "base": lambda s: FrondConfig(image_size=s)}
    config = presets[cfg.model_size](size)
    return FrondModel(config)


def set_trainable(model: FrondModel, stage: str) -> list[nn.Parameter]:
    """Freeze everything but the stage's modules; returns the trainable parameters."""
    model.requires_grad_(False)
    if stage == "render":
        for m in (model.encoder, model.field, model.decoder):
            m.requires_grad_(True)
        if "motion" in model.config.trained_stages:  # keep the motion stage's conditioning valid
            model.encoder.point_mlp.requires_grad_(False)
            model.encoder.global_mlp.requires_grad_(False)
            model.encoder.identity.requires_grad_(False)
    else:
        model.motion.requires_grad_(True)
    return [p for p in model.parameters() if p.requires_grad]


class RenderObjective(nn.Module):
    """Reconstruct the driving frame from the source: batch -> (losses, outputs)."""

    def __init__(self, model: FrondModel, weights: dict[str, float]) -> None:
        super().__init__()
        self.model, self.weights = model, weights

    def forward(self, batch: dict[str, torch.Tensor]):
        out = self.model.reconstruct(batch["source"], batch["source_kp"], batch["source_pose"],
                                     batch["driving_kp"], batch["driving_pose"])
        return render_losses(out["image"], batch["driving"], self.weights), out


class MotionObjective(nn.Module):
    """Predict the measured articulation from audio: batch -> (losses, outputs)."""

    def __init__(self, model: FrondModel, weights: dict[str, float]) -> None:
        super().__init__()
        self.model, self.weights = model, weights

    def forward(self, batch: dict[str, torch.Tensor]):
        out = self.model.predict_motion(batch["mel"], batch["times"][0], phones=batch.get("phones"))
        return motion_losses(out["articulation"], batch["articulation"], batch["rest"], self.weights), out


def motion_split(clips: list[PreparedClip], cfg: TrainConfig) -> tuple[list[PreparedClip], list[PreparedClip]]:
    """(train, evaluate) clips for the motion stage: speaker-disjoint, own-voice clips only."""
    from .speakers import held_out_speaker, load_speakers

    table = load_speakers(cfg.speakers)
    usable = [c for c in clips if table.usable(c.name)]
    speaker = lambda c: table.speaker_of(c.name) if c.name in table.speakers else c.speaker  # noqa: E731
    if cfg.clips:
        train_set = [c for c in usable if c.name in set(cfg.clips)]
    else:
        train_set = [c for c in usable if not held_out_speaker(speaker(c), cfg.holdout)]
    if cfg.eval_clips:
        eval_set = [c for c in usable if c.name in set(cfg.eval_clips)]
    else:
        seen = {speaker(c) for c in train_set}
        eval_set = [c for c in usable if speaker(c) not in seen]
    if not train_set:
        raise FrondInputError("no clips left to train the motion stage on (check --holdout and the speaker table)")
    return train_set, eval_set


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [-1, 1] or (H, W) in [0, 1] -> (H, W, 3) uint8."""
    x = x.detach().float().cpu()
    if x.dim() == 2:
        x = x[None].expand(3, -1, -1) * 2 - 1
    return ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()


def save_render_sample(path: Path, batch: dict, out: dict, rows: int = 4) -> None:
    """source | driving | prediction | warped source | occlusion, one row per example."""
    lines = []
    for i in range(min(rows, batch["source"].shape[0])):
        cells = [batch["source"][i], batch["driving"][i], out["image"][i], out["warped"][i], out["occlusion"][i]]
        lines.append(np.concatenate([_to_uint8(c) for c in cells], axis=1))
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(lines, axis=0), cv2.COLOR_RGB2BGR))


def save_motion_sample(path: Path, batch: dict, out: dict) -> None:
    """Mouth opening over the window: measured (green) vs predicted (red)."""
    rest = batch["rest"][:1].float()
    real = opening(batch["articulation"][:1].float(), rest)[0].cpu().numpy()
    pred = opening(out["articulation"][:1].detach().float(), rest)[0].cpu().numpy()
    h, w = 200, 480
    img = np.full((h, w, 3), 255, np.uint8)
    top = max(float(real.max()), float(pred.max()), 1e-3) * 1.1
    for curve, colour in ((real, (0, 160, 0)), (pred, (0, 0, 220))):
        xs = np.linspace(10, w - 10, len(curve))
        ys = h - 10 - curve / top * (h - 20)
        cv2.polylines(img, [np.stack([xs, ys], 1).astype(np.int32)], False, colour, 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)


def _describe_data(clips: list[PreparedClip], data_dir: str) -> str:
    names = ", ".join(f"{c.name} ({Path(c.meta.get('video', c.name)).name}, {c.n_frames} frames)" for c in clips)
    return f"{len(clips)} clips prepared in {data_dir}: {names}"


def _batches(n: int, batch: int, dist: Distributed, seed: int, epoch: int) -> list[list[int]]:
    sampler = DistributedSampler(range(n), num_replicas=dist.world, rank=dist.rank, shuffle=True,
                                 seed=seed, drop_last=n >= dist.world * batch)
    sampler.set_epoch(epoch)
    idx = list(sampler)
    if len(idx) < batch:  # tiny data: repeat within the epoch so a batch is full
        idx = (idx * math.ceil(batch / max(len(idx), 1)))[:batch]
    return [idx[i:i + batch] for i in range(0, len(idx) - batch + 1, batch)]


def train(cfg: TrainConfig) -> dict:
    """Run one stage. Returns a summary: losses at start and end, held-out metrics, paths."""
    dist = setup_distributed(cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    device = resolve_device(cfg.device, dist.local_rank)
    if device.startswith("cuda"):
        torch.cuda.set_device(torch.device(device))
    seed_everything(cfg.seed)
    clips = load_prepared(cfg.data)
    out = Path(cfg.out)
    model = load_or_create(out, cfg).to(device)
    image_size = cfg.image_size or model.config.image_size
    params = set_trainable(model, cfg.stage)
    if cfg.stage == "render":
        dataset = RenderPairs(clips, image_size, cfg.holdout, cfg.seed)
        objective: nn.Module = RenderObjective(model, cfg.render_weights)
        lr = cfg.lr or 2e-4
        eval_clips = clips
    else:
        clips, eval_clips = motion_split(clips, cfg)
        dataset = MotionWindows(clips, model.config.motion.n_mels, cfg.window, cfg.seed, phones=model.config.motion.phone_features)
        objective = MotionObjective(model, cfg.motion_weights)
        lr = cfg.lr or 1e-3
        if not model.motion.basis.abs().sum():  # a fresh motion stage: its articulation space comes from the data
            explained = model.motion.fit_space(*map(list, zip(*(c.articulation for c in clips))))
            if dist.main and cfg.progress:
                print(f"articulation basis: {model.config.motion.components} components keep "
                      f"{explained['explained']:.1%} of the variance")
    wrapped = objective
    if dist.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        wrapped = DistributedDataParallel(objective, device_ids=[torch.device(device).index] if device.startswith("cuda") else None)
    decay = cfg.weight_decay if cfg.weight_decay is not None else (0.05 if cfg.stage == "motion" else 0.0)
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.99), weight_decay=decay)
    warmup = min(50, max(1, cfg.steps // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * (0.55 + 0.45 * math.cos(math.pi * min(s, cfg.steps) / cfg.steps)))

    ckpt = out / "checkpoints" / f"{cfg.stage}.pt"
    log_path = out / "logs" / f"{cfg.stage}.jsonl"
    step, before, seconds = 0, None, 0.0
    if cfg.resume and ckpt.is_file():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)  # a local file we wrote
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step, seconds = int(state["step"]), float(state.get("seconds", 0.0))
        before = json.loads(state.get("before", "null"))
        torch.set_rng_state(state["rng"])
    elif log_path.exists() and dist.main:
        log_path.unlink()

    def evaluate() -> dict | None:
        if cfg.eval_frames <= 0 or not dist.main:
            return None
        if cfg.stage == "render":
            return evaluate_render(model, clips, image_size, cfg.holdout, device, cfg.eval_frames)
        return evaluate_motion(model, eval_clips, device)

    if before is None and step == 0:
        before = evaluate()
    model.train()

    def save_checkpoint() -> None:
        if not dist.main:
            return
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        tmp = ckpt.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "step": step, "seconds": seconds, "rng": torch.get_rng_state(),
                    "before": json.dumps(before), "train_config": json.dumps(asdict(cfg))}, tmp)
        tmp.replace(ckpt)

    amp = device.startswith("cuda")
    n_batches = len(_batches(len(dataset), cfg.batch, dist, cfg.seed, 0))
    history: list[float] = []
    bar = tqdm(total=cfg.steps, initial=step, desc=f"train {cfg.stage}", unit="step", disable=not (cfg.progress and dist.main))
    log_file = None
    if dist.main:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = log_path.open("a")
    t0 = time.time()
    while step < cfg.steps:
        epoch, skip = divmod(step, max(n_batches, 1))
        dataset.set_epoch(epoch)
        batches = _batches(len(dataset), cfg.batch, dist, cfg.seed, epoch)[skip:]
        loader = DataLoader(dataset, batch_sampler=batches, num_workers=cfg.workers,
                            pin_memory=device.startswith("cuda"))
        for batch in loader:
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                losses, outputs = wrapped(batch)
            opt.zero_grad(set_to_none=True)
            losses["total"].backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            step += 1
            history.append(float(losses["total"].detach()))
            bar.update(1)
            bar.set_postfix(loss=f"{history[-1]:.4f}")
            if dist.main and (step % cfg.log_every == 0 or step == 1 or step == cfg.steps):
                row = {"step": step, "lr": sched.get_last_lr()[0], "grad_norm": float(grad_norm),
                       "seconds": round(seconds + time.time() - t0, 2), **{k: float(v.detach()) for k, v in losses.items()}}
                log_file.write(json.dumps(row) + "\n")
                log_file.flush()
            if dist.main and cfg.sample_every and step % cfg.sample_every == 0:
                sample = out / "samples" / f"{cfg.stage}_{step:06d}.png"
                (save_render_sample if cfg.stage == "render" else save_motion_sample)(sample, batch, outputs)
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < cfg.steps:
                seconds += time.time() - t0
                t0 = time.time()
                save_checkpoint()
            if step >= cfg.steps:
                break
    bar.close()
    seconds += time.time() - t0
    if log_file:
        log_file.close()
    after = evaluate()
    summary = {"stage": cfg.stage, "steps": step, "seconds": round(seconds, 1), "out": str(out),
               "loss_first": float(np.mean(history[:5])) if history else None,
               "loss_last": float(np.mean(history[-5:])) if history else None,
               "heldout_before": before, "heldout_after": after}
    if dist.main:
        save_checkpoint()
        model.config.training[cfg.stage] = {
            "steps": step, "batch": cfg.batch * dist.world, "lr": lr, "image_size": image_size if cfg.stage == "render" else None,
            "device": device.split(":")[0], "processes": dist.world, "seconds": round(seconds, 1),
            "data": _describe_data(clips, cfg.data), "holdout": cfg.holdout,
            "metrics": {"heldout_before": before, "heldout_after": after},
        }
        model.config.trained_stages = sorted(set(model.config.trained_stages) | {cfg.stage})
        model.config.__post_init__()
        model.eval()
        model.save_pretrained(out)
        (out / "logs" / f"{cfg.stage}_summary.json").write_text(json.dumps(summary, indent=2))
    if dist.world > 1:
        import torch.distributed as tdist

        tdist.barrier()
    return summary
