"""Which variants exist for each stage, and the stages a pipeline starts from.

Every stage package exports its variants (`VARIANTS`: "prior" and "learned" -> class); this is
the one table of them, in the paper's order. The training-free priors need no weights; the
learned variants are built from trained weights (`frond.weights.load_learned_stages`), the
motion network FROND ships among them (`bundled_motion`).
"""
from __future__ import annotations

from pathlib import Path

from . import decoder, encoder, field, motion
from .audio.phone_worker import PhoneSource
from .motion.learned import load_motion_net
from .stages import LEARNED, PRIOR, MotionEstimator, Stages

VARIANTS: dict[str, dict[str, type]] = {"encoder": encoder.VARIANTS, "motion": motion.VARIANTS,
                                        "field": field.VARIANTS, "decoder": decoder.VARIANTS}
BUNDLED_MOTION = Path(__file__).resolve().parent / "pretrained" / "motion"  # the motion network FROND ships
BUNDLED_MOTION_ID = "frond-motion (bundled)"


def prior_stages(phones: PhoneSource, use_phones: bool = True) -> Stages:
    """The training-free variant of every stage; the motion prior hears its phones from `phones`."""
    return Stages(encoder=VARIANTS["encoder"][PRIOR](), motion=VARIANTS["motion"][PRIOR](use_phones=use_phones, source=phones),
                  field=VARIANTS["field"][PRIOR](), decoder=VARIANTS["decoder"][PRIOR]())


def bundled_motion(phones: PhoneSource) -> MotionEstimator:
    """The learned motion stage FROND ships (`frond/pretrained/motion`); FrondInputError when it cannot be read."""
    return VARIANTS["motion"][LEARNED](load_motion_net(BUNDLED_MOTION), BUNDLED_MOTION_ID, phones)
