"""Held-out evaluation of the learned stages on prepared clips.

render: the clip's first frame is the source; held-out frames (the clips of held-out
speakers, or the last part of each clip with the time split; never frame 0 itself) are
reconstructed from their measured keypoints; PSNR / SSIM on the crop, next to the "copy the
source frame" baseline.
motion: the first frame's keypoints are the source; the held-out span's keypoints are
predicted from its audio; keypoint L1 (normalised crop units), mouth L1 and the
correlation of the mouth opening with the real one, next to the "still face" baseline.
"""
from __future__ import annotations

import numpy as np
import torch

from ..models.frond_model import FrondModel
from ..models.geometry import MOUTH, mouth_open
from .data import PreparedClip, motion_window, pair
from .losses import psnr, ssim


@torch.no_grad()
def evaluate_render(model: FrondModel, clips: list[PreparedClip], image_size: int, holdout: float = 0.2,
                    device: str = "cpu", max_frames: int = 16, batch: int = 8) -> dict[str, float]:
    """-> {"psnr", "ssim", "psnr_copy_source", "ssim_copy_source", "n_frames"} over held-out frames."""
    model.eval()
    scores = {"psnr": [], "ssim": [], "psnr_copy_source": [], "ssim_copy_source": []}
    for clip in clips:
        held = clip.split(holdout)[1]
        held = held[held != 0]  # frame 0 is the source: scoring it would score a copy
        if len(held) > max_frames:
            held = held[np.linspace(0, len(held) - 1, max_frames).round().astype(int)]
        for i in range(0, len(held), batch):
            items = [pair(clip, 0, int(f), image_size) for f in held[i:i + batch]]
            b = {k: torch.stack([it[k] for it in items]).to(device) for k in items[0]}
            out = model.reconstruct(b["source"], b["source_kp"], b["source_pose"], b["driving_kp"], b["driving_pose"])
            pred = out["image"].float().clamp(-1, 1)
            scores["psnr"] += psnr(pred, b["driving"]).tolist()
            scores["ssim"] += ssim(pred, b["driving"]).tolist()
            scores["psnr_copy_source"] += psnr(b["source"], b["driving"]).tolist()
            scores["ssim_copy_source"] += ssim(b["source"], b["driving"]).tolist()
    result = {k: round(float(np.mean(v)), 4) for k, v in scores.items()}
    result["n_frames"] = len(scores["psnr"])
    return result


@torch.no_grad()
def evaluate_motion(model: FrondModel, clips: list[PreparedClip], holdout: float = 0.2,
                    device: str = "cpu") -> dict[str, float]:
    """-> {"kp_l1", "mouth_l1", "open_corr", "kp_l1_still", "mouth_l1_still", "n_frames"} over held-out spans."""
    model.eval()
    rows = {"kp_l1": [], "mouth_l1": [], "kp_l1_still": [], "mouth_l1_still": []}
    opens_pred, opens_real = [], []
    for clip in clips:
        held = clip.split(holdout)[1]
        window = min(len(held), int(clip.audio.size / 16000 * clip.fps) - int(held[0]))
        if window < 4:
            continue
        item = motion_window(clip, int(held[0]), window, model.config.motion.n_mels, 0)
        b = {k: v[None].to(device) for k, v in item.items()}
        out = model.predict_motion(b["mel"], b["source_kp"], b["source_pose"], b["times"][0])
        pred, real = out["keypoints"][0].float().cpu().numpy(), item["keypoints"].numpy()
        still = np.broadcast_to(item["source_kp"].numpy(), real.shape)
        err = lambda p: np.abs(p - real).sum(-1)  # noqa: E731
        rows["kp_l1"].append(err(pred).mean())
        rows["mouth_l1"].append(err(pred)[:, MOUTH].mean())
        rows["kp_l1_still"].append(err(still).mean())
        rows["mouth_l1_still"].append(err(still)[:, MOUTH].mean())
        opens_pred.append(mouth_open(pred))
        opens_real.append(mouth_open(real))
    if not opens_pred:
        return {"n_frames": 0}
    result = {k: round(float(np.mean(v)), 5) for k, v in rows.items()}
    p, r = np.concatenate(opens_pred), np.concatenate(opens_real)
    result["open_corr"] = round(float(np.corrcoef(p, r)[0, 1]) if p.std() > 1e-8 else 0.0, 4)
    result["n_frames"] = int(p.size)
    return result
