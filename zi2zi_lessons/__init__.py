"""zi2zi-lessons: the zi2zi UNet generator and self-attention, built and measured.

The notebooks in ``notebooks/`` import from here instead of redefining things.
"""

from .attention import MultiHeadSelfAttention, SelfAttention, self_attention_parameter_count
from . import anatomy
from .unet import (
    NORMS,
    SKIP_MODES,
    UPSAMPLE_MODES,
    GeneratorConfig,
    LevelInfo,
    UNetGenerator,
    UnetSkipConnectionBlock,
    supported_image_sizes,
)

__version__ = "0.1.0"

__all__ = [
    "anatomy",
    "MultiHeadSelfAttention",
    "SelfAttention",
    "self_attention_parameter_count",
    "NORMS",
    "SKIP_MODES",
    "UPSAMPLE_MODES",
    "GeneratorConfig",
    "LevelInfo",
    "UNetGenerator",
    "UnetSkipConnectionBlock",
    "supported_image_sizes",
]
