"""`python -m frond train`: the render stage (encoder + dense field + decoder, by
reconstructing a driving frame from a source frame of the same clip) and the motion
stage (audio -> keypoint trajectories measured on real frames).

One process on CPU or GPU, or several under `torchrun` (PyTorch DDP: a process group
when WORLD_SIZE > 1, each rank its share of every epoch, losses averaged over ranks before
rank 0 logs them, held-out evaluation split across ranks; `distributed.py`). One DataLoader
with persistent workers serves the whole run (`data.EpochBatches`). Held-out clips are
whole speakers (`split.py`). bf16 autocast on CUDA, checkpoints with resume (the learning
rate schedule continues without a jump when --steps grows: `schedule.py`), periodic sample
images, seeded, losses logged as JSON lines. The render stage adds a VGG19 perceptual loss
when VGG19 weights are at hand (`perceptual.py`; else it says so and goes on without),
optional mouth adversarial / feature-matching terms (`mouth_gan.py`) and flip + colour
augmentation (`augment.py`). `--out DIR` is a `FrondModel.from_pretrained` folder; training both stages into
the same folder fills it stage by stage (`config.trained_stages`).
"""
from __future__ import annotations

import json
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, cast

import cv2
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..errors import FrondInputError
from ..motion.global_stream import resample_track
from ..motion.net import AudioMotionEstimator, opening
from ..motion.sync_net import SyncConfig
from ..nn.config import KEYPOINT_MOTIONS, STAGES, FrondConfig
from ..weights.model import FrondModel
from .augment import AugmentConfig
from .data import EpochBatches, MotionWindows, PreparedClip, RenderPairs, load_prepared
from .distributed import Distributed, barrier, mean_over_ranks, resolve_device, setup_distributed, sharded
from .heldout import evaluate_motion, evaluate_render
from .losses import head_losses, motion_losses, render_losses
from .mouth_gan import MouthGAN
from .perceptual import PerceptualLoss, find_vgg19_weights, load_vgg19
from .schedule import LRSchedule
from .speakers import load_speakers
from .split import SPLITS, Split, speaker_of, split_clips
from .sync_critic import SyncCritic, train_sync

__all__ = ["TrainConfig", "train", "Distributed", "setup_distributed", "resolve_device"]


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
    keypoint_motion: str | None = None  # a new model's keypoint motion: translation, affine, tps (None: the preset's)
    holdout: float = 0.2  # fraction of speakers held out ("speaker" split) or of each clip's end ("time")
    split: str = "speaker"  # held-out data: whole speakers ("speaker") or the end of every clip ("time")
    speakers: str | None = None  # a clip,speaker CSV, or "shared" for the shared corpus's table (default: each clip's meta.json, else the clip is its own speaker)
    clips: tuple[str, ...] = ()  # train on these prepared clips only (cross-validation folds); the rest is held out
    eval_names: tuple[str, ...] = ()  # with `clips`: evaluate on these (default: the clips of speakers not trained on)
    window: int = 50  # motion stage: frames per training window
    sync_steps: int = 600  # motion stage, when motion_weights["sync_embed"] > 0: steps of the sync embedding trained first (`sync.py`)
    weight_decay: float | None = None  # AdamW weight decay; None: 0 (render), 0.05 (motion)
    log_every: int = 10  # steps between log lines
    sample_every: int = 250  # steps between sample images (0: never)
    checkpoint_every: int = 250  # steps between checkpoints (0: only at the end)
    eval_frames: int = 16  # held-out frames per clip for the before/after evaluation (0: skip)
    eval_clips: int = 32  # held-out clips evaluated at most (evenly spaced), split across the processes
    workers: int = -1  # DataLoader worker processes per process (-1: 4 on CUDA, 0 on CPU); persistent
    perceptual: str = "auto"  # VGG19 weights: auto ($FROND_VGG19_WEIGHTS, Hub cache), off, FILE.safetensors or a Hub id
    augment: bool = True  # render stage: random flip and colour jitter of the pairs
    resume: bool = True  # continue from OUT/checkpoints/<stage>.pt when present
    progress: bool = True  # tqdm progress bar
    render_weights: dict[str, float] = field(default_factory=lambda: {
        "l1": 1.0, "ssim": 0.5, "grad": 0.5, "perceptual": 1.0, "mouth_adv": 0.0, "mouth_fm": 0.0})
    motion_weights: dict[str, float] = field(default_factory=lambda: {"shape": 1.0, "velocity": 1.0, "open": 1.0,
                                                                      "sync": 0.1, "amplitude": 0.05, "sync_embed": 1.0,
                                                                      "head": 0.1})

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise FrondInputError(f"--stage must be one of {', '.join(STAGES)}, got {self.stage!r}")
        if self.steps < 1 or self.batch < 1:
            raise FrondInputError(f"--steps and --batch must be >= 1, got {self.steps} and {self.batch}")
        if self.model_size not in ("base", "small", "tiny"):
            raise FrondInputError(f"--model must be base, small or tiny, got {self.model_size!r}")
        if self.image_size is not None and (self.image_size < 32 or self.image_size % 16):
            raise FrondInputError(f"--image-size must be a multiple of 16, >= 32, got {self.image_size}")
        if self.split not in SPLITS:
            raise FrondInputError(f"--split must be one of {', '.join(SPLITS)}, got {self.split!r}")
        if self.keypoint_motion not in (None, *KEYPOINT_MOTIONS):
            raise FrondInputError(f"--keypoint-motion must be one of {', '.join(KEYPOINT_MOTIONS)}, got {self.keypoint_motion!r}")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


