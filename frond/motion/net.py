"""Stage 2, audio-driven motion in a continuous trajectory space (FROND, Sec. III-B).

Level-normalised log-mel at 100 Hz (`frond.audio.mel`) -> two convolutions -> a strided
convolution down to the B-spline's control-point rate -> dilated residual convolutions
(receptive field about +-0.6 s: coarticulation, and the mouth moving before the sound)
-> per control point, the coefficients of the face's articulation in a PCA basis
learned from the training clips (`frond.motion.articulation`: jaw, cheeks, brows, lips; the
local stream) and, with `config.head`, the mean and log-spread of the head's pose (the global
stream, `frond.motion.global_stream`). The network predicts the *coefficients* of cubic
B-splines (`frond.motion.trajectory.UniformBSpline`), so its output is a function of time,
smooth by construction and stiffened by a P-spline penalty.

It hears audio only: no speaker conditioning, so it cannot memorise a voice's face.
Inference runs without torch (`frond.motion.learned` mirrors `forward` in numpy); a
test holds the two equal.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..audio.mel import FRAMES_PER_SECOND
from ..nn.config import MotionConfig
from .articulation import DIM, axis_gains, opening_of
from .global_stream import POSE_DIM, SPECTRUM_BINS, fit_unit_process
from .learned import downsample_geometry, n_phone_features
from .trajectory import UniformBSpline


class _Member(nn.Module):
    """One network of the ensemble: features (B, C, M) at 100 Hz -> coefficients (B, n, components)."""

    def __init__(self, config: MotionConfig) -> None:
        super().__init__()
        self.config = config
        h = config.hidden
        self.front = nn.ModuleList([nn.Conv1d(config.n_mels + n_phone_features(config), h, 3, padding=1),
                                    nn.Conv1d(h, h, 3, padding=1)])
        stride, kernel, _ = downsample_geometry(config.knot_hz)
        self.down = nn.Conv1d(h, h, kernel, stride=stride)
        self.blocks = nn.ModuleList([nn.Conv1d(h, h, 3, dilation=d, padding=d) for d in config.dilations])
        self.head = nn.Conv1d(h, config.components + (2 * POSE_DIM if config.head else 0), 1)
        self.act = nn.GELU(approximate="tanh")
        self.drop = nn.Dropout(config.dropout)
        nn.init.zeros_(self.head.bias)
        nn.init.normal_(self.head.weight, std=1e-3)

    def forward(self, x: torch.Tensor, n: int) -> torch.Tensor:
        m = x.shape[-1]
        for conv in self.front:
            x = self.act(conv(x))
        stride, kernel, left = downsample_geometry(self.config.knot_hz)
        right = max(0, stride * (n - 1) + kernel - left - m)
        x = self.act(self.down(F.pad(x, (left, right), mode="replicate")))[..., :n]
        for block in self.blocks:
            x = x + block(self.drop(self.act(x)))
        return self.head(x).transpose(1, 2)


class AudioMotionEstimator(nn.Module):
    """mel (B, n_mels, M) -> articulation B-spline coefficients (B, n, components).

    `config.members` networks of the same shape, started from different weights and each trained
    on its own loss: a deep ensemble (Lakshminarayanan et al. 2017) whose mean is the prediction.
    Buffers (fitted on the training clips before training, saved with the weights):
    `basis` (components, DIM) and `mean` (DIM,): the articulation PCA; `opening_direction`
    (DIM,): how a portrait's own opening maps to articulation.
    """

    def __init__(self, config: MotionConfig) -> None:
        super().__init__()
        self.config = config
        self.spline = UniformBSpline(config.knot_hz)
        self.members = nn.ModuleList([_Member(config) for _ in range(config.members)])
        self.register_buffer("basis", torch.zeros(config.components, DIM))
        self.register_buffer("mean", torch.zeros(DIM))
        self.register_buffer("opening_direction", torch.zeros(DIM))
        if config.head:  # the global stream's units and the real speakers' unit process (`fit_head`)
            self.register_buffer("head_scale", torch.ones(POSE_DIM))
            self.register_buffer("head_spectrum", torch.full((POSE_DIM, SPECTRUM_BINS), 1.0 / SPECTRUM_BINS))
            self.register_buffer("head_mix", torch.eye(POSE_DIM))

    def fit_space(self, articulations: list[np.ndarray], rests: list[np.ndarray]) -> dict[str, float]:
        """Fit the PCA basis and the opening regression on training clips' articulation (T, DIM) each.

        -> {"explained": share of the articulation variance the basis keeps}.
        """
        from .articulation import opening_regression

        data = np.concatenate(articulations).astype(np.float64)
        mean = data.mean(axis=0)
        _, s, vt = np.linalg.svd(data - mean, full_matrices=False)
        k = self.config.components
        direction = opening_regression(articulations, rests)
        basis = np.zeros((k, vt.shape[1]), np.float32)  # fewer frames than components: the rest stay 0
        basis[:min(k, len(vt))] = vt[:k]
        with torch.no_grad():
            self.basis.copy_(torch.from_numpy(basis))
            self.mean.copy_(torch.from_numpy(mean.astype(np.float32)))
            self.opening_direction.copy_(torch.from_numpy(direction))
        return {"explained": float((s[:k] ** 2).sum() / max((s ** 2).sum(), 1e-12))}

    def fit_head(self, tracks: list[np.ndarray]) -> dict[str, list[float]]:
        """Fit the global stream's units and unit process on training clips' head tracks (T, POSE_DIM) each
        (`frond.face.head.head_track`, at the control-point rate).

        -> {"scale": the per-axis unit: the median over clips of each track's spread}.
        """
        spreads = np.stack([np.asarray(t, np.float64).std(0) for t in tracks])
        scale = np.maximum(np.median(spreads, 0), 1e-3)
        spectrum, mix = fit_unit_process([np.asarray(t) / scale for t in tracks], self.config.knot_hz)
        with torch.no_grad():
            self.head_scale.copy_(torch.from_numpy(scale.astype(np.float32)))
            self.head_spectrum.copy_(torch.from_numpy(spectrum))
            self.head_mix.copy_(torch.from_numpy(mix))
        return {"scale": [round(float(v), 4) for v in scale]}

    def forward(self, mel: torch.Tensor, phones: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """mel (B, n_mels, M) at 100 frames/s (frame m at m / 100 s); phones (B, P, M) one-hot
        (`frond.audio.phones.phone_frames`), zeros or None when there are none.

        -> {"coefficients": (B, n, components) spline coefficients of the PCA coordinates (the
        ensemble's mean), "member_coefficients": (members, B, n, components), "knot_times": (n,)
        seconds, and with `config.head` "head": (B, n, 2 POSE_DIM) spline coefficients of the head
        pose's mean and log-spread, in `head_scale` units}, n = `spline.n_control((M - 1) / 100)`.
        """
        m = mel.shape[-1]
        n = self.spline.n_control((m - 1) / FRAMES_PER_SECOND)
        x = mel
        if n_phone_features(self.config):
            x = torch.cat([mel, phones if phones is not None else mel.new_zeros(mel.shape[0], n_phone_features(self.config), m)], 1)
        out = torch.stack([member(x, n) for member in self.members])  # (members, B, n, components [+ 2 POSE_DIM])
        each = out[..., :self.config.components]
        knots = torch.as_tensor(self.spline.knot_times(n), dtype=torch.float32, device=mel.device)
        result = {"coefficients": each.mean(0), "member_coefficients": each, "knot_times": knots}
        if self.config.head:
            result["head"] = out[..., self.config.components:].mean(0)
        return result

    def head_pose(self, head: torch.Tensor, times: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Head coefficients (B, n, 2 POSE_DIM) -> the pose's mean and log-spread (B, T, POSE_DIM) each at
        `times` (T,) seconds, in `head_scale` units."""
        basis = torch.as_tensor(self.spline.basis(times.detach().cpu().numpy(), head.shape[1]), dtype=torch.float32,
                                device=head.device)
        values = torch.einsum("tn,bnk->btk", basis, head.float())
        return values[..., :POSE_DIM], values[..., POSE_DIM:]

    def articulation(self, coefficients: torch.Tensor, times: torch.Tensor, stiffness: float | None = None,
                     gain: float = 1.0, width_gain: float | None = None) -> torch.Tensor:
        """Coefficients (B, n, components) -> articulation (B, T, DIM) at `times` (T,) seconds.

        The P-spline stiffness (default: the config's) smooths the coefficients first, then
        the spline is sampled and mapped out of the PCA basis; `gain` scales the articulation
        around the mean, its horizontal coordinates by `width_gain` instead when given. Training
        uses 1; the calibrated `config.gain` and `config.width_gain` are for inference
        (`frond.motion.learned`), so that they are not learned away.
        """
        n = coefficients.shape[1]
        lam = self.config.stiffness if stiffness is None else stiffness
        c = coefficients.float()
        if lam > 0 and n >= 3:
            system = torch.as_tensor(self.spline.stiffness_system(n, lam), dtype=torch.float32, device=c.device)
            c = torch.linalg.solve(system, c)
        basis = torch.as_tensor(self.spline.basis(times.detach().cpu().numpy(), n), dtype=torch.float32, device=c.device)
        pca = torch.einsum("tn,bnk->btk", basis, c)
        return self.mean + torch.from_numpy(axis_gains(gain, width_gain)).to(c.device) * (pca @ self.basis)


def opening(articulation: torch.Tensor, rest: torch.Tensor) -> torch.Tensor:
    """Inner-lip gap of articulation (B, T, DIM) on rest shapes (B, DIM) -> (B, T), inter-ocular units."""
    return opening_of(articulation + rest[:, None])
