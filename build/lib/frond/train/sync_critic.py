"""Train the sync embedding (`frond.motion.sync_net`) on the motion stage's training clips, then freeze it
and use it as the motion stage's sync critic (`SyncCritic`, the "sync_embed" loss term).

Each step draws motion windows (`data.MotionWindows`: augmented audio, the measured mouth), cuts
`per_window` short windows at random starts from each, and trains InfoNCE over all of them: the
other speakers' windows and the same clip a few frames off are the negatives.
"""
from __future__ import annotations

import time
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..motion.sync_net import SyncConfig, SyncEmbedding, sync_windows
from .data import MotionWindows


def _features(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The motion stage's input: mel (B, n_mels, M) and, when present, phones (B, P, M) -> (B, F, M)."""
    return torch.cat([batch["mel"], batch["phones"]], 1) if "phones" in batch else batch["mel"]


def _starts(batch_size: int, per_window: int, window: int, config: SyncConfig, generator: torch.Generator) -> torch.Tensor:
    """(B, K) random window starts that keep the mouth inside the window."""
    return torch.randint(0, window - config.mouth_frames + 1, (batch_size, per_window), generator=generator)


def train_sync(dataset: MotionWindows, steps: int = 600, batch: int = 32, per_window: int = 2, lr: float = 1e-3,
               seed: int = 0, device: str = "cpu", log: Callable[[str], None] | None = None) -> tuple[SyncEmbedding, dict[str, float]]:
    """-> (the frozen embedding, {"loss", "accuracy", "chance", "seconds"}) after `steps` steps."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    first = dataset[0]
    config = SyncConfig(features=_features({k: v[None] for k, v in first.items()}).shape[1])
    model = SyncEmbedding(config).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    recent: list[tuple[float, float]] = []
    for step in range(steps):
        items = [dataset[int(i)] for i in rng.integers(0, len(dataset), batch)]
        b = {k: torch.stack([it[k] for it in items]).to(device) for k in items[0]}
        starts = _starts(batch, per_window, dataset.window, config, generator).to(device)
        audio, mouth = sync_windows(_features(b), b["articulation"], dataset.context, config, starts)
        out = model.info_nce(audio, mouth)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt.step()
        recent = (recent + [(out["loss"].item(), out["accuracy"].item())])[-50:]
        if log is not None and (step + 1) % 100 == 0:
            log(f"sync embedding step {step + 1}/{steps}: InfoNCE {np.mean([r[0] for r in recent]):.3f}, "
                f"top-1 {np.mean([r[1] for r in recent]):.2f} (chance {1 / (batch * per_window):.3f})")
    model.eval().requires_grad_(False)
    return model, {"loss": float(np.mean([r[0] for r in recent])), "accuracy": float(np.mean([r[1] for r in recent])),
                   "chance": 1 / (batch * per_window), "seconds": time.perf_counter() - t0}


class SyncCritic(nn.Module):
    """The frozen embedding as a loss: batch + predicted articulation (B, W, DIM) -> mean 1 - cos over
    `per_window` random windows per item (gradients reach the prediction only)."""

    def __init__(self, embedding: SyncEmbedding, context: int, per_window: int = 4, seed: int = 0) -> None:
        super().__init__()
        self.embedding, self.context, self.per_window = embedding, context, per_window
        self.generator = torch.Generator().manual_seed(seed)

    def forward(self, batch: dict[str, torch.Tensor], articulation: torch.Tensor) -> torch.Tensor:
        config = self.embedding.config
        starts = _starts(articulation.shape[0], self.per_window, articulation.shape[1], config, self.generator)
        audio, mouth = sync_windows(_features(batch), articulation.float(), self.context, config,
                                    starts.to(articulation.device))
        return (1 - self.embedding.score(audio, mouth)).mean()
