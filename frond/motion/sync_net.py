"""A small contrastive audio-mouth embedding (in the spirit of SyncNet, Chung & Zisserman 2016):
the motion stage's frozen sync critic.

Two encoders map a short window of speech and the mouth's articulation over the same span to
unit vectors; trained with InfoNCE (van den Oord et al. 2018), matching windows score a high
cosine, while other speakers' windows and the same clip a few frames off score low:

    L = -log( exp(cos(a_i, m_i) / tau) / sum_j exp(cos(a_i, m_j) / tau) )   (both directions)

Frozen, it scores the lips the motion stage generates: 1 - cos(a, m(predicted)) is a sync
loss that looks at the shape of the whole mouth over ~0.4 s, not only the lip gap's
correlation (`frond.train.losses.motion_losses`). It is trained on the motion stage's own
training clips (`frond.train.sync_critic`), so no speaker it will be judged on is in it.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..audio.mel import FRAMES_PER_SECOND
from .articulation import MOUTH_COLUMNS


@dataclass
class SyncConfig:
    """The sync embedding's shape."""

    features: int = 120  # audio features per 100 Hz frame (the motion stage's mel + phones)
    mouth_frames: int = 9  # video frames per window (0.36 s at 25 fps)
    audio_margin: int = 2  # video frames of audio beyond each side of the mouth's window
    fps: float = 25.0  # video frame rate the windows are cut at
    hidden: int = 96  # width of both encoders
    dim: int = 64  # embedding size
    temperature: float = 0.1  # InfoNCE temperature tau

    @property
    def audio_samples(self) -> int:
        """100 Hz feature frames in an audio window."""
        per = FRAMES_PER_SECOND / self.fps
        return int(round((self.mouth_frames - 1 + 2 * self.audio_margin) * per)) + 1


class SyncEmbedding(nn.Module):
    """audio (B, features, audio_samples), mouth (B, mouth_frames, DIM) -> unit embeddings (B, dim) each."""

    def __init__(self, config: SyncConfig) -> None:
        super().__init__()
        self.config = config
        h = config.hidden
        self.audio_net = nn.Sequential(
            nn.Conv1d(config.features, h, 3, padding=1), nn.GELU(),
            nn.Conv1d(h, h, 4, stride=2, padding=1), nn.GELU(),
            nn.Conv1d(h, h, 4, stride=2, padding=1), nn.GELU(),
            nn.AdaptiveAvgPool1d(4), nn.Flatten(), nn.Linear(4 * h, config.dim))
        self.mouth_net = nn.Sequential(
            nn.Conv1d(len(MOUTH_COLUMNS), h, 3, padding=1), nn.GELU(),
            nn.Conv1d(h, h, 3, padding=1), nn.GELU(),
            nn.AdaptiveAvgPool1d(4), nn.Flatten(), nn.Linear(4 * h, config.dim))

    def embed_audio(self, audio: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.audio_net(audio), dim=-1)

    def embed_mouth(self, mouth: torch.Tensor) -> torch.Tensor:
        """mouth (B, W, DIM): articulation relative to the speaker's rest (`frond.motion.articulation`),
        inter-ocular units; only the mouth's coordinates (`MOUTH_COLUMNS`) are looked at."""
        return F.normalize(self.mouth_net(mouth[..., MOUTH_COLUMNS].transpose(1, 2) * 10.0), dim=-1)

    def info_nce(self, audio: torch.Tensor, mouth: torch.Tensor) -> dict[str, torch.Tensor]:
        """Matching rows of audio (B, F, S) and mouth (B, W, DIM) are positives, every other row a negative.

        -> {"loss": symmetric InfoNCE, "accuracy": share of rows whose best match is their own}.
        """
        a, m = self.embed_audio(audio), self.embed_mouth(mouth)
        logits = a @ m.T / self.config.temperature
        target = torch.arange(len(a), device=a.device)
        loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
        return {"loss": loss, "accuracy": (logits.argmax(1) == target).float().mean()}

    def score(self, audio: torch.Tensor, mouth: torch.Tensor) -> torch.Tensor:
        """cos(audio, mouth) per row: (B,) in [-1, 1]."""
        return (self.embed_audio(audio) * self.embed_mouth(mouth)).sum(-1)


def sync_windows(mel: torch.Tensor, articulation: torch.Tensor, context: int, config: SyncConfig,
                 starts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut matching windows from motion-stage batches (`frond.train.data.MotionWindows`).

    mel (B, F, M) features at 100 Hz whose sample 4 (j + context) is video frame j of the window;
    articulation (B, W, DIM) relative to rest; starts (B, K) first video frame of each window
    (0 <= start, start + mouth_frames <= W, start - audio_margin + context >= 0).
    -> audio (B K, F, audio_samples), mouth (B K, mouth_frames, DIM).
    """
    per = int(round(FRAMES_PER_SECOND / config.fps))
    b, k = starts.shape
    offsets = torch.arange(config.audio_samples, device=mel.device)
    first = (starts + context - config.audio_margin) * per  # (B, K)
    index = (first[..., None] + offsets).clamp(0, mel.shape[-1] - 1)  # (B, K, S)
    audio = torch.gather(mel[:, None].expand(b, k, *mel.shape[1:]), 3,
                         index[:, :, None].expand(b, k, mel.shape[1], config.audio_samples))
    frames = (starts[..., None] + torch.arange(config.mouth_frames, device=mel.device)).clamp(0, articulation.shape[1] - 1)
    mouth = torch.gather(articulation[:, None].expand(b, k, *articulation.shape[1:]), 2,
                         frames[..., None].expand(b, k, config.mouth_frames, articulation.shape[-1]))
    return audio.reshape(b * k, mel.shape[1], -1), mouth.reshape(b * k, config.mouth_frames, -1)
