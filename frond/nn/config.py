"""Configuration of the learned FROND networks, one dataclass per module.

`FrondConfig` is what `FrondModel.save_pretrained` writes to `config.json` (through
`huggingface_hub.PyTorchModelHubMixin`) and what `from_pretrained` reads back; the
nested module configs are rebuilt from plain dicts in `__post_init__`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from dataclasses import field as dc_field
from typing import Any

N_KEYPOINTS = 68  # iBUG-68 layout, shared with the training-free path
STAGES = ("render", "motion")  # what `python -m frond train --stage` can train


@dataclass
class EncoderConfig:
    """Two-stream encoder (keypoints + global code)."""

    n_keypoints: int = N_KEYPOINTS  # keypoints per face (iBUG-68)
    image_size: int = 64  # the local stream looks at the source at this side
    channels: int = 32  # width of the local stream's CNN
    kp_features: int = 16  # per-keypoint feature size C_k (local stream)
    global_dim: int = 32  # size G of the global code (global stream)
    hidden: int = 64  # width of the global stream's point MLP


@dataclass
class MotionConfig:
    """Audio -> continuous-time motion: the face's articulation (B-spline coefficients in a PCA basis, the
    local stream) and, with `head`, the head's pose (the global stream: a mean and a spread per pose axis)."""

    n_mels: int = 80  # log-mel bands (librosa), 16 kHz, 10 ms hop, levels relative to the clip's loud speech
    phone_features: str = "onehot"  # what it also hears of pocketsphinx's phones: "onehot" (40 phones), "visemes" (the prior's 4 mouth channels), "none"
    knot_hz: float = 25.0  # control points per second of the cubic B-spline (must divide 100)
    hidden: int = 96  # width of the convolutions
    dilations: tuple[int, ...] = (1, 2, 4, 8)  # dilated residual convolutions at the control-point rate
    components: int = 12  # PCA components of the articulation the network predicts
    members: int = 1  # networks in the ensemble (each trained on its own loss; the prediction is their mean)
    dropout: float = 0.1  # dropout inside the residual blocks (training only)
    stiffness: float = 1.0  # default P-spline penalty weight (second differences of coefficients)
    gain: float = 1.25  # articulation scale around the mean at inference: the rendered, re-detected mouth moves ~0.65 as much as its keypoints (folds: gain 1 -> r 0.353, amplitude 0.65; 1.5 -> 0.338, 0.84)
    lead: float = 0.0  # seconds the mouth is moved earlier at inference (calibrated on the folds: 0 and 20 ms tie)
    pause_gate: float = 0.15  # speech-envelope level (0..1) under which the mouth rests at inference; 0: off
    prior_weight: float = 0.3  # share of the training-free prior's phone-driven mouth blended in at inference
    head: bool = True  # also predict the head's pose (mean and spread of its 5 axes per control point)
    head_gain: float = 1.0  # scale of the head's motion at inference (calibrated on the folds against the real speakers' spread)
    yaw_gain: float = 1.0  # the head's turn (yaw) scaled again, on top of `head_gain` (calibrated on the folds)
    facing_slope: tuple[float, ...] = (0.0,) * 5  # per pose axis, how the head's motion grows per degree of the portrait's turn (calibrated on the folds; `global_stream.facing_gain`)
    facing_pivot: float = 0.0  # degrees: the portrait's turn at which that factor is 1
    mouth_scale: float = 1.0  # multiplies the mouth at inference, as `lip_scale` does (calibrated: the rendered mouth's spread against the real speakers')
    brow_gain: float = 1.0  # multiplies the brows at inference, as `expression` does: the network's and the emphasis raise (calibrated: their spread against the real speakers')
    width_gain: float | None = 1.0  # scale of the articulation's horizontal coordinates at inference (None: `gain`); `gain` then scales the vertical ones only


@dataclass
class FieldConfig:
    """Dense motion field (local keypoint motions + global affine, fused by a hourglass)."""

    resolution: int = 64  # side of the grid where the fusion weights are predicted
    channels: int = 64  # base width of the hourglass
    depth: int = 3  # down/up-sampling levels of the hourglass
    sigma: float = 0.06  # width of the keypoint heatmaps, normalised crop units
    splat_features: int = 8  # keypoint features splatted into the hourglass input
    keypoint_motion: str = "affine"  # per-keypoint motion: "translation" (zero order), "affine" (first order), "tps" (affine + a TPS candidate)
    neighbours: int = 6  # first order: landmarks in each keypoint's local affine fit


