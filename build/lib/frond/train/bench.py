"""Speed of the learned model: training steps/s and inference frames/s (field + decoder).

`python -m frond.train.bench [cuda|cpu]` prints the numbers as JSON; `scripts/gpu_check.py`
runs it with the trained model's configuration.

`benchmark("cuda")` runs batched bf16 autocast on a GPU; on CPU use a tiny batch (the
test does). Inputs are random; what is timed is the work of one training step of the
render stage and of rendering frames from a prepared source.
"""
from __future__ import annotations

import time

import torch

from ..nn.config import FrondConfig
from ..weights.model import FrondModel
from .losses import render_losses


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _seconds_per_call(fn, device: str, warmup: int, iters: int) -> float:
    """Mean seconds of fn() over `iters` calls after `warmup` untimed ones, device work included."""
    for _ in range(warmup):
        fn()
    _sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    _sync(device)
    return (time.perf_counter() - start) / iters


def _inputs(batch: int, size: int, device: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    img = (torch.rand(batch, 3, size, size, generator=g) * 2 - 1).to(device)
    kp = (torch.rand(batch, 68, 2, generator=g) * 1.2 - 0.6).to(device)
    drv = kp + 0.02 * torch.randn(batch, 68, 2, generator=g).to(device)
    pose = torch.zeros(batch, 3, device=device)
    return img, kp, drv, pose


def _train_seconds(model: FrondModel, img: torch.Tensor, kp: torch.Tensor, drv: torch.Tensor, pose: torch.Tensor,
                   device: str, warmup: int, iters: int) -> float:
    """Seconds per training step of the render stage (bf16 autocast on CUDA)."""
    amp = device.startswith("cuda")
    opt = torch.optim.AdamW([p for n, p in model.named_parameters() if not n.startswith("motion.")], lr=1e-4)

    def train_step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            out = model.reconstruct(img, kp, pose, drv, pose)
        loss = render_losses(out["image"], img, {"l1": 1.0, "ssim": 0.5, "grad": 0.5})["total"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.train()
    return _seconds_per_call(train_step, device, warmup, iters)


def _render_seconds(model: FrondModel, img: torch.Tensor, kp: torch.Tensor, drv: torch.Tensor, pose: torch.Tensor,
                    device: str, warmup: int, iters: int) -> float:
    """Seconds per batch of frames (field + decoder) from a source prepared once."""
    amp = device.startswith("cuda")
    batch, size = img.shape[0], img.shape[-1]
    model.eval()
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
        enc = model.encoder(img[:1], kp[:1], pose[:1])
        feats = [f.expand(batch, -1, -1, -1) for f in model.decoder.encode_source(img[:1])]
        src = img[:1].expand(batch, -1, -1, -1)
        rep = lambda x: x.expand(batch, *x.shape[1:])  # noqa: E731

        def render() -> torch.Tensor:
            code = model.encoder.global_code(drv, pose)
            fld = model.field(src, rep(kp[:1]), drv, rep(enc["kp_features"]), rep(enc["global_code"]), code, (size, size))
            return model.decoder(src, fld["grid"], fld["occlusion"], source_features=feats)["image"]

        return _seconds_per_call(render, device, warmup, iters)


def benchmark(device: str, sizes=(256, 512), batch: int = 32, config: FrondConfig | None = None,
              warmup: int = 2, iters: int = 5, train: bool = True) -> dict:
    """-> {"device", "batch", "params": {...}, "sizes": {size: {"train_steps_per_s", "train_frames_per_s",
    "infer_frames_per_s", "peak_memory_gb"}}}; train=False times inference only (train_* are None)."""
    amp = device.startswith("cuda")
    results: dict = {"device": device, "batch": batch, "bf16_autocast": amp, "sizes": {}}
    for size in sizes:
        model = FrondModel(config or FrondConfig(image_size=size)).to(device)
        results["params"] = model.n_parameters()
        img, kp, drv, pose = _inputs(batch, size, device)
        if amp:
            torch.cuda.reset_peak_memory_stats()
        train_s = _train_seconds(model, img, kp, drv, pose, device, warmup, iters) if train else None
        infer_s = _render_seconds(model, img, kp, drv, pose, device, warmup, iters)
        results["sizes"][size] = {
            "train_steps_per_s": round(1.0 / train_s, 3) if train_s else None,
            "train_frames_per_s": round(batch / train_s, 2) if train_s else None,
            "infer_frames_per_s": round(batch / infer_s, 2),
            "peak_memory_gb": round(torch.cuda.max_memory_allocated() / 2 ** 30, 2) if amp else None,
        }
        del model  # the next size starts with the memory free
    return results


if __name__ == "__main__":
    import json
    import sys

    dev = sys.argv[1] if len(sys.argv) > 1 else ("cuda" if torch.cuda.is_available() else "cpu")
    print(json.dumps(benchmark(dev) if dev.startswith("cuda") else benchmark(dev, sizes=(128,), batch=2), indent=2))
