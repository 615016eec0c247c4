"""The diffusion-model way of adding attention to a UNet level (lesson 05).

Diffusion UNets do not put a bare attention block on an encoded map, as SAGAN and
the zi2zi forks do; they follow a residual block with a multi-head attention
block, both normalised with GroupNorm::

    x ─┬─ GroupNorm ─ SiLU ─ Conv3x3 ─ GroupNorm ─ SiLU ─ Conv3x3 ─(+)─┬─ MultiHeadSelfAttention ─▶
       └───────────────── [Conv1x1 if the width changes] ───────────┘      (GroupNorm, heads, proj, +)

GroupNorm(G, C) needs C divisible by G, and the heads need C divisible by their
number: ``channel_constraints`` says which levels of a zi2zi generator can take the
block. Diffusion models also feed a time embedding into the residual block; zi2zi
has no time step, so this block leaves it out.
"""

from __future__ import annotations

from torch import nn

from .anatomy import Table, as_config
from .attention import MultiHeadSelfAttention

__all__ = ["ResidualBlock", "DiffusionAttentionBlock", "channel_constraints"]


def _check_divisible(name: str, channels: int, divisor_name: str, divisor: int) -> None:
    if channels % divisor != 0:
        raise ValueError(
            f"{name}={channels} is not accepted with {divisor_name}={divisor}: it must be divisible by {divisor}"
        )


class ResidualBlock(nn.Module):
    """``x + F(x)`` with ``F = Conv3x3(SiLU(GroupNorm(Conv3x3(SiLU(GroupNorm(x))))))``.

    Args:
        in_channels, out_channels: widths; a 1x1 convolution matches ``x`` to
            ``out_channels`` when they differ.
        num_groups: GroupNorm groups; both widths must be divisible by it.

    Shapes: ``(B, in, H, W) -> (B, out, H, W)``.
    """

    def __init__(self, in_channels: int, out_channels: int | None = None, num_groups: int = 32):
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("num_groups", num_groups)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name}={value!r} is not accepted: it must be a positive integer")
        _check_divisible("in_channels", in_channels, "num_groups", num_groups)
        _check_divisible("out_channels", out_channels, "num_groups", num_groups)
        self.residual = nn.Sequential(
            nn.GroupNorm(num_groups, in_channels),
            nn.SiLU(),
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
            nn.GroupNorm(num_groups, out_channels),
            nn.SiLU(),
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1),
        )
        self.shortcut = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, kernel_size=1)

    def forward(self, x):
        return self.shortcut(x) + self.residual(x)


class DiffusionAttentionBlock(nn.Sequential):
    """A residual block, then multi-head self-attention: what diffusion UNets put on
    their low-resolution levels. Shapes: ``(B, C, H, W) -> (B, C, H, W)``."""

    def __init__(self, channels: int, num_heads: int = 8, num_groups: int = 32):
        super().__init__(
            ResidualBlock(channels, channels, num_groups=num_groups),
            MultiHeadSelfAttention(channels, num_heads=num_heads, num_groups=num_groups),
        )


def channel_constraints(spec=None, num_heads: int = 8, num_groups: int = 32) -> Table:
    """Per level of a generator: can its encoded map take ``SelfAttention`` (C >= 8)
    and ``DiffusionAttentionBlock`` (C % num_groups and C % num_heads)?"""
    config = as_config({} if spec is None else spec)
    rows = []
    for level in range(1, config.num_downs + 1):
        channels = config.level_channels(level)[1]
        reasons = []
        if channels % num_groups:
            reasons.append(f"{channels} % {num_groups} groups = {channels % num_groups}")
        if channels % num_heads:
            reasons.append(f"{channels} % {num_heads} heads = {channels % num_heads}")
        rows.append((level, channels, channels >= 8, not reasons, "; ".join(reasons)))
    return Table(
        columns=("level", "channels", "SAGAN fits", "diffusion block fits", "why not"),
        rows=tuple(rows),
        title=f"ngf={config.ngf}: GroupNorm({num_groups}) and {num_heads} heads against each level's width",
    )
