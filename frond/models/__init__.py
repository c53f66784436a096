"""The learned FROND networks (PyTorch) and their stage adapters.

- `FrondModel`: two-stream encoder, audio motion estimator (B-spline trajectories), dense
  motion field, implicit decoder; `save_pretrained` / `from_pretrained` / `push_to_hub`
  (safetensors + config.json + model card) via `huggingface_hub.PyTorchModelHubMixin`.
- `load_learned_stages(weights)`: the stage implementations for `frond.pipeline`.
"""
from .config import DecoderConfig, EncoderConfig, FieldConfig, FrondConfig, MotionConfig
from .frond_model import FrondModel
from .stages import (
    LearnedDecoder,
    LearnedDenseField,
    LearnedKeypointEncoder,
    LearnedMotionEstimator,
    load_learned_stages,
    load_model,
)

__all__ = [
    "DecoderConfig", "EncoderConfig", "FieldConfig", "FrondConfig", "MotionConfig", "FrondModel",
    "LearnedDecoder", "LearnedDenseField", "LearnedKeypointEncoder", "LearnedMotionEstimator",
    "load_learned_stages", "load_model",
]