def load_or_create(out: Path, cfg: TrainConfig) -> FrondModel:
    """The model already in OUT (an earlier stage) or a new one."""
    if (out / "config.json").is_file() and (out / "model.safetensors").is_file():
        return FrondModel.from_pretrained(str(out))
    size = cfg.image_size or 256
    presets: dict[str, Callable[[int], FrondConfig]] = {"tiny": FrondConfig.tiny, "small": FrondConfig.small,
                                                        "base": lambda s: FrondConfig(image_size=s)}
    config = presets[cfg.model_size](size)
    if cfg.keypoint_motion:
        config.field.keypoint_motion = cfg.keypoint_motion
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
    """Reconstruct the driving frame from the source: batch -> (losses, outputs).

    perceptual: the frozen VGG19 pyramid loss, or None (off)."""

    def __init__(self, model: FrondModel, weights: dict[str, float], perceptual: PerceptualLoss | None = None) -> None:
        super().__init__()
        self.model, self.weights, self.perceptual = model, weights, perceptual

    def forward(self, batch: dict[str, torch.Tensor]):
        out = self.model.reconstruct(batch["source"], batch["source_kp"], batch["source_pose"],
                                     batch["driving_kp"], batch["driving_pose"])
        return render_losses(out["image"], batch["driving"], self.weights, self.perceptual), out


