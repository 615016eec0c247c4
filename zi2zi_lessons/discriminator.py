"""The zi2zi discriminator: is this (source, target) pair real, and which font is the target?

It sees the source glyph and a target glyph side by side as channels, halves the map
with strided 5x5 convolutions, and reads two answers off the flattened features::

    cat([source, target])  (B, 2, S, S)
      │ Conv k5 s2 p2 ─ LeakyReLU                          ndf     S/2
      │ Conv k5 s2 p2 ─ Norm ─ LeakyReLU                   2 ndf   S/4
      │ Conv k5 s2 p2 ─ Norm ─ LeakyReLU                   4 ndf   S/8
      │ Conv k5 s1 p2 ─ Norm ─ LeakyReLU                   8 ndf   S/8
      │ flatten                                            8 ndf * (S/8)^2 features
      ├─ Linear ─▶ real/fake logit                         (B, 1)
      └─ Linear ─▶ font-category logits                    (B, embedding_num)

The linear heads are sized from the image size, so a discriminator is built for one
image size (``image_size``) and refuses any other with a clear error.

That is the TensorFlow zi2zi. Its PyTorch ports (EuphoriaYan's and the max32002 fork)
put one more convolution before the heads, ``Conv k5 s1 p2`` from 8 ndf channels to
**one** (with a bias), so their heads read ``(S/8)^2`` features instead of
``8 ndf * (S/8)^2``: ``reduce_to_one_channel=True`` builds that (``upstream.py`` loads
their checkpoints). The font
category head is what makes zi2zi's generator keep the fonts apart: the generator
is rewarded when its fakes are classified as the font it was asked for.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from .unet import NORMS, _check_choice, _check_positive_int

__all__ = ["DiscriminatorConfig", "Discriminator"]

_NORM_LAYERS = {"batch": nn.BatchNorm2d, "instance": nn.InstanceNorm2d}


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Everything that decides the discriminator's shape; validated on creation.

    Args:
        image_size: side of the square glyph images it will judge.
        input_nc: channels of the pair (1-channel source + 1-channel target = 2).
        embedding_num: number of font categories (as the generator's embedding).
        ndf: filters of the first convolution (2, 4 and 8 times as many after it).
        norm: "batch" or "instance".
        num_strided: stride-2 convolutions (zi2zi uses 3); the map shrinks to
            ``ceil(image_size / 2 ** num_strided)``.
        reduce_to_one_channel: one more 5x5 convolution, 8 ndf -> 1 channel (with a
            bias), before the heads, as zi2zi's PyTorch ports do; the default is the
            TensorFlow original, whose heads read all 8 ndf channels.
    """

    image_size: int = 256
    input_nc: int = 2
    embedding_num: int = 40
    ndf: int = 64
    norm: str = "batch"
    num_strided: int = 3
    reduce_to_one_channel: bool = False

    def __post_init__(self):
        for name in ("image_size", "input_nc", "embedding_num", "ndf", "num_strided"):
            _check_positive_int(name, getattr(self, name))
        _check_choice("norm", self.norm, NORMS)
        if not isinstance(self.reduce_to_one_channel, bool):
            raise ValueError(f"reduce_to_one_channel={self.reduce_to_one_channel!r} is not accepted: use True or False")
        if self.image_size < 2 ** self.num_strided:
            raise ValueError(
                f"image_size={self.image_size} is not accepted with num_strided={self.num_strided}: "
                f"the image must be at least {2 ** self.num_strided} pixels wide"
            )

    @property
    def feature_size(self) -> int:
        """Side of the last feature map (each stride-2, padding-2, kernel-5 conv rounds up)."""
        side = self.image_size
        for _ in range(self.num_strided):
            side = math.ceil(side / 2)
        return side

    @property
    def feature_channels(self) -> int:
        """Channels of the last 5x5 convolution's map before any reduction (8 ndf)."""
        return self.ndf * 8

    @property
    def head_channels(self) -> int:
        """Channels of the map the heads read: 8 ndf, or 1 with ``reduce_to_one_channel``."""
        return 1 if self.reduce_to_one_channel else self.feature_channels

    @property
    def features(self) -> int:
        """Length of the flattened features both heads read."""
        return self.head_channels * self.feature_size ** 2


class Discriminator(nn.Module):
    """zi2zi's discriminator; ``forward(pairs) -> (real_fake_logits (B, 1), category_logits (B, F))``.

    ``pairs`` is ``torch.cat([source, target], dim=1)``. Keyword arguments are those
    of ``DiscriminatorConfig``.
    """

    def __init__(self, image_size: int = 256, input_nc: int = 2, embedding_num: int = 40, ndf: int = 64,
                 norm: str = "batch", num_strided: int = 3, reduce_to_one_channel: bool = False):
        super().__init__()
        config = DiscriminatorConfig(image_size, input_nc, embedding_num, ndf, norm, num_strided, reduce_to_one_channel)
        self.config = config
        norm_layer = _NORM_LAYERS[norm]
        use_bias = norm == "instance"

        layers = [nn.Conv2d(input_nc, ndf, kernel_size=5, stride=2, padding=2), nn.LeakyReLU(0.2)]
        channels = ndf
        for n in range(1, num_strided):
            wider = ndf * min(2 ** n, 8)
            layers += [nn.Conv2d(channels, wider, kernel_size=5, stride=2, padding=2, bias=use_bias),
                       norm_layer(wider), nn.LeakyReLU(0.2)]
            channels = wider
        # One more convolution at the final size, widening to 8 * ndf as zi2zi does.
        layers += [nn.Conv2d(channels, config.feature_channels, kernel_size=5, stride=1, padding=2, bias=use_bias),
                   norm_layer(config.feature_channels), nn.LeakyReLU(0.2)]
        if reduce_to_one_channel:
            layers.append(nn.Conv2d(config.feature_channels, 1, kernel_size=5, stride=1, padding=2))
        self.features = nn.Sequential(*layers)
        self.real_fake = nn.Linear(config.features, 1)
        self.category = nn.Linear(config.features, embedding_num)

    @classmethod
    def from_config(cls, config: DiscriminatorConfig) -> "Discriminator":
        return cls(**asdict(config))

    def forward(self, pairs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        expected = (self.config.input_nc, self.config.image_size, self.config.image_size)
        if not isinstance(pairs, torch.Tensor) or pairs.dim() != 4 or tuple(pairs.shape[1:]) != expected:
            got = tuple(pairs.shape) if isinstance(pairs, torch.Tensor) else type(pairs).__name__
            raise ValueError(
                f"the discriminator was built for pairs shaped (batch, {expected[0]}, {expected[1]}, {expected[2]}) "
                f"(source and target concatenated on channels, image_size={self.config.image_size}), got {got}"
            )
        flat = self.features(pairs).flatten(1)
        return self.real_fake(flat), self.category(flat)
