"""Several training processes (torchrun): the process group, loss averaging and sharded evaluation.

Every rank does the same work at the same steps: losses are averaged over ranks before
they are logged, and held-out evaluation is split across ranks (each evaluates its share of
the clips, the results are gathered and combined), so no rank waits on a long rank-0 pass.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from ..errors import FrondInputError


@dataclass
class Distributed:
    """This process's place in the run."""

    world: int = 1  # processes in the run
    rank: int = 0  # this process's index
    local_rank: int = 0  # its index on this machine (its GPU)

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
    """auto, cpu, cuda, cuda:N -> a torch device string (cuda:LOCAL_RANK under torchrun)."""
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


def mean_over_ranks(values: dict[str, torch.Tensor], dist: Distributed) -> dict[str, float]:
    """Scalars (one per name) -> their mean over all ranks (one all-reduce), as floats."""
    names = list(values)
    stacked = torch.stack([values[k].detach().float().reshape(()) for k in names])
    if dist.world > 1:
        import torch.distributed as tdist

        tdist.all_reduce(stacked, op=tdist.ReduceOp.SUM)
        stacked = stacked / dist.world
    return dict(zip(names, stacked.tolist()))


def combine_results(results: Sequence[dict | None]) -> dict | None:
    """Per-shard evaluation results -> one: numbers averaged with weights n_frames, n_frames summed.

    Exact for per-frame means (PSNR, SSIM) and for means over clips (a shard that reports its
    "clips" rows: the motion stage's correlations are averaged over every shard's clips)."""
    done = [r for r in results if r and r.get("n_frames")]
    if not done:
        return None
    total = sum(r["n_frames"] for r in done)
    out: dict = {"n_frames": total}
    per_clip = {name: row for r in done for name, row in r.get("clips", {}).items()}
    for key in done[0]:
        if key in ("n_frames", "n_clips") or not all(isinstance(r.get(key), (int, float)) for r in done):
            continue
        if per_clip and all(key in row for row in per_clip.values()):  # per-clip measures: the mean over all clips
            out[key] = round(float(sum(row[key] for row in per_clip.values()) / len(per_clip)), 5)
        else:
            out[key] = round(sum(r[key] * r["n_frames"] for r in done) / total, 5)
    if per_clip:
        out["clips"], out["n_clips"] = per_clip, len(per_clip)
    return out


def sharded(evaluate: Callable[[list], dict | None], items: list, dist: Distributed) -> dict | None:
    """Run `evaluate` on this rank's share of `items` (every world-th), gather every rank's result and
    combine them (`combine_results`); every rank returns the same."""
    mine = evaluate(items[dist.rank::dist.world]) if items[dist.rank::dist.world] else None
    if dist.world == 1:
        return combine_results([mine])
    import torch.distributed as tdist

    gathered: list = [None] * dist.world
    tdist.all_gather_object(gathered, mine)
    return combine_results(gathered)


def barrier(dist: Distributed) -> None:
    if dist.world > 1:
        import torch.distributed as tdist

        tdist.barrier()