def perceptual_loss(cfg: TrainConfig, device: str) -> tuple[PerceptualLoss | None, str]:
    """The VGG19 loss when the stage uses it and weights are at hand -> (loss or None, what happened)."""
    if cfg.stage != "render" or cfg.render_weights.get("perceptual", 0.0) <= 0:
        return None, "perceptual loss off (weight 0)" if cfg.stage == "render" else "not used by this stage"
    try:
        found = find_vgg19_weights(cfg.perceptual)
    except Exception as exc:  # noqa: BLE001 - a bad path or an unreachable Hub: say so, do not train without asking
        raise FrondInputError(f"--perceptual {cfg.perceptual}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
    if found.path is None:
        return None, found.reason
    return PerceptualLoss(load_vgg19(found.path)).to(device), found.reason


def data_workers(requested: int, device: str, world: int) -> int:
    """-1 (auto): 4 per process on CUDA, bounded by the CPUs; 0 on CPU (the workers would compete with training)."""
    if requested >= 0:
        return requested
    if not device.startswith("cuda"):
        return 0
    return max(1, min(4, (os.cpu_count() or 2) // max(world, 1) - 1))


def _evenly(items: list, n: int) -> list:
    """At most n items, evenly spaced (all when n <= 0)."""
    if n <= 0 or len(items) <= n:
        return list(items)
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, n).round()]


class MotionObjective(nn.Module):
    """Predict the measured articulation from audio: batch -> (losses, outputs)."""

    def __init__(self, model: FrondModel, weights: dict[str, float], critic: SyncCritic | None = None) -> None:
        super().__init__()
        self.model, self.weights, self.critic = model, weights, critic

    def forward(self, batch: dict[str, torch.Tensor]):
        out = self.model.predict_motion(batch["mel"], batch["times"][0], phones=batch.get("phones"))
        motion = self.model.motion
        each = []
        for c in out["member_coefficients"]:  # every member learns on its own: an ensemble, not one wide net
            pred = motion.articulation(c, batch["times"][0])
            terms = motion_losses(pred, batch["articulation"], batch["rest"], self.weights)
            if self.critic is not None:  # the frozen sync embedding's score of the predicted lips
                terms["sync_embed"] = self.critic(batch, pred)
                terms["total"] = terms["total"] + self.weights.get("sync_embed", 0.0) * terms["sync_embed"]
            each.append(terms)
        losses = {k: torch.stack([e[k] for e in each]).mean() for k in each[0]}
        if "head" in out:  # the global stream: the head's motion, in the units fitted on the training clips
            mean, log_spread = motion.head_pose(out["head"], batch["times"][0])
            scale = cast(torch.Tensor, motion.head_scale)
            losses["head"] = head_losses(mean, log_spread, batch["pose"] / scale, batch["pose_ok"])
            losses["total"] = losses["total"] + self.weights.get("head", 0.0) * losses["head"]
        return losses, out


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


def _describe_data(clips: list[PreparedClip], data_dir: str, table=None, listed: int = 64) -> str:
    """The model card's data line: every clip of a small corpus; counts only for a large one (see its manifest)."""
    hours = sum(c.n_frames / c.fps for c in clips) / 3600
    speakers = len({speaker_of(c, table) for c in clips})
    head = f"{len(clips)} clips of {speakers} speakers ({hours:.2f} h) prepared in {data_dir}"
    if len(clips) > listed:
        return f"{head} (the clips are listed in its manifest.json)"
    names = ", ".join(f"{c.name} ({Path(c.meta.get('video', c.name)).name}, {c.n_frames} frames)" for c in clips)
    return f"{head}: {names}"


def sync_critic(cfg: TrainConfig, dataset: MotionWindows, device: str,
                dist: Distributed) -> tuple[SyncCritic | None, dict[str, float] | None]:
    """The motion stage's frozen sync critic, trained first on the same clips (`sync.py`), and what
    to record of it; (None, None) when its loss weight is 0 or the windows are too short for it."""
    if cfg.motion_weights.get("sync_embed", 0.0) <= 0:
        return None, None
    say = dist.main and cfg.progress
    frames = SyncConfig().mouth_frames
    if cfg.window < frames:
        if say:
            print(f"sync embedding: off (--window {cfg.window} is shorter than its {frames} frames)", flush=True)
        return None, None
    embedding, info = train_sync(dataset, cfg.sync_steps, seed=cfg.seed, device=device,
                                 log=(lambda line: print(line, flush=True)) if say else None)
    if say:
        print(f"sync embedding: top-1 {info['accuracy']:.2f} on its training windows (chance {info['chance']:.3f}), "
              f"{info['seconds']:.0f} s; frozen", flush=True)
    return (SyncCritic(embedding, dataset.context, seed=cfg.seed + dist.rank),
            {"steps": cfg.sync_steps, **{k: round(v, 3) for k, v in info.items()}})


def _split_summary(split: Split, table) -> dict:
    train_sp, held_sp = split.speakers(table)
    return {"train_clips": len(split.train), "held_out_clips": len(split.held_out),
            "train_speakers": len(train_sp), "held_out_speakers": sorted(held_sp)}


def training_split(cfg: TrainConfig, clips: list[PreparedClip], table=None) -> Split:
    """The clips a run trains on and the ones it is judged on (speaker-disjoint by default).

    The motion stage leaves out clips whose soundtrack is not the speaker's own voice: they teach
    nothing about lips. `cfg.clips` names an explicit training set (a cross-validation fold).
    """
    if cfg.stage == "motion":
        clips = [c for c in clips if c.meta.get("own_voice", True) and (table is None or table.usable(c.name))]
    if not cfg.clips:
        return split_clips(clips, cfg.holdout, cfg.split, table)
    chosen = [c for c in clips if c.name in set(cfg.clips)]
    seen = {speaker_of(c, table) for c in chosen}
    held = [c for c in clips if c.name in set(cfg.eval_names)] if cfg.eval_names else \
        [c for c in clips if speaker_of(c, table) not in seen]
    return Split(chosen, held, 0.0, 1.0)


def train(cfg: TrainConfig) -> dict:
    """Run one stage. Returns a summary: losses at start and end, held-out metrics, paths."""
    dist = setup_distributed(cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    device = resolve_device(cfg.device, dist.local_rank)
    if device.startswith("cuda"):
        torch.cuda.set_device(torch.device(device))
    seed_everything(cfg.seed)
    clips = load_prepared(cfg.data)
    table = load_speakers(None if cfg.speakers == "shared" else cfg.speakers) if cfg.speakers else None
    split = training_split(cfg, clips, table)
    if not split.train:
        raise FrondInputError("no training clips are left after the held-out split")
    out = Path(cfg.out)
    model = load_or_create(out, cfg).to(device)
    fresh_motion = cfg.stage == "motion" and not cast(torch.Tensor, model.motion.basis).abs().sum()
    if fresh_motion and model.config.motion.head and all(c.head is None for c in split.train):
        model.config.motion.head = False  # nothing to learn the head from: a motion stage without the global stream
        model.motion = AudioMotionEstimator(model.config.motion).to(device)
        if dist.main and cfg.progress:
            print("head stream: off (no training clip has a usable head track; `frond prepare` keeps the crops it is "
                  "measured from)", flush=True)
    image_size = cfg.image_size or model.config.image_size
    params = set_trainable(model, cfg.stage)
    perceptual, perceptual_note = perceptual_loss(cfg, device)
    gan = None
    sync_info: dict[str, float] | None = None  # the motion stage's sync embedding, when it has one
    if cfg.stage == "render":
        augment = AugmentConfig() if cfg.augment else None
        dataset: RenderPairs | MotionWindows
        dataset = RenderPairs(split.train, image_size, split.train_holdout, cfg.seed, augment=augment)
        objective: nn.Module = RenderObjective(model, cfg.render_weights, perceptual)
        lr = cfg.lr or 2e-4
        if max(cfg.render_weights.get("mouth_adv", 0.0), cfg.render_weights.get("mouth_fm", 0.0)) > 0:
            gan = MouthGAN(device, crop=max(32, image_size // 4), lr=lr, ddp=dist.world > 1)
    else:
        dataset = MotionWindows(split.train, model.config.motion.n_mels, cfg.window, cfg.seed,
                                phones=model.config.motion.phone_features)
        critic, sync_info = sync_critic(cfg, dataset, device, dist)
        objective = MotionObjective(model, cfg.motion_weights, critic)
        lr = cfg.lr or 1e-3
        if fresh_motion:  # its spaces come from the data
            explained = model.motion.fit_space(*map(list, zip(*(c.articulation for c in split.train))))
            if dist.main and cfg.progress:
                print(f"articulation basis: {model.config.motion.components} components keep "
                      f"{explained['explained']:.1%} of the variance", flush=True)
            if model.config.motion.head:
                tracks = [(c.head, c.fps) for c in split.train if c.head is not None]
                head_units = model.motion.fit_head([resample_track(t, fps, model.config.motion.knot_hz) for t, fps in tracks])
                if dist.main and cfg.progress:
                    print(f"head stream: {len(tracks)} clips with a head track; units {head_units['scale']}", flush=True)
    if dist.main and cfg.stage == "render":
        print(f"train render: {perceptual_note}", flush=True)
    wrapped = objective
    if dist.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        wrapped = DistributedDataParallel(objective, device_ids=[torch.device(device).index] if device.startswith("cuda") else None)
    decay = cfg.weight_decay if cfg.weight_decay is not None else (0.05 if cfg.stage == "motion" else 0.0)
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.99), weight_decay=decay)
    schedule = LRSchedule.for_run(cfg.steps)

    ckpt = out / "checkpoints" / f"{cfg.stage}.pt"
    log_path = out / "logs" / f"{cfg.stage}.jsonl"
    step, before, seconds = 0, None, 0.0
    if cfg.resume and ckpt.is_file():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)  # a local file we wrote
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, seconds = int(state["step"]), float(state.get("seconds", 0.0))
        before = json.loads(state.get("before", "null"))
        torch.set_rng_state(state["rng"])
        if "schedule" in state:
            schedule = LRSchedule(**json.loads(state["schedule"]))
        else:  # a checkpoint from before the schedule was saved: its run's --steps
            schedule = LRSchedule.for_run(int(json.loads(state.get("train_config", "{}")).get("steps", cfg.steps)))
        schedule.extend(cfg.steps, step)
        if gan is not None and "mouth_gan" in state:
            gan.load_state_dict(state["mouth_gan"])
        if log_path.exists() and dist.main:  # rows logged after the checkpoint are logged again
            rows = [line for line in log_path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
            log_path.write_text("".join(row + "\n" for row in rows))
    elif log_path.exists() and dist.main:
        log_path.unlink()

    eval_clips = _evenly(split.held_out, cfg.eval_clips)

    def evaluate() -> dict | None:
        if cfg.eval_frames <= 0 or not eval_clips:
            return None
        if cfg.stage == "render":
            result = sharded(lambda cs: evaluate_render(model, cs, image_size, split.eval_holdout, device, cfg.eval_frames),
                             eval_clips, dist)
        else:  # whole clips: the motion stage is judged on speakers it never heard
            result = sharded(lambda cs: evaluate_motion(model, cs, device), eval_clips, dist)
        model.train()
        return result

    if before is None and step == 0:
        before = evaluate()
    model.train()

    def save_checkpoint() -> None:
        if not dist.main:
            return
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        tmp = ckpt.with_suffix(".tmp")
        state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "schedule": json.dumps(schedule.to_dict()),
                 "step": step, "seconds": seconds, "rng": torch.get_rng_state(),
                 "before": json.dumps(before), "train_config": json.dumps(asdict(cfg))}
        if gan is not None:
            state["mouth_gan"] = gan.state_dict()
        torch.save(state, tmp)
        tmp.replace(ckpt)

    amp = device.startswith("cuda")
    workers = data_workers(cfg.workers, device, dist.world)
    loader = DataLoader(dataset, batch_sampler=EpochBatches(len(dataset), cfg.batch, dist.world, dist.rank, cfg.seed, step),
                        num_workers=workers, persistent_workers=workers > 0, pin_memory=amp)
    batches = iter(loader)
    history: list[float] = []
    bar = tqdm(total=cfg.steps, initial=step, desc=f"train {cfg.stage}", unit="step", disable=not (cfg.progress and dist.main))
    log_file = None
    if dist.main:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = log_path.open("a")
    t0 = time.time()
    while step < cfg.steps:
        batch = {k: v.to(device, non_blocking=True) for k, v in next(batches).items()}
        rate = lr * schedule.factor(step)
        for group in opt.param_groups:
            group["lr"] = rate
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            losses, outputs = wrapped(batch)
            if gan is not None:
                terms = gan.generator_terms(outputs["image"], batch["driving"], batch["driving_kp"])
                losses.update(terms)
                losses["total"] = losses["total"] + sum(cfg.render_weights.get(k, 0.0) * v for k, v in terms.items())
        opt.zero_grad(set_to_none=True)
        losses["total"].backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if gan is not None:
            losses["mouth_d"] = gan.step(outputs["image"], batch["driving"], batch["driving_kp"], autocast=amp)
        step += 1
        logged = mean_over_ranks({**losses, "grad_norm": grad_norm}, dist)  # every rank, every step
        history.append(logged["total"])
        bar.update(1)
        bar.set_postfix(loss=f"{history[-1]:.4f}")
        if dist.main and (step % cfg.log_every == 0 or step == 1 or step == cfg.steps):
            row = {"step": step, "lr": rate, "seconds": round(seconds + time.time() - t0, 2),
                   "processes": dist.world, **logged}
            assert log_file is not None
            log_file.write(json.dumps(row) + "\n")
            log_file.flush()
        if dist.main and cfg.sample_every and step % cfg.sample_every == 0:
            sample = out / "samples" / f"{cfg.stage}_{step:06d}.png"
            (save_render_sample if cfg.stage == "render" else save_motion_sample)(sample, batch, outputs)
        if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < cfg.steps:
            seconds += time.time() - t0
            t0 = time.time()
            save_checkpoint()
    del batches, loader  # stops the workers
    bar.close()
    seconds += time.time() - t0
    if log_file:
        log_file.close()
    after = evaluate()
    summary = {"stage": cfg.stage, "steps": step, "seconds": round(seconds, 1), "out": str(out),
               "loss_first": float(np.mean(history[:5])) if history else None,
               "loss_last": float(np.mean(history[-5:])) if history else None,
               "heldout_before": before, "heldout_after": after, "processes": dist.world, "data_workers": workers,
               "split": {"mode": cfg.split, **_split_summary(split, table)}}
    if cfg.stage == "render":
        summary["perceptual"] = perceptual_note
        summary["augment"] = cfg.augment
        summary["mouth_gan"] = gan is not None
    if dist.main:
        save_checkpoint()
        model.config.training[cfg.stage] = {
            "steps": step, "batch": cfg.batch * dist.world, "lr": lr, "image_size": image_size if cfg.stage == "render" else None,
            "device": device.split(":")[0], "processes": dist.world, "seconds": round(seconds, 1),
            "data": _describe_data(split.train, cfg.data, table), "holdout": cfg.holdout, "split": summary["split"],
            **({"perceptual": perceptual_note, "augment": cfg.augment, "mouth_gan": gan is not None}
               if cfg.stage == "render" else {"losses": dict(cfg.motion_weights), "sync_embedding": sync_info}),
            "metrics": {"heldout_before": before, "heldout_after": after},
        }
        model.config.trained_stages = sorted(set(model.config.trained_stages) | {cfg.stage})
        model.config.__post_init__()
        model.eval()
        model.save_pretrained(out)
        (out / "logs" / f"{cfg.stage}_summary.json").write_text(json.dumps(summary, indent=2))
    barrier(dist)
    return summary
