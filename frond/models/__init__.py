"""The learned FROND networks (PyTorch) and their stage adapters.

- `FrondModel`: two-stream encoder, audio motion estimator (B-spline trajectories), dense
  motion field, implicit decoder; `save_pretrained` / `from_pretrained` / `push_to_hub`
  (safetensors + config.json + model card) via `huggingface_hub.PyTorchModelHubMixin`.
- `render_stages(weights)`: the learned render stages for `frond.pipeline` (`frond.weights`
  picks them, and the numpy motion stage, by what the weights trained).

Names are imported on first use, so `frond.models.config` can be read without torch.
"""
from __future__ import annotations

import importlib
from typing import Any

_HOME = {
    "DecoderConfig": "config", "EncoderConfig": "config", "FieldConfig": "config", "FrondConfig": "config",
    "MotionConfig": "config", "FrondModel": "frond_model", "LearnedDecoder": "stages",
    "LearnedDenseField": "stages", "LearnedKeypointEncoder": "stages", "render_stages": "stages",
    "load_model": "stages",
}
__all__ = list(_HOME)


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
