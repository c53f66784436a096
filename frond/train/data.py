"""Prepared clips (see `prepare.py`) as PyTorch datasets.

Held-out data is split by speaker (`split.py`: whole clips) or, with `split="time"`, in
time: the first `1 - holdout` of each clip for training, the last `holdout` held out
(never seen as driving frames or motion targets). Items are drawn by `EpochBatches`, which
hands each index with its epoch so that DataLoader workers draw the same as one process.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler, Sampler

from ..errors import FrondInputError
from ..models.audio_features import FRAMES_PER_SECOND, log_mel
from .augment import AugmentConfig, augment_pair
from .frames import FrameShard


@dataclass
class PreparedClip:
    """One prepared clip folder."""

    root: Path

    @cached_property
    def meta(self) -> dict:
        return json.loads((self.root / "meta.json").read_text())

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def fps(self) -> float:
        return float(self.meta["fps"])

    @cached_property
    def frames(self) -> FrameShard | np.ndarray:
        """(T, S, S, 3) uint8 RGB: a compressed shard (decoded per frame) or, from prepare v1, a memory map."""
        info = self.meta.get("frames")
        if info:
            return FrameShard(self.root / info["file"])
        return np.load(self.root / "frames.npy", mmap_mode="r")

    @property
    def speaker(self) -> str:
        """Who speaks (meta.json's "speaker"; a clip without one is its own speaker)."""
        return str(self.meta.get("speaker") or self.name)

    @cached_property
    def keypoints(self) -> np.ndarray:
        """(T, 68, 2) float32."""
        return np.load(self.root / "keypoints.npy")

    @cached_property
    def pose(self) -> np.ndarray:
        """(T, 3) float32 degrees."""
        return np.load(self.root / "pose.npy")

    @cached_property
    def audio(self) -> np.ndarray:
        """(N,) float32 16 kHz (stored as int16 since prepare v2)."""
        audio = np.load(self.root / "audio.npy")
        return audio.astype(np.float32) / 32767 if audio.dtype == np.int16 else audio

    def mel(self, n_mels: int) -> np.ndarray:
        """(n_mels, M) log-mel of the whole clip, 100 frames/s, cached per n_mels."""
        cache = self.__dict__.setdefault("_mel", {})
        if n_mels not in cache:
            cache[n_mels] = log_mel(self.audio, n_mels=n_mels)
        return cache[n_mels]

    @property
    def n_frames(self) -> int:
        return int(self.keypoints.shape[0])

    def split(self, holdout: float) -> tuple[np.ndarray, np.ndarray]:
        """Frame indices (train, held_out): the last `holdout` fraction of the clip is held out."""
        n = self.n_frames
        cut = n - max(1, int(round(n * holdout))) if holdout > 0 else n
        return np.arange(cut), np.arange(cut, n)


def load_prepared(data_dir: str | Path) -> list[PreparedClip]:
    """All complete clips (folders with a meta.json) under a `prepare` output folder."""
    root = Path(data_dir)
    if not root.is_dir():
        raise FrondInputError(f"data folder not found: {root} (make it with `python -m frond prepare VIDEOS OUT`)")
    clips = [PreparedClip(p) for p in sorted(root.iterdir()) if (p / "meta.json").is_file()]
    if not clips:
        raise FrondInputError(f"no prepared clips in {root}: run `python -m frond prepare VIDEOS_DIR {root}` first")
    return clips


def image_tensor(frame: np.ndarray, size: int) -> torch.Tensor:
    """(S, S, 3) uint8 -> (3, size, size) float32 in [-1, 1]."""
    if frame.shape[0] != size:
        interp = cv2.INTER_AREA if frame.shape[0] > size else cv2.INTER_CUBIC
        frame = cv2.resize(np.asarray(frame), (size, size), interpolation=interp)
    return torch.from_numpy(np.array(frame, dtype=np.uint8, copy=True)).permute(2, 0, 1).float() / 127.5 - 1.0


class _Seeded(Dataset):
    """Items are random draws seeded by (seed, epoch, index): deterministic and resumable."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index])

    def __getitems__(self, keys: list) -> list:
        """A batch of `(epoch, index)` keys (from `EpochBatches`) or plain indices."""
        items = []
        for key in keys:
            if isinstance(key, tuple):
                self.epoch, key = key
            items.append(self[key])
        return items


def epoch_batches(n: int, batch: int, world: int, rank: int, seed: int, epoch: int) -> list[list[int]]:
    """This rank's batches of one epoch: a seeded shuffle split across ranks (DistributedSampler)."""
    sampler = DistributedSampler(range(n), num_replicas=world, rank=rank, shuffle=True,
                                 seed=seed, drop_last=n >= world * batch)
    sampler.set_epoch(epoch)
    idx = list(sampler)
    if len(idx) < batch:  # tiny data: repeat within the epoch so a batch is full
        idx = (idx * math.ceil(batch / max(len(idx), 1)))[:batch]
    return [idx[i:i + batch] for i in range(0, len(idx) - batch + 1, batch)]


class EpochBatches(Sampler):
    """Endless batches of `(epoch, index)` keys from optimiser step `start` on, so that one DataLoader
    (with persistent workers) serves the whole run and a resumed run draws what it would have."""

    def __init__(self, n: int, batch: int, world: int = 1, rank: int = 0, seed: int = 0, start: int = 0) -> None:
        self.args = (n, batch, world, rank, seed)
        self.per_epoch = max(len(epoch_batches(*self.args, 0)), 1)
        self.start = start

    def __iter__(self):
        epoch, skip = divmod(self.start, self.per_epoch)
        while True:
            for b in epoch_batches(*self.args, epoch)[skip:]:
                yield [(epoch, i) for i in b]
            epoch, skip = epoch + 1, 0


class RenderPairs(_Seeded):
    """(source, driving) frame pairs of the same clip, for the render stage, optionally augmented."""

    def __init__(self, clips: list[PreparedClip], image_size: int, holdout: float = 0.2, seed: int = 0,
                 augment: AugmentConfig | None = None) -> None:
        super().__init__(seed)
        self.clips, self.size, self.augment = clips, image_size, augment
        self.train_frames = [c.split(holdout)[0] for c in clips]
        self.items = [(ci, int(f)) for ci, frames in enumerate(self.train_frames) for f in frames]
        if not self.items:
            raise FrondInputError("no training frames in the prepared data")

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        ci, drv = self.items[index]
        clip, frames = self.clips[ci], self.train_frames[ci]
        rng = self.rng(index)
        src = int(rng.choice(frames)) if len(frames) > 1 else drv
        item = pair(clip, src, drv, self.size)
        return augment_pair(item, rng, self.augment) if self.augment is not None else item


def pair(clip: PreparedClip, src: int, drv: int, size: int) -> dict[str, torch.Tensor]:
    """One (source, driving) example: images (3, size, size) in [-1, 1], keypoints (68, 2), poses (3,)."""
    return {
        "source": image_tensor(clip.frames[src], size),
        "driving": image_tensor(clip.frames[drv], size),
        "source_kp": torch.from_numpy(clip.keypoints[src].copy()),
        "driving_kp": torch.from_numpy(clip.keypoints[drv].copy()),
        "source_pose": torch.from_numpy(clip.pose[src].copy()),
        "driving_pose": torch.from_numpy(clip.pose[drv].copy()),
    }


class MotionWindows(_Seeded):
    """Windows of `window` frames with their audio, for the motion stage.

    Item: mel (n_mels, 4 (W - 1) + 1) at 100 Hz starting at the window's first frame,
    times (W,) seconds from the window start, keypoints (W, 68, 2), pose (W, 3), and a
    source frame's keypoints (68, 2) and pose (3,) drawn from the clip's training frames.
    """

    def __init__(self, clips: list[PreparedClip], n_mels: int, window: int = 50, holdout: float = 0.2,
                 seed: int = 0, stride: int = 5) -> None:
        super().__init__(seed)
        self.clips, self.n_mels, self.window = clips, n_mels, window
        self.train_frames = [c.split(holdout)[0] for c in clips]
        self.items = []
        for ci, (clip, frames) in enumerate(zip(clips, self.train_frames)):
            audio_frames = int(clip.audio.size / 16000 * clip.fps)
            usable = min(len(frames), audio_frames)
            for start in range(0, max(usable - window, -1) + 1, stride):
                self.items.append((ci, start))
        if not self.items:
            raise FrondInputError(f"no clip has {window} training frames with audio for the motion stage")

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        ci, start = self.items[index]
        clip = self.clips[ci]
        src = int(self.rng(index).choice(self.train_frames[ci]))
        return motion_window(clip, start, self.window, self.n_mels, src)


def motion_window(clip: PreparedClip, start: int, window: int, n_mels: int, src: int) -> dict[str, torch.Tensor]:
    mel = clip.mel(n_mels)
    per_frame = FRAMES_PER_SECOND / clip.fps
    m0 = int(round(start * per_frame))
    m_len = int(round((window - 1) * per_frame)) + 1
    seg = mel[:, m0:m0 + m_len]
    if seg.shape[1] < m_len:
        seg = np.pad(seg, ((0, 0), (0, m_len - seg.shape[1])), mode="edge")
    frames = np.arange(start, start + window)
    return {
        "mel": torch.from_numpy(np.ascontiguousarray(seg)),
        "times": torch.from_numpy((np.arange(window) / clip.fps).astype(np.float32)),
        "keypoints": torch.from_numpy(clip.keypoints[frames].copy()),
        "pose": torch.from_numpy(clip.pose[frames].copy()),
        "source_kp": torch.from_numpy(clip.keypoints[src].copy()),
        "source_pose": torch.from_numpy(clip.pose[src].copy()),
    }
