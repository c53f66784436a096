"""Perceptual loss over an image pyramid with VGG19 features (render stage).

L_perc = sum_s sum_i w_i |N_i(D_s(I_hat)) - N_i(D_s(I))|_1 (Johnson et al. 2016, eq. 2, over
the pyramid of FOMM, Siarohin et al. 2019, Sec. 3.4): N_i are the relu1_1 ... relu5_1
activations of VGG19 (Simonyan & Zisserman 2015) on ImageNet-normalised colours, D_s
downsamples by s in {1, 1/2, 1/4, 1/8}; each |.|_1 is a mean.

The network is built here in plain torch with torchvision's layer numbering
(`features.0.weight` ... `features.28.bias`), so a torchvision or timm VGG19 checkpoint in
safetensors loads as is. Weights come from, in order: an explicit file, $FROND_VGG19_WEIGHTS,
or the local Hugging Face cache of `timm/vgg19.tv_in1k` (never downloaded implicitly, never a
pickle). With none, `find_vgg19_weights` says why and the loss is off.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

HUB_REPO = "timm/vgg19.tv_in1k"  # torchvision's ImageNet VGG19, converted to safetensors by timm
HUB_FILE = "model.safetensors"
ENV = "FROND_VGG19_WEIGHTS"
VGG19_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512)  # up to conv5_1
SLICES = ((0, 2), (2, 7), (7, 12), (12, 21), (21, 30))  # features[a:b] end at relu1_1 .. relu5_1
MEAN = (0.485, 0.456, 0.406)  # ImageNet colour statistics of the torchvision weights
STD = (0.229, 0.224, 0.225)
MIN_SIDE = 32  # pyramid levels smaller than this are skipped (relu5_1 is at 1/16)


def vgg19_features() -> nn.Sequential:
    """VGG19's convolutional layers up to relu5_1 (indices as torchvision's `vgg19().features[:30]`)."""
    layers: list[nn.Module] = []
    cin = 3
    for v in VGG19_LAYOUT:
        if isinstance(v, str):  # "M"
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=False)]
            cin = v
    return nn.Sequential(*layers)


@dataclass(frozen=True)
class WeightsLookup:
    """Where VGG19 weights were found, or why not."""

    path: Path | None  # a safetensors file, or None
    reason: str  # where they came from, or why the perceptual loss is off


def find_vgg19_weights(spec: str = "auto") -> WeightsLookup:
    """spec: "auto" ($FROND_VGG19_WEIGHTS, then the Hub cache), "off", a .safetensors path, or a Hub
    repo id whose `model.safetensors` is downloaded (an explicit request; safetensors only)."""
    if spec == "off":
        return WeightsLookup(None, "perceptual loss off (--perceptual off)")
    if spec == "auto":
        env = os.environ.get(ENV, "").strip()
        if env:
            return find_vgg19_weights(env)
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(HUB_REPO, HUB_FILE)
        if isinstance(cached, str) and os.path.isfile(cached):
            return WeightsLookup(Path(cached), f"VGG19 from the Hub cache ({HUB_REPO})")
        return WeightsLookup(None, f"perceptual loss off: no VGG19 weights (pass --perceptual FILE.safetensors, "
                                   f"set {ENV}, or put {HUB_REPO} in the Hugging Face cache)")
    path = Path(spec).expanduser()
    if path.is_file():
        if path.suffix != ".safetensors":
            raise ValueError(f"VGG19 weights must be a .safetensors file (no pickles), got {path}")
        return WeightsLookup(path, f"VGG19 from {path}")
    if spec.count("/") == 1 and not spec.startswith((".", "/")):
        from huggingface_hub import hf_hub_download

        return WeightsLookup(Path(hf_hub_download(spec, HUB_FILE)), f"VGG19 from the Hub ({spec})")
    raise ValueError(f"VGG19 weights not found: {spec!r} is neither a .safetensors file nor a Hub repo id")


def load_vgg19(path: str | Path) -> nn.Sequential:
    """The frozen feature extractor with weights from a safetensors file (keys `features.N.*`, as
    torchvision and timm name them; a file of just the features without the prefix works too)."""
    from safetensors.torch import load_file

    net = vgg19_features()
    state = load_file(str(path))
    wanted = net.state_dict().keys()
    state = {k.removeprefix("features."): v for k, v in state.items()}
    missing = [k for k in wanted if k not in state]
    if missing:
        raise ValueError(f"{path} is not a VGG19 checkpoint: it lacks {', '.join(missing[:3])} ...")
    net.load_state_dict({k: state[k] for k in wanted})
    return net.eval().requires_grad_(False)


class PerceptualLoss(nn.Module):
    """(B, 3, H, W) images in [-1, 1], prediction and target -> the pyramid VGG19 loss, a scalar."""

    mean: torch.Tensor  # (1, 3, 1, 1) buffers: ImageNet's normalisation
    std: torch.Tensor

    def __init__(self, vgg: nn.Sequential, scales: tuple[float, ...] = (1.0, 0.5, 0.25, 0.125),
                 layer_weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0)) -> None:
        super().__init__()
        self.slices = nn.ModuleList(vgg[a:b] for a, b in SLICES)
        self.scales, self.layer_weights = scales, layer_weights
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)

    def train(self, mode: bool = True) -> "PerceptualLoss":
        return super().train(False)  # always the frozen network

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(B, 3, H, W) in [-1, 1] -> relu1_1 ... relu5_1 activations."""
        x = ((x + 1) / 2 - self.mean) / self.std
        out = []
        for block in self.slices:
            x = block(x)
            out.append(x)
        return out

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total, levels = pred.new_zeros((), dtype=torch.float32), 0
        side = min(pred.shape[-2:])
        both = torch.cat([pred, target.detach()], dim=0)
        for s in self.scales:
            if side * s < MIN_SIDE and levels:
                continue
            x = both if s == 1 else F.interpolate(both, scale_factor=s, mode="bilinear", align_corners=False,
                                                  antialias=True)
            for w, f in zip(self.layer_weights, self.features(x)):
                fp, ft = f.float().chunk(2, dim=0)
                total = total + w * (fp - ft.detach()).abs().mean()
            levels += 1
        return total / levels
