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
from typing import cast

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler, Sampler

from ..audio.mel import FLOOR_DECADES, FRAMES_PER_SECOND, SCALE_DECADES, mel_power, normalise, speech_level
from ..audio.phones import Phone, recognise_phones
from ..errors import FrondInputError
from ..face.head import head_track
from ..motion.articulation import clip_articulation
from .augment import AugmentConfig, augment_pair
from .frames import FrameShard


AV_MAX_LAG = 4  # frames searched for a recording's audio/video offset
AV_MIN_GAIN = 0.1  # the offset counts only when its correlation beats lag 0 by this much
AV_TYPICAL_LAG = -1  # real mouths lead the voice by about a frame at 25 fps (median over the shared clips)


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
    def crops(self) -> np.ndarray | None:
        """(T, 2, 3) float32 image pixels -> crop pixels per frame (prepare's smoothed crop), or None
        for clips prepared before crops.npy was kept."""
        path = self.root / "crops.npy"
        return np.load(path) if path.is_file() else None

    def image_keypoints(self) -> np.ndarray | None:
        """(T, 68, 2) float64 keypoints in the video's own pixels (the head's motion in the frame
        included), or None without crops.npy."""
        if self.crops is None:
            return None
        from ..face.ibug import norm_to_px

        px = norm_to_px(self.keypoints, int(self.meta["size"]))  # (T, 68, 2) crop pixels
        lin = np.linalg.inv(self.crops[:, :, :2].astype(np.float64))  # (T, 2, 2)
        return np.einsum("tij,tkj->tki", lin, px - self.crops[:, None, :, 2])

    @cached_property
    def audio(self) -> np.ndarray:
        """(N,) float32 16 kHz (stored as int16 since prepare v2)."""
        audio = np.load(self.root / "audio.npy")
        return audio.astype(np.float32) / 32767 if audio.dtype == np.int16 else audio

    def mel_power(self, n_mels: int) -> tuple[np.ndarray, float]:
        """log10 mel power (n_mels, M) of the whole clip at 100 frames/s and its loud-speech level, cached."""
        cache = self.__dict__.setdefault("_mel", {})
        if n_mels not in cache:
            power = mel_power(self.audio, n_mels=n_mels)
            cache[n_mels] = (power, speech_level(power))
        return cache[n_mels]

    @cached_property
    def articulation(self) -> tuple[np.ndarray, np.ndarray]:
        """The face's articulation (T, DIM) and the speaker's rest shape (DIM,) (`frond.motion.articulation`)."""
        art, rest = clip_articulation(self.keypoints)
        return art.astype(np.float32), rest.astype(np.float32)

    @cached_property
    def head(self) -> np.ndarray | None:
        """The head's pose over the clip in the video's frame (T, 5) (`frond.face.head.head_track`), or None
        where it cannot be measured: no crops.npy, or a track no head makes (`head_track_usable`)."""
        keypoints = self.image_keypoints()
        if keypoints is None or not head_track_usable(keypoints):
            return None
        return head_track(keypoints)

    @cached_property
    def phones(self) -> list[Phone]:
        """pocketsphinx's phones of the clip's audio, recognised once and kept in phones.json."""
        cache = self.root / "phones.json"
        try:
            return [Phone(label, start, end) for label, start, end in json.loads(cache.read_text())]
        except (OSError, ValueError):
            pass
        phones = recognise_phones(self.audio, 16000)
        try:
            cache.write_text(json.dumps([[p.label, p.start, p.end] for p in phones]))
        except OSError:  # a read-only data folder: recognise again next time
            pass
        return phones

    def phone_features(self, kind: str, n_frames: int) -> np.ndarray:
        """The motion network's phone features of the whole clip (channels, n_frames), cached per kind."""
        from ..motion.learned import phone_features

        cache = self.__dict__.setdefault("_phone_features", {})
        if kind not in cache:
            cache[kind] = phone_features(kind, self.audio, 16000, self.phones, n_frames)
        return cache[kind]

    @cached_property
    def av_lag(self) -> int:
        """Frames by which the mouth trails the voice in this recording (negative: it leads),
        from the peak of the cross-correlation of the mouth opening with the speech envelope
        within +-AV_MAX_LAG frames; 0 when the peak is not clearly above the lag-0 value."""
        from ..audio.features import speech_envelope
        from ..metrics import correlation_at_lag, opening_series

        n = min(self.n_frames, int(self.audio.size / 16000 * self.fps))
        env = speech_envelope(self.audio, 16000, np.arange(n) / self.fps)
        mouth = opening_series(self.keypoints[:n])
        lags = range(-AV_MAX_LAG, AV_MAX_LAG + 1)
        r = np.array([correlation_at_lag(mouth, env, k) for k in lags])
        best = int(np.nanargmax(r))
        return list(lags)[best] if r[best] > r[AV_MAX_LAG] + AV_MIN_GAIN else 0

    @property
    def sync_shift(self) -> int:
        """Frames by which this recording's mouth is read later than its audio so that it leads the voice
        by the typical lag (`AV_TYPICAL_LAG`); 0 where `av_lag` found no clear offset. Training aligns
        each clip by it (`MotionWindows`), and the folds measure against the clip aligned the same way."""
        lag = self.av_lag
        return lag - AV_TYPICAL_LAG if lag else 0

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
    indices = cast("Dataset[int]", range(n))  # the sampler needs only len()
    sampler: DistributedSampler[int] = DistributedSampler(indices, num_replicas=world, rank=rank, shuffle=True,
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


@dataclass(frozen=True)
class AudioAugment:
    """Recording conditions the motion stage should not care about, drawn per window (in the mel domain)."""

    noise_probability: float = 0.5  # share of windows with added noise
    tempo: float = 0.0  # +- relative speaking-rate change (audio and mouth stretched together); 0: off
    phone_dropout: float = 0.2  # share of windows whose phone features are blanked (as when recognition fails)
    mel_dropout: float = 0.3  # share of windows that hear only the phone features (so the network learns to use them)
    snr_db: tuple[float, float] = (10.0, 40.0)  # noise level under the clip's loud speech
    tilt_decades: float = 0.4  # +- spectral tilt from the lowest to the highest band (microphones, rooms)

    def __call__(self, log_power: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
        """log10 mel power (n_mels, M) -> the same heard through a different channel."""
        out = log_power + rng.uniform(-self.tilt_decades, self.tilt_decades) * np.linspace(-0.5, 0.5, len(log_power))[:, None]
        if rng.random() < self.noise_probability:
            colour = rng.uniform(-1.0, 0.0) * np.linspace(0.0, 1.0, len(log_power))[:, None]  # white .. pinkish
            noise = level - rng.uniform(*self.snr_db) / 10.0 + colour + 0.1 * rng.standard_normal(out.shape)
            out = np.log10(10.0 ** out + 10.0 ** noise)
        return out.astype(np.float32)


HEAD_MAX_YAW = 45.0  # degrees: beyond, the landmarks' yaw estimate folds over (three-quarter views)
HEAD_MAX_ZOOM = 0.25  # the inter-ocular distance's 5-95 % spread over its median: beyond, the clip has zoom cuts


def head_track_usable(keypoints: np.ndarray) -> bool:
    """Image landmarks (T, 68, 2) -> False where the head track would measure cuts or folded yaw, not a head."""
    from ..face.head import head_pose_from_keypoints
    from ..face.ibug import inter_ocular

    iod = inter_ocular(keypoints)
    low, high = np.percentile(iod, [5, 95])
    return bool(np.abs(head_pose_from_keypoints(keypoints)[:, 0]).max() < HEAD_MAX_YAW
                and (high - low) / max(float(np.median(iod)), 1e-9) < HEAD_MAX_ZOOM)


class MotionWindows(_Seeded):
    """Windows of `window` frames of the mouth's articulation with the audio around them, for the motion stage.

    Item: mel (n_mels, 4 (W + 2 C - 1) + 1) level-normalised features at 100 Hz from C frames
    before the window to C after it (C = `context`; beyond the clip: its edge features),
    times (W,) seconds of the window's frames from the mel's start, articulation (W, DIM),
    rest (DIM,) the speaker's rest shape, pose (W, 5) the head's pose and pose_ok whether the clip
    has a usable head track (`PreparedClip.head`), phones (P, like mel) one-hot phone features (when
    `phones`). `augment` draws a recording condition per item.
    `align`: shift each recording's video against its audio so that its mouth leads the voice
    by the typical lag (`PreparedClip.av_lag`): clips from different sources disagree by a few
    frames, and a model trained on the mixture would blur its timing.
    """

    def __init__(self, clips: list[PreparedClip], n_mels: int, window: int = 50, seed: int = 0, stride: int = 5,
                 context: int = 10, augment: AudioAugment | None = AudioAugment(), align: bool = True,
                 phones: str = "none") -> None:
        super().__init__(seed)
        self.clips, self.n_mels, self.window, self.context, self.augment = clips, n_mels, window, context, augment
        self.phones = phones  # phone features: "none", "onehot", "visemes" (`frond.motion.learned.phone_features`)
        self.shifts = [c.sync_shift if align else 0 for c in clips]
        self.items = []
        for ci, clip in enumerate(clips):
            usable = min(clip.n_frames, int(clip.audio.size / 16000 * clip.fps))
            for start in range(0, max(usable - window, -1) + 1, stride):
                self.items.append((ci, start))
        if not self.items:
            raise FrondInputError(f"no clip has {window} frames with audio for the motion stage")

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        ci, start = self.items[index]
        rng = self.rng(index) if self.augment is not None else None
        rate = 1.0 + rng.uniform(-self.augment.tempo, self.augment.tempo) if rng is not None and self.augment.tempo else 1.0
        item = motion_window(self.clips[ci], start, self.window, self.n_mels, self.context, self.augment, rng,
                             self.shifts[ci], rate, self.phones)
        if "phones" in item and rng is not None:
            draw = rng.random()
            if draw < self.augment.phone_dropout:
                item["phones"] = torch.zeros_like(item["phones"])
            elif draw < self.augment.phone_dropout + self.augment.mel_dropout:
                item["mel"] = torch.full_like(item["mel"], -FLOOR_DECADES / SCALE_DECADES)  # silence-level features
        return item


def motion_window(clip: PreparedClip, start: int, window: int, n_mels: int, context: int = 0,
                  augment: AudioAugment | None = None, rng: np.random.Generator | None = None,
                  shift: int = 0, rate: float = 1.0, phones: str = "none") -> dict[str, torch.Tensor]:
    """One window of a clip (see `MotionWindows`); `window` frames from frame `start`; the
    articulation is read `shift` frames later than the audio (+: the video is moved earlier).
    `rate` > 1 speeds the speaker up: `window * rate` frames of the clip, audio and mouth
    resampled together to `window` frames."""
    power, level = clip.mel_power(n_mels)
    per_frame = FRAMES_PER_SECOND / clip.fps
    m0 = (start - context) * per_frame
    m_len = int(round((window + 2 * context - 1) * per_frame)) + 1
    pos = np.clip(m0 + np.arange(m_len) * rate, 0, power.shape[1] - 1)
    lo = np.floor(pos).astype(int)
    hi, frac = np.minimum(lo + 1, power.shape[1] - 1), (pos - lo)[None].astype(np.float32)
    seg = power[:, lo] * (1 - frac) + power[:, hi] * frac
    if augment is not None and rng is not None:
        seg = augment(seg, level, rng)
    art, rest = clip.articulation
    frames = np.clip(start - context + (np.arange(window) + context) * rate + shift, 0, len(art) - 1)
    lo = np.floor(frames).astype(int)
    hi, frac = np.minimum(lo + 1, len(art) - 1), (frames - lo)[:, None].astype(np.float32)
    head = clip.head
    pose = np.zeros((window, 5), np.float32) if head is None else head[np.minimum(lo, len(head) - 1)] * (1 - frac) \
        + head[np.minimum(hi, len(head) - 1)] * frac
    item = {
        "mel": torch.from_numpy(normalise(seg, level)),
        "times": torch.from_numpy(((np.arange(window) + context) / clip.fps).astype(np.float32)),
        "articulation": torch.from_numpy(art[lo] * (1 - frac) + art[hi] * frac),
        "rest": torch.from_numpy(rest),
        "pose": torch.from_numpy(pose.astype(np.float32)),  # the head's pose (W, 5) in the video's frame
        "pose_ok": torch.tensor(head is not None),  # False: no usable head track (the head loss skips it)
    }
    if phones != "none":
        features = clip.phone_features(phones, power.shape[1])
        item["phones"] = torch.from_numpy(np.ascontiguousarray(features[:, np.round(pos).astype(int)]))
    return item