@dataclass
class DecoderConfig:
    """Implicit image decoder (LIIF-style)."""

    channels: int = 64  # width of the source encoder at the latent grid (coarser levels double it)
    latent: int = 64  # size of the latent code at each feature cell
    res_blocks: int = 3  # residual blocks refining the warped features (inpaint the mouth)
    mlp_hidden: int = 96  # width of the implicit MLP
    mlp_layers: int = 3  # hidden layers of the implicit MLP
    local_ensemble: bool = True  # LIIF local ensemble over the 4 nearest latents
    downsample: int = 2  # latent grid = training resolution / downsample
    levels: int = 3  # scales of the occlusion-masked encoder-decoder under the implicit head (1: single scale)
    max_channels: int = 256  # width cap of the encoder-decoder's coarser levels


KEYPOINT_MOTIONS = ("translation", "affine", "tps")
# Values a config.json written before a field existed meant (read back when the key is missing)
LEGACY: dict[str, dict[str, Any]] = {"field": {"keypoint_motion": "translation"}, "decoder": {"levels": 1},
                                    "motion": {"phone_features": "none", "pause_gate": 0.0, "prior_weight": 0.0, "gain": 1.0,
                                               "width_gain": None, "head": False, "components": 8}}


@dataclass
class FrondConfig:
    """The whole learned model."""

    encoder: EncoderConfig = dc_field(default_factory=EncoderConfig)
    motion: MotionConfig = dc_field(default_factory=MotionConfig)
    field: FieldConfig = dc_field(default_factory=FieldConfig)
    decoder: DecoderConfig = dc_field(default_factory=DecoderConfig)
    image_size: int = 256  # training resolution of the render stage (the decoder renders any size)
    trained_stages: list[str] = dc_field(default_factory=list)  # which of "render", "motion" carry trained weights
    training: dict[str, Any] = dc_field(default_factory=dict)  # per stage: steps, data, measured metrics (for the model card)

    def __post_init__(self) -> None:
        for name, cls in (("encoder", EncoderConfig), ("motion", MotionConfig),
                          ("field", FieldConfig), ("decoder", DecoderConfig)):
            value = getattr(self, name)
            if isinstance(value, dict):
                known = {f.name for f in fields(cls)}
                value = {**LEGACY.get(name, {}), **value}
                kwargs: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in value.items() if k in known}
                setattr(self, name, cls(**kwargs))
        if self.field.keypoint_motion not in KEYPOINT_MOTIONS:
            raise ValueError(f"field.keypoint_motion must be one of {KEYPOINT_MOTIONS}, got {self.field.keypoint_motion!r}")
        if self.decoder.levels < 1:
            raise ValueError(f"decoder.levels must be >= 1, got {self.decoder.levels}")
        self.trained_stages = [s for s in STAGES if s in set(self.trained_stages)]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FrondConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def small(cls, image_size: int = 128) -> "FrondConfig":
        """A CPU-friendly model: narrower field, two decoder scales, no local ensemble."""
        return cls(
            field=FieldConfig(channels=16, depth=3),
            decoder=DecoderConfig(channels=32, latent=32, res_blocks=2, mlp_hidden=48, mlp_layers=2,
                                  local_ensemble=False, levels=2),
            image_size=image_size,
        )

    @classmethod
    def tiny(cls, image_size: int = 64) -> "FrondConfig":
        """A very small model for tests and CPU smoke runs."""
        return cls(
            encoder=EncoderConfig(image_size=32, channels=8, kp_features=8, global_dim=8, hidden=16),
            motion=MotionConfig(n_mels=40, hidden=32, dilations=(1, 2), members=2),
            field=FieldConfig(resolution=32, channels=8, depth=2, splat_features=4),
            decoder=DecoderConfig(channels=16, latent=16, res_blocks=1, mlp_hidden=32, mlp_layers=2, levels=2),
            image_size=image_size,
        )
