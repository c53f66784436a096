"""Stage 4, the image decoder: source + dense field -> frames.

- `prior`: one continuous resampling pass of the portrait, the mouth interior and the lids (`mouth`);
- `learned`: the adapter running the implicit decoder (`net`) from trained weights.
"""
from .learned import LearnedDecoder
from .prior import PriorDecoder

VARIANTS = {"prior": PriorDecoder, "learned": LearnedDecoder}

__all__ = ["VARIANTS", "LearnedDecoder", "PriorDecoder"]
