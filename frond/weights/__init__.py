"""Learned weights -> the pipeline stages they trained.

A weights folder (or Hub repo) holds `config.json` and `model.safetensors` (written by
`frond.weights.model.FrondModel`, with the model card of `frond.weights.card`); its
`trained_stages` say what it can replace: "motion" (the audio -> motion network, run in
numpy by `frond.motion.learned`) and "render" (encoder, dense field and implicit decoder,
PyTorch, imported only then). Motion-only weights never import torch.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..decoder import LearnedDecoder
from ..encoder import LearnedKeypointEncoder
from ..errors import FrondInputError
from ..field import LearnedDenseField
from ..hub import weights_folder
from ..motion import LearnedMotionEstimator
from ..motion.learned import load_motion_net
from ..stages import LearnedStages

if TYPE_CHECKING:
    from ..audio.phone_worker import PhoneSource


def trained_stages(weights: str) -> list[str]:
    """Which stages the weights trained ("render", "motion"); FrondInputError when unreadable."""
    folder = weights_folder(weights)
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise FrondInputError(f"weights {weights!r}: config.json is unreadable ({type(exc).__name__})") from None
    return [s for s in config.get("trained_stages", []) if s in ("render", "motion")]


def render_stages(weights: str, device: str = "cpu") -> LearnedStages:
    """The learned encoder, field and decoder of trained render weights (PyTorch)."""
    from .model import load_model

    model = load_model(weights, device).to(device)
    return {"encoder": LearnedKeypointEncoder(model, weights, device), "field": LearnedDenseField(model, weights, device),
            "decoder": LearnedDecoder(model, weights, device)}


def load_learned_stages(weights: str, device: str = "cpu", phones: PhoneSource | None = None) -> LearnedStages:
    """Pipeline stage name -> learned stage, for the stages the weights trained.

    `phones`: the `PhoneSource` a motion network that hears phones takes them from.
    Raises FrondInputError (one line) when the weights cannot be loaded or hold no trained stage.
    """
    trained = trained_stages(weights)
    if not trained:
        raise FrondInputError(f"weights {weights!r} hold no trained stage (config.trained_stages is empty)")
    stages: LearnedStages = {}
    if "render" in trained:
        stages.update(render_stages(weights, device))
    if "motion" in trained:
        stages["motion"] = LearnedMotionEstimator(load_motion_net(weights_folder(weights)), weights, phones)
    return stages
