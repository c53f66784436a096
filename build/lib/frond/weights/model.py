"""`FrondModel`: the four learned modules in one `nn.Module`, saved and loaded with
`huggingface_hub.PyTorchModelHubMixin` (safetensors weights + config.json + model card).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import PyTorchModelHubMixin, hf_hub_download
from torch import nn

from ..decoder.net import ImplicitDecoder
from ..encoder.net import TwoStreamEncoder
from ..errors import FrondInputError
from ..field.net import DenseMotionField
from ..hub import weights_folder
from ..motion.net import AudioMotionEstimator
from ..nn.config import FrondConfig
from .card import MODEL_CARD_TEMPLATE

WEIGHTS_NAME = "model.safetensors"


class FrondModel(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="frond",
    tags=["talking-face", "lip-sync", "frond"],
    paper_url="https://doi.org/10.1109/TIP.2023.3323452",
    model_card_template=MODEL_CARD_TEMPLATE,
):
    """Encoder + motion estimator + dense field + implicit decoder.

    `config` is a `FrondConfig` (or its dict, as read from config.json). Which modules
    carry trained weights is `config.trained_stages` ("render": encoder, field, decoder;
    "motion": motion estimator).
    """

    def __init__(self, config: FrondConfig | dict | None = None) -> None:
        super().__init__()
        if config is None:
            config = FrondConfig()
        elif isinstance(config, dict):
            config = FrondConfig.from_dict(config)
        self.config = config
        self._hub_mixin_config = config
        enc = config.encoder
        self.encoder = TwoStreamEncoder(enc)
        self.motion = AudioMotionEstimator(config.motion)
        self.field = DenseMotionField(config.field, enc.n_keypoints, enc.kp_features, enc.global_dim)
        self.decoder = ImplicitDecoder(config.decoder, config.image_size)

    # --- the two training objectives' forward passes ------------------------------------
    def reconstruct(
        self,
        source_image: torch.Tensor,
        source_keypoints: torch.Tensor,
        source_pose: torch.Tensor,
        driving_keypoints: torch.Tensor,
        driving_pose: torch.Tensor,
        out_hw: tuple[int, int] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Render the driving frame from the source (stage "render").

        source_image (B, 3, H, W) in [-1, 1]; keypoints (B, K, 2); poses (B, 3) degrees.
        -> {"image": (B, 3, H', W'), "grid": (B, H', W', 2), "occlusion": (B, H', W'),
        "blend", "warped", "weights", "global_code": (B, G), "driving_code": (B, G)}.
        """
        height, width = out_hw or source_image.shape[-2:]
        out_hw = (int(height), int(width))
        enc = self.encoder(source_image, source_keypoints, source_pose)
        driving_code = self.encoder.global_code(driving_keypoints, driving_pose)
        fld = self.field(source_image, source_keypoints, driving_keypoints, enc["kp_features"],
                         enc["global_code"], driving_code, out_hw)
        dec = self.decoder(source_image, fld["grid"], fld["occlusion"])
        return {**fld, **dec, "global_code": enc["global_code"], "driving_code": driving_code}

    def predict_motion(self, mel: torch.Tensor, times: torch.Tensor, stiffness: float | None = None,
                       phones: torch.Tensor | None = None, gain: float = 1.0,
                       width_gain: float | None = None) -> dict[str, torch.Tensor]:
        """Audio -> the mouth's articulation sampled at `times` (stage "motion").

        mel (B, n_mels, M) level-normalised log-mel (`frond.audio.mel.speech_mel`); times (T,) seconds;
        phones (B, P, M) one-hot phone features or None; gain: the articulation's scale (1 in training),
        width_gain: its horizontal coordinates' scale (None: gain).
        -> {"articulation": (B, T, DIM) (`frond.motion.articulation`), "coefficients": (B, n, components),
        "knot_times": (n,)}.
        """
        out = self.motion(mel, phones)
        return {**out, "articulation": self.motion.articulation(out["coefficients"], times, stiffness, gain, width_gain)}

    def stage_modules(self) -> dict[str, list[nn.Module]]:
        """Which modules each trainable stage owns."""
        return {"render": [self.encoder, self.field, self.decoder], "motion": [self.motion]}

    # --- hub mixin ----------------------------------------------------------------------
    def save_pretrained(self, save_directory: str | Path, **kwargs: Any):
        """Write model.safetensors, config.json (with `trained_stages`) and a fresh model card."""
        save_directory = Path(save_directory)
        (save_directory / "README.md").unlink(missing_ok=True)
        kwargs["config"] = self.config.to_dict()
        card = dict(kwargs.pop("model_card_kwargs", None) or {})
        kwargs["model_card_kwargs"] = {**self._card_fields(), **card}
        return super().save_pretrained(save_directory, **kwargs)

    def _card_fields(self) -> dict[str, Any]:
        tr = self.config.training
        stages = self.config.trained_stages
        lines = []
        for stage in stages:
            info = tr.get(stage, {})
            lines.append(f"- stage `{stage}`: " + ", ".join(f"{k}={v}" for k, v in info.items()
                                                           if k not in ("metrics", "data", "folds", "provenance")))
        metrics = [f"- `{s}`: {json.dumps(tr[s]['metrics'])}" for s in stages if tr.get(s, {}).get("metrics")]
        data = sorted({str(tr[s]["data"]) for s in stages if tr.get(s, {}).get("data")})
        return {
            "folds_text": "\n\n".join(str(tr[s]["folds"]) for s in stages if tr.get(s, {}).get("folds")),
            "provenance_text": "\n\n".join(str(tr[s]["provenance"]) for s in stages if tr.get(s, {}).get("provenance")),
            "stages_text": ", ".join(stages) if stages else "none (untrained)",
            "n_params": f"{sum(p.numel() for s in stages for m in self.stage_modules()[s] for p in m.parameters()):,}"
                        + (" (the trained stages')" if stages else ""),
            "training_text": "\n".join(lines),
            "metrics_text": "\n".join(metrics),
            "training_data": "\n".join(f"- {d}" for d in data),
        }

    def _save_pretrained(self, save_directory: Path) -> None:
        """Write the trained stages' tensors only (an untrained stage's random weights are not worth shipping)."""
        import safetensors.torch

        trained = {id(m) for stage in self.config.trained_stages for m in self.stage_modules()[stage]}
        prefixes = tuple(f"{name}." for name, m in self.named_children() if id(m) in trained or not self.config.trained_stages)
        state = {k: v.detach().contiguous() for k, v in self.state_dict().items() if k.startswith(prefixes)}
        safetensors.torch.save_file(state, str(Path(save_directory) / WEIGHTS_NAME), metadata={"format": "pt"})

    @classmethod
    def _from_pretrained(cls, *, model_id: str, revision, cache_dir, force_download, local_files_only,
                         token, map_location: str = "cpu", strict: bool = True, **model_kwargs):
        """Load safetensors weights only (never a pickle): every tensor of the trained stages must be there."""
        import safetensors.torch

        model = cls(**model_kwargs)
        if os.path.isdir(model_id):
            model_file = os.path.join(model_id, WEIGHTS_NAME)
        else:
            model_file = hf_hub_download(repo_id=model_id, filename=WEIGHTS_NAME, revision=revision,
                                         cache_dir=cache_dir, force_download=force_download, token=token,
                                         local_files_only=local_files_only)
        state = safetensors.torch.load_file(model_file, device=map_location)
        missing, unexpected = model.load_state_dict(state, strict=False)
        needed = tuple(f"{name}." for name, m in model.named_children()
                       if any(m is x for stage in model.config.trained_stages for x in model.stage_modules()[stage]))
        missing = [k for k in missing if k.startswith(needed)]
        if strict and (missing or unexpected):
            raise RuntimeError(f"weights do not match the config: missing {missing[:3]}, unexpected {unexpected[:3]}")
        model.eval()
        return model

    def n_parameters(self) -> dict[str, int]:
        """Parameter count per module."""
        return {name: sum(p.numel() for p in m.parameters())
                for name, m in (("encoder", self.encoder), ("motion", self.motion),
                                ("field", self.field), ("decoder", self.decoder))}


def load_model(weights: str, device: str = "cpu") -> FrondModel:
    """A local folder or a Hub repo id[@revision] -> FrondModel (safetensors only).

    Raises FrondInputError with one line when the folder is incomplete or the Hub cannot be reached.
    """
    folder = weights_folder(weights)
    try:
        return FrondModel.from_pretrained(str(folder), map_location=device)
    except Exception as exc:  # noqa: BLE001 - corrupt or mismatched files
        raise FrondInputError(f"could not load FROND weights from {weights}: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else ''}.") from exc
