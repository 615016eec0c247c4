"""The zi2zi UNet generator, built from nested skip-connection blocks.

Levels are numbered from 1 (outermost, next to the image) to ``num_downs``
(innermost, the bottleneck). Every level is one ``UnetSkipConnectionBlock``; the
generator nests them inside-out, as pix2pix and zi2zi do.

The one bookkeeping rule of the whole network: **a block's up-convolution takes as
many channels as its child block hands back.** The child knows that number (its
``out_channels``) because it knows how it joins its skip; nobody tracks it from
outside, so any mix of skip modes builds and runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterable, Iterator, Mapping

import torch
from torch import nn

from .attention import SelfAttention

__all__ = [
    "SKIP_MODES",
    "UPSTREAM_SKIP_MODES",
    "ACCEPTED_SKIP_MODES",
    "UPSAMPLE_MODES",
    "NORMS",
    "GeneratorConfig",
    "LevelInfo",
    "UnetSkipConnectionBlock",
    "UNetGenerator",
    "supported_image_sizes",
]

SKIP_MODES = ("concat", "add", "none")
#: Joins that only exist to reproduce upstream code (``upstream.py``): "add_activated"
#: adds ``LeakyReLU(0.2)(x)`` instead of ``x``, which is what the max32002 fork's add
#: skip computes (its down path's in-place LeakyReLU overwrites ``x`` before the join).
UPSTREAM_SKIP_MODES = ("add_activated",)
ACCEPTED_SKIP_MODES = SKIP_MODES + UPSTREAM_SKIP_MODES
UPSAMPLE_MODES = ("transpose", "pixelshuffle")
NORMS = ("batch", "instance")
_NORM_LAYERS = {"batch": nn.BatchNorm2d, "instance": nn.InstanceNorm2d}


def _check_choice(name: str, value, accepted) -> None:
    if value not in accepted:
        listed = ", ".join(repr(a) for a in accepted)
        raise ValueError(f"{name}={value!r} is not accepted: use one of {listed}")


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name}={value!r} is not accepted: it must be a positive integer")


def supported_image_sizes(num_downs: int, largest: int = 1024) -> list[int]:
    """Image sides (up to ``largest``) that ``num_downs`` levels can take.

    Every level halves the map with a stride-2 convolution and the decoder doubles
    it back, so the side must be divisible by ``2 ** num_downs`` (and the bottleneck
    is then at least 1x1).
    """
    step = 2 ** num_downs
    return list(range(step, largest + 1, step))


@dataclass(frozen=True)
class LevelInfo:
    """What one level of the generator is, read off its block.

    ``encoded_size`` is the side of the map after this level's down-convolution for
    the image size the description was made for. ``skip`` is how the block joins its
    input to its up path (``"none"`` at level 1, whose up path is the image).
    ``up_in_channels`` is what the child hands back (plus the style embedding at the
    innermost level); ``up_conv_out_channels`` is what the up-convolution makes
    (four times ``outer_channels`` before a PixelShuffle); ``out_channels`` is what
    the block hands to its parent.
    """

    level: int | None
    encoded_size: int | None
    input_channels: int
    inner_channels: int
    outer_channels: int
    attention: bool
    skip: str
    upsample: str
    up_in_channels: int
    up_conv_out_channels: int
    out_channels: int
    dropout: bool
    down_parameters: int
    attention_parameters: int
    up_parameters: int

    @property
    def parameters(self) -> int:
        """Parameters of this level alone (its child's are not counted)."""
        return self.down_parameters + self.attention_parameters + self.up_parameters

    def as_dict(self) -> dict:
        row = asdict(self)
        row["parameters"] = self.parameters
        return row


def _count(module: nn.Module | None) -> int:
    if module is None:
        return 0
    return sum(p.numel() for p in module.parameters())


class UnetSkipConnectionBlock(nn.Module):
    """One level of the UNet: down, optional attention, the child, up, join.

    ::

        x ──┬──────────────────────────── skip ─────────────────────────────┐
            │                                                               join ── out
            └─ down ── [attention] ── child block ── up (ReLU, UpConv, Norm) ─┘
                                      (innermost: concat the style embedding
                                       instead of a child)

    ``join`` is ``cat([x, up])`` ("concat"), ``x + up`` ("add") or ``up`` alone
    ("none"); the outermost block returns ``up`` (the image, after Tanh). A fourth
    join reproduces the max32002 zi2zi fork: "add_activated" is
    ``LeakyReLU(0.2)(x) + up``, because there the down path's in-place LeakyReLU
    overwrites ``x`` before the skip reads it (``upstream.py``).

    Args:
        outer_channels: channels of the map this block hands back before the join
            (``outer_nc`` in pix2pix).
        inner_channels: channels of the encoded map (``inner_nc``).
        input_channels: channels of ``x``; defaults to ``outer_channels`` (only the
            outermost block differs: it takes the image).
        submodule: the child block; ``None`` makes this the innermost block, which
            concatenates the style embedding to its encoded map instead.
        outermost: the block next to the image: down is a bare convolution, up ends
            in Tanh, and there is no join.
        level: level number, for descriptions and error messages.
        embedding_dim: width of the style embedding (innermost block only).
        norm: "batch" or "instance". Convolutions carry a bias only with "instance",
            except the outermost up-convolution, which always has one.
        upsample: "transpose" (ConvTranspose2d k4 s2 p1) or "pixelshuffle"
            (Conv2d k3 s1 p1 to four times the channels, then PixelShuffle(2)).
        skip: "concat", "add", "none" or "add_activated"; ``None`` means "concat",
            or "none" for the outermost block.
        attention: put ``SelfAttention`` on the encoded map.
        scaled_attention: that attention divides its energy by ``sqrt(C // 8)`` (the
            max32002 fork's attention); the default is SAGAN's unscaled energy.
        use_dropout: Dropout(0.5) after the up path (middle blocks only, as zi2zi).

    ``forward(x, style)`` returns ``(out, bottleneck)``: the joined output and the
    innermost encoded map (zi2zi's constant loss compares bottlenecks).
    """

    def __init__(
        self,
        outer_channels: int,
        inner_channels: int,
        input_channels: int | None = None,
        submodule: "UnetSkipConnectionBlock | None" = None,
        outermost: bool = False,
        level: int | None = None,
        embedding_dim: int = 128,
        norm: str = "batch",
        upsample: str = "transpose",
        skip: str | None = None,
        attention: bool = False,
        use_dropout: bool = False,
        scaled_attention: bool = False,
    ):
        super().__init__()
        input_channels = outer_channels if input_channels is None else input_channels
        _check_positive_int("outer_channels", outer_channels)
        _check_positive_int("inner_channels", inner_channels)
        _check_positive_int("input_channels", input_channels)
        _check_choice("norm", norm, NORMS)
        _check_choice("upsample", upsample, UPSAMPLE_MODES)
        innermost = submodule is None
        if innermost:
            _check_positive_int("embedding_dim", embedding_dim)
        if skip is None:
            skip = "none" if outermost else "concat"
        _check_choice("skip", skip, ACCEPTED_SKIP_MODES)
        if outermost and skip != "none":
            raise ValueError(
                f"skip={skip!r} is not accepted for the outermost block: its up path is the "
                f"output image and there is nothing to join it with; use skip='none' (or None)"
            )
        if skip in ("add", "add_activated") and input_channels != outer_channels:
            raise ValueError(
                f"skip={skip!r} needs input_channels == outer_channels to add x to the up path, "
                f"got input_channels={input_channels}, outer_channels={outer_channels}"
            )
        if use_dropout and (outermost or innermost):
            raise ValueError(
                "use_dropout=True is only accepted for middle blocks (zi2zi puts Dropout(0.5) "
                "on the levels between the innermost and level 4)"
            )

        self.outermost = outermost
        self.innermost = innermost
        self.level = level
        self.input_channels = input_channels
        self.inner_channels = inner_channels
        self.outer_channels = outer_channels
        self.embedding_dim = embedding_dim if innermost else 0
        self.norm = norm
        self.upsample = upsample
        self.skip = skip
        self.use_dropout = use_dropout

        norm_layer = _NORM_LAYERS[norm]
        use_bias = norm == "instance"

        down_conv = nn.Conv2d(input_channels, inner_channels, kernel_size=4, stride=2, padding=1, bias=use_bias)
        if outermost:
            down = [down_conv]
        elif innermost:
            down = [nn.LeakyReLU(0.2), down_conv]
        else:
            down = [nn.LeakyReLU(0.2), down_conv, norm_layer(inner_channels)]
        self.down = nn.Sequential(*down)

        self.attention = SelfAttention(inner_channels, scaled=scaled_attention) if attention else None
        self.submodule = submodule

        # The rule: take what the child hands back (at the bottom: the encoded map
        # plus the broadcast style embedding).
        up_in_channels = inner_channels + embedding_dim if innermost else submodule.out_channels
        up_bias = True if outermost else use_bias
        if upsample == "transpose":
            up_conv = [nn.ConvTranspose2d(up_in_channels, outer_channels, kernel_size=4, stride=2, padding=1, bias=up_bias)]
        else:
            up_conv = [
                nn.Conv2d(up_in_channels, outer_channels * 4, kernel_size=3, stride=1, padding=1, bias=up_bias),
                nn.PixelShuffle(2),
            ]
        up = [nn.ReLU(), *up_conv, nn.Tanh() if outermost else norm_layer(outer_channels)]
        if use_dropout:
            up.append(nn.Dropout(0.5))
        self.up = nn.Sequential(*up)
        self.up_in_channels = up_in_channels

    @property
    def out_channels(self) -> int:
        """Channels this block hands back to its parent (after the join)."""
        if self.skip == "concat":
            return self.input_channels + self.outer_channels
        return self.outer_channels

    @property
    def up_conv(self) -> nn.Module:
        """The up-convolution (ConvTranspose2d, or the Conv2d before PixelShuffle)."""
        return self.up[1]

    def _encode_here(self, x: torch.Tensor) -> torch.Tensor:
        encoded = self.down(x)
        if self.attention is not None:
            encoded = self.attention(encoded)
        return encoded

    def _join(self, x: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
        if self.skip == "none":
            return up
        if x.shape[2:] != up.shape[2:]:
            where = f"level {self.level}" if self.level is not None else "this block"
            raise RuntimeError(
                f"{where} cannot join its skip ({x.shape[2]}x{x.shape[3]}) with its up path "
                f"({up.shape[2]}x{up.shape[3]}) in skip={self.skip!r} mode: the up path must "
                f"return the map to the size the down path started from"
            )
        if self.skip == "concat":
            return torch.cat([x, up], dim=1)
        if self.skip == "add_activated":
            # The down path starts with this LeakyReLU; upstream runs it in place, so
            # its skip reads the activated x.
            return self.down[0](x) + up
        return x + up

    def forward(self, x: torch.Tensor, style: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        encoded = self._encode_here(x)
        if self.innermost:
            if style is None:
                raise ValueError("the innermost block needs the style embedding: forward(x, style)")
            style_map = style[:, :, None, None].expand(-1, -1, encoded.shape[2], encoded.shape[3])
            up = self.up(torch.cat([style_map, encoded], dim=1))
            bottleneck = encoded
        else:
            child_out, bottleneck = self.submodule(encoded, style)
            up = self.up(child_out)
        out = up if self.outermost else self._join(x, up)
        return out, bottleneck

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Run only the down path (with attention) to the bottleneck."""
        encoded = self._encode_here(x)
        return encoded if self.innermost else self.submodule.encode(encoded)

    def describe(self, image_size: int | None = None) -> LevelInfo:
        """This level as a ``LevelInfo``; ``encoded_size`` needs ``image_size`` and ``level``."""
        encoded_size = None
        if image_size is not None and self.level is not None:
            encoded_size = image_size // 2 ** self.level
        return LevelInfo(
            level=self.level,
            encoded_size=encoded_size,
            input_channels=self.input_channels,
            inner_channels=self.inner_channels,
            outer_channels=self.outer_channels,
            attention=self.attention is not None,
            skip=self.skip,
            upsample=self.upsample,
            up_in_channels=self.up_in_channels,
            up_conv_out_channels=self.up_conv.out_channels,
            out_channels=self.out_channels,
            dropout=self.use_dropout,
            down_parameters=_count(self.down),
            attention_parameters=_count(self.attention),
            up_parameters=_count(self.up),
        )

    def extra_repr(self) -> str:
        place = "outermost" if self.outermost else "innermost" if self.innermost else "middle"
        return (
            f"level={self.level}, {place}, input={self.input_channels}, inner={self.inner_channels}, "
            f"outer={self.outer_channels}, skip={self.skip!r}, up_in={self.up_in_channels}, "
            f"out={self.out_channels}"
        )


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything that decides the generator's shape; validated on creation.

    See ``UNetGenerator`` for the meaning of each field.
    """

    input_nc: int = 1
    output_nc: int = 1
    num_downs: int = 8
    ngf: int = 64
    embedding_num: int = 40
    embedding_dim: int = 128
    norm: str = "batch"
    upsample: str = "transpose"
    skip: str = "concat"
    attention_levels: tuple[int, ...] = field(default=())
    skip_under_attention: str | None = None
    use_dropout: bool = False
    level_skips: tuple[tuple[int, str], ...] = field(default=())
    scaled_attention: bool = False

    def __post_init__(self):
        for name in ("input_nc", "output_nc", "ngf", "embedding_num", "embedding_dim"):
            _check_positive_int(name, getattr(self, name))
        if isinstance(self.num_downs, bool) or not isinstance(self.num_downs, int) or self.num_downs < 5:
            raise ValueError(
                f"num_downs={self.num_downs!r} is not accepted: the zi2zi UNet needs an integer >= 5 "
                f"(four levels that change the width, then at least one at 8 * ngf)"
            )
        _check_choice("norm", self.norm, NORMS)
        _check_choice("upsample", self.upsample, UPSAMPLE_MODES)
        _check_choice("skip", self.skip, ACCEPTED_SKIP_MODES)
        _check_choice("skip_under_attention", self.skip_under_attention, (None, *ACCEPTED_SKIP_MODES))
        for name in ("use_dropout", "scaled_attention"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}={getattr(self, name)!r} is not accepted: use True or False")

        levels = self.attention_levels
        if isinstance(levels, (int, str)) or levels is None:
            raise ValueError(
                f"attention_levels={levels!r} is not accepted: give a tuple of level numbers, "
                f"e.g. (7, 8), or () for none"
            )
        levels = tuple(levels)
        for level in levels:
            if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= self.num_downs:
                raise ValueError(
                    f"attention_levels={levels!r} is not accepted: level {level!r} is outside "
                    f"1..{self.num_downs} (1 is the outermost level, num_downs={self.num_downs} the innermost)"
                )
        for level in levels:
            channels = self.level_channels(level)[1]
            if channels < 8:
                raise ValueError(
                    f"attention_levels={levels!r} is not accepted with ngf={self.ngf}: level {level} "
                    f"has {channels} channels and SelfAttention needs at least 8 (its query and key "
                    f"have channels // 8 = {channels // 8}); attend on a deeper level or choose ngf >= 8"
                )
        object.__setattr__(self, "attention_levels", tuple(sorted(set(levels))))
        object.__setattr__(self, "level_skips", self._checked_level_skips())

    def _checked_level_skips(self) -> tuple[tuple[int, str], ...]:
        """``level_skips`` as sorted ``(level, mode)`` pairs; accepts a dict or pairs."""
        given = self.level_skips
        example = "e.g. {7: 'none', 8: 'none'}"
        if isinstance(given, Mapping):
            pairs = list(given.items())
        elif isinstance(given, (str, bytes)) or not isinstance(given, Iterable):
            raise ValueError(f"level_skips={given!r} is not accepted: give a dict level -> skip mode, {example}")
        else:
            pairs = list(given)
            if not all(isinstance(pair, (tuple, list)) and len(pair) == 2 for pair in pairs):
                raise ValueError(f"level_skips={given!r} is not accepted: give a dict level -> skip mode, {example}")
        modes = {}
        for level, mode in pairs:
            if isinstance(level, bool) or not isinstance(level, int) or not 2 <= level <= self.num_downs:
                raise ValueError(
                    f"level_skips={given!r} is not accepted: level {level!r} is outside 2..{self.num_downs} "
                    f"(level 1 has no skip: its up path is the output image)"
                )
            if level in modes and modes[level] != mode:
                raise ValueError(f"level_skips={given!r} is not accepted: level {level} is given twice")
            _check_choice(f"level_skips[{level}]", mode, ACCEPTED_SKIP_MODES)
            modes[level] = mode
        return tuple(sorted(modes.items()))

    def level_channels(self, level: int) -> tuple[int, int, int]:
        """``(input_channels, inner_channels, outer_channels)`` of a level."""
        if level == 1:
            return self.input_nc, self.ngf, self.output_nc
        inner = self.ngf * 2 ** min(level - 1, 3)
        outer = self.ngf * 2 ** min(level - 2, 3)
        return outer, inner, outer

    def level_skip(self, level: int) -> str:
        """How a level joins its skip (level 1 has none: its up path is the image).

        ``level_skips`` decides first, then ``skip_under_attention`` for attention
        levels, then ``skip``.
        """
        if level == 1:
            return "none"
        chosen = dict(self.level_skips)
        if level in chosen:
            return chosen[level]
        if level in self.attention_levels and self.skip_under_attention is not None:
            return self.skip_under_attention
        return self.skip

    def level_has_dropout(self, level: int) -> bool:
        """zi2zi puts dropout on the 8 * ngf levels between level 4 and the innermost."""
        return self.use_dropout and 5 <= level < self.num_downs

    def check_image_size(self, height: int, width: int) -> None:
        """Raise ``ValueError`` unless both sides pass through every level."""
        step = 2 ** self.num_downs
        for name, side in (("height", height), ("width", width)):
            if side < step or side % step != 0:
                deepest = _deepest_levels(side)
                lower, upper = max(step, side // step * step), (side // step + 1) * step
                nearest = f"{lower}" if lower == upper else f"{lower} or {upper}"
                fewer = f"use num_downs={deepest} or fewer, or " if deepest >= 5 else ""
                raise ValueError(
                    f"image {name} {side} does not work with num_downs={self.num_downs}: each level "
                    f"halves the map, so sides must be multiples of 2**{self.num_downs} = {step} "
                    f"(e.g. {', '.join(map(str, supported_image_sizes(self.num_downs, 4 * step)[:3]))}); "
                    f"{side} halves cleanly {deepest} times: {fewer}resize to {nearest}"
                )


def _deepest_levels(side: int) -> int:
    levels = 0
    while side > 1 and side % 2 == 0:
        side //= 2
        levels += 1
    return levels


class UNetGenerator(nn.Module):
    """The zi2zi generator: a UNet whose bottleneck is joined by a font-style embedding.

    Args:
        input_nc, output_nc: image channels in and out (1 for grayscale glyphs).
        num_downs: levels (>= 5); a square image of side S needs S divisible by
            ``2 ** num_downs`` (256 with 8 levels reaches a 1x1 bottleneck).
        ngf: filters of level 1; levels 2, 3, 4 have 2, 4, 8 times as many, deeper levels 8 times.
        embedding_num, embedding_dim: font styles and the width of their embedding.
        norm: "batch" or "instance".
        upsample: "transpose" (classic zi2zi) or "pixelshuffle".
        skip: how every level but the outermost joins its skip: "concat" (classic),
            "add" or "none".
        attention_levels: levels whose encoded map gets ``SelfAttention``.
        skip_under_attention: the skip mode of the attention levels (``None``: as ``skip``).
        use_dropout: Dropout(0.5) on the middle 8 * ngf levels.
        level_skips: skip modes of single levels, e.g. ``{7: "none", 8: "none"}``;
            they win over ``skip_under_attention`` and ``skip`` (levels 2..num_downs).
        scaled_attention: the attention blocks divide their energy by ``sqrt(C // 8)``,
            as the max32002 fork's do; the default is SAGAN's unscaled energy.

    Two settings exist only to reproduce upstream zi2zi-pytorch code exactly
    (``upstream.py`` reads them off a checkpoint): ``scaled_attention=True`` and the
    skip mode "add_activated" (the fork's add skip, ``LeakyReLU(0.2)(x) + up``).

    ``generator(images, labels)`` returns generated images; labels are integer font ids.
    """

    def __init__(
        self,
        input_nc: int = 1,
        output_nc: int = 1,
        num_downs: int = 8,
        ngf: int = 64,
        embedding_num: int = 40,
        embedding_dim: int = 128,
        norm: str = "batch",
        upsample: str = "transpose",
        skip: str = "concat",
        attention_levels=(),
        skip_under_attention: str | None = None,
        use_dropout: bool = False,
        level_skips=(),
        scaled_attention: bool = False,
    ):
        super().__init__()
        config = GeneratorConfig(
            input_nc=input_nc,
            output_nc=output_nc,
            num_downs=num_downs,
            ngf=ngf,
            embedding_num=embedding_num,
            embedding_dim=embedding_dim,
            norm=norm,
            upsample=upsample,
            skip=skip,
            attention_levels=attention_levels,
            skip_under_attention=skip_under_attention,
            use_dropout=use_dropout,
            level_skips=level_skips,
            scaled_attention=scaled_attention,
        )
        self.config = config
        block = None
        for level in range(config.num_downs, 0, -1):  # inside-out
            input_channels, inner_channels, outer_channels = config.level_channels(level)
            block = UnetSkipConnectionBlock(
                outer_channels,
                inner_channels,
                input_channels=input_channels,
                submodule=block,
                outermost=level == 1,
                level=level,
                embedding_dim=config.embedding_dim,
                norm=config.norm,
                upsample=config.upsample,
                skip=config.level_skip(level),
                attention=level in config.attention_levels,
                use_dropout=config.level_has_dropout(level),
                scaled_attention=config.scaled_attention,
            )
        self.model = block
        self.embedder = nn.Embedding(config.embedding_num, config.embedding_dim)

    @classmethod
    def from_config(cls, config: GeneratorConfig) -> "UNetGenerator":
        return cls(**asdict(config))

    def blocks(self) -> Iterator[UnetSkipConnectionBlock]:
        """The blocks from level 1 (outermost) to the innermost."""
        block = self.model
        while block is not None:
            yield block
            block = block.submodule

    def levels(self, image_size: int | None = 256) -> tuple[LevelInfo, ...]:
        """One ``LevelInfo`` per level, outermost first."""
        if image_size is not None:
            self.config.check_image_size(image_size, image_size)
        return tuple(block.describe(image_size) for block in self.blocks())

    def check_inputs(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> None:
        """Raise a clear error for inputs the network cannot take, before any work."""
        if not isinstance(images, torch.Tensor) or images.dim() != 4:
            shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise ValueError(f"images must be a 4-d tensor (batch, channels, height, width), got {shape}")
        if images.shape[1] != self.config.input_nc:
            raise ValueError(
                f"images have {images.shape[1]} channels, but the generator was built with "
                f"input_nc={self.config.input_nc}"
            )
        self.config.check_image_size(images.shape[2], images.shape[3])
        if labels is None:
            return
        if not isinstance(labels, torch.Tensor) or labels.dtype not in (torch.int64, torch.int32):
            kind = labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__
            raise ValueError(f"labels must be an integer tensor of font ids (torch.long), got {kind}")
        if labels.dim() != 1 or labels.shape[0] != images.shape[0]:
            raise ValueError(
                f"labels must have one font id per image: shape ({images.shape[0]},) for "
                f"{images.shape[0]} images, got {tuple(labels.shape)}"
            )
        if labels.device.type != "meta" and labels.numel() > 0:
            low, high = int(labels.min()), int(labels.max())
            if low < 0 or high >= self.config.embedding_num:
                bad = low if low < 0 else high
                raise ValueError(
                    f"labels contain {bad}, outside 0..{self.config.embedding_num - 1} "
                    f"(embedding_num={self.config.embedding_num})"
                )

    def forward_with_encoding(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(generated images, bottleneck map)``."""
        self.check_inputs(images, labels)
        return self.model(images, self.embedder(labels))

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.forward_with_encoding(images, labels)[0]

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """The bottleneck map of ``images`` (no style needed): zi2zi's constant loss uses it."""
        self.check_inputs(images)
        return self.model.encode(images)

    def encoded_maps(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Every level's encoded map (after its attention), level 1 first; the last is ``encode``'s."""
        self.check_inputs(images)
        maps, x = [], images
        for block in self.blocks():
            x = block._encode_here(x)
            maps.append(x)
        return tuple(maps)
