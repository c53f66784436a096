"""FROND: fine-grained talking-face generation (portrait + speech -> lip-synced video)."""
from .config import GenerationSettings, Limits
from .errors import FrondInputError

__all__ = ["FrondPipeline", "GenerationSettings", "Limits", "FrondInputError"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "FrondPipeline":  # imported lazily: `import frond` stays light for the CLI's --help
        from .pipeline import FrondPipeline

        return FrondPipeline
    raise AttributeError(name)
