"""Self-attention blocks for feature maps.

Two blocks, one idea each:

* ``SelfAttention``: the SAGAN block (Zhang et al., 2019) that zi2zi forks add to
  the UNet. 1x1 convolutions make a query and a key of ``C // 8`` channels and a
  value of ``C`` channels for every pixel; every pixel then takes a softmax-weighted
  average of all pixels' values; the result is scaled by a learned ``gamma``
  (initialised to zero) and added to the input::

      x ──┬── query(x) ─┐
          ├── key(x) ───┴─ softmax(q k^T [/ sqrt(C//8)]) ─┐
          ├── value(x) ───────────────────────────────────┴─ weighted sum ── * gamma ─┐
          └──────────────────────────────────────────────────────────────────────────(+)── out

  Because gamma starts at 0, a freshly built block is the identity.

* ``MultiHeadSelfAttention``: the block of diffusion-model UNets: GroupNorm, one
  1x1 convolution producing query, key and value for several heads, scaled
  attention per head, a 1x1 output projection and a residual connection.

Both compute attention with ``torch.nn.functional.scaled_dot_product_attention``.
On small maps ``SelfAttention`` passes its narrow query and key as they are and PyTorch
stores the N x N weights (its math path, the numbers of ``matrix_attention``); on
larger maps it pads query and key to the value's width so that PyTorch's fused
kernel runs and the matrix is never stored (``fused_attention``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "SelfAttention",
    "MultiHeadSelfAttention",
    "self_attention_parameter_count",
    "matrix_attention",
    "fused_attention",
]


def self_attention_parameter_count(channels: int) -> int:
    """Parameters of ``SelfAttention(channels)``: ``2(C*K + K) + C^2 + C + 1`` with
    ``K = C // 8`` (``2(C*C/8 + C/8) + ...`` when C is a multiple of 8).

    Two 1x1 convs C -> K (query, key) with biases, one 1x1 conv C -> C (value) with
    bias, and the scalar gamma.
    """
    key_channels = channels // 8
    return 2 * (channels * key_channels + key_channels) + channels * channels + channels + 1


def matrix_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, scale: float) -> torch.Tensor:
    """``softmax(query @ key^T * scale) @ value`` with the ``(B, N, N)`` weights stored,
    as the papers write it. Shapes: query and key ``(B, N, D)``, value ``(B, N, C)``."""
    weights = torch.softmax(torch.bmm(query, key.transpose(1, 2)) * scale, dim=-1)
    return torch.bmm(weights, value)


def fused_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, scale: float) -> torch.Tensor:
    """``softmax(query @ key^T * scale) @ value`` without ever storing the N x N matrix.

    Shapes: query and key ``(B, N, D)``, value ``(B, N, C)`` with ``D <= C``; returns
    ``(B, N, C)``.

    SAGAN's query and key are narrower (``C // 8``) than its value (``C``), and
    PyTorch's fused CPU kernel (flash attention, which works through the keys in
    blocks and keeps only running softmax sums) runs only when query, key and value
    share one head size; for unequal sizes ``scaled_dot_product_attention`` falls
    back to the math path, which materialises the ``(B, N, N)`` weights. Zero-padding
    query and key to ``C`` channels changes no dot product (the extra terms are
    ``0 * 0``), so the weights are exactly SAGAN's, and the fused kernel runs: memory
    grows with N instead of N^2. The cost: the ``q . k`` products now run over C
    channels instead of C/8 (lesson 05 and ``benchmarks/attention_cost.py`` measure
    what that buys and costs).
    """
    query_channels, value_channels = query.shape[-1], value.shape[-1]
    if key.shape[-1] != query_channels or query_channels > value_channels:
        raise ValueError(
            f"fused_attention needs query and key of the same width, at most the value's: got query "
            f"{query_channels}, key {key.shape[-1]}, value {value_channels} channels"
        )
    padding = (0, value_channels - query_channels)
    # One head: (B, N, C) -> (B, 1, N, C), the 4-d layout the fused kernel takes; it
    # also needs the channels contiguous in memory (a transposed view would send it
    # to the math path).
    out = F.scaled_dot_product_attention(
        F.pad(query, padding).unsqueeze(1),
        F.pad(key, padding).unsqueeze(1),
        value.contiguous().unsqueeze(1),
        scale=scale,
    )
    return out.squeeze(1)


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name}={value!r} is not accepted: it must be a positive integer")


class SelfAttention(nn.Module):
    """SAGAN self-attention over the pixels of a feature map.

    Args:
        channels: channels C of the feature map, at least 8: query and key get
            ``C // 8`` channels (rounded down, as SAGAN and zi2zi-pytorch compute it:
            12 channels give a 1-channel query). Below 8 they would get none:
            PyTorch builds a convolution with 0 output channels, with a warning, and
            refuses to run it, so upstream-style code fails at the first forward pass;
            this block refuses at construction.
        scaled: divide the energy ``q . k`` by ``sqrt(C // 8)`` before the softmax (as
            transformers do). SAGAN and zi2zi forks use the unscaled energy, the default.

    Shapes: ``(B, C, H, W) -> (B, C, H, W)``.
    """

    #: Maps of at most this many pixels (32x32) store their N x N weights: at most
    #: 4 MiB per image in float32, and there the stored form is as fast or faster.
    #: Larger maps use ``fused_attention``, whose memory grows with N instead of N^2
    #: (6 to 24 times less at 64x64). ``benchmarks/attention_cost.py`` measures both
    #: sides of this choice.
    stored_weights_max_pixels = 1024

    def __init__(self, channels: int, scaled: bool = False):
        super().__init__()
        _check_positive_int("channels", channels)
        if channels < 8:
            raise ValueError(
                f"channels={channels} is not accepted: SelfAttention projects query and key to "
                f"channels // 8 = {channels // 8} channels, and a convolution with no output channels "
                f"cannot run; use at least 8 channels"
            )
        self.channels = channels
        self.key_channels = channels // 8
        self.scaled = bool(scaled)
        self.query = nn.Conv2d(channels, self.key_channels, kernel_size=1)
        self.key = nn.Conv2d(channels, self.key_channels, kernel_size=1)
        self.value = nn.Conv2d(channels, channels, kernel_size=1)
        self.gamma = nn.Parameter(torch.zeros(1))

    @property
    def energy_scale(self) -> float:
        """The factor applied to ``q . k`` before the softmax."""
        return self.key_channels ** -0.5 if self.scaled else 1.0

    def attend(self, x: torch.Tensor) -> torch.Tensor:
        """The attention output before ``gamma * out + x``: shape ``(B, C, H, W)``.

        Both paths call ``scaled_dot_product_attention``. Small maps
        (``H * W <= stored_weights_max_pixels``) pass the narrow query and key as they
        are, so PyTorch's math path stores the N x N weights (the same numbers as
        ``matrix_attention``); larger maps go through ``fused_attention``.
        """
        batch, channels, height, width = x.shape
        if channels != self.channels:
            raise ValueError(
                f"input has {channels} channels, but this SelfAttention was built for {self.channels}"
            )
        # (B, C', H, W) -> (B, N, C'): one row per pixel, N = H * W.
        query = self.query(x).flatten(2).transpose(1, 2)
        key = self.key(x).flatten(2).transpose(1, 2)
        value = self.value(x).flatten(2).transpose(1, 2)
        if height * width <= self.stored_weights_max_pixels:
            # Unequal head sizes (C/8 vs C): PyTorch takes its math path, which stores the weights.
            out = F.scaled_dot_product_attention(query, key, value, scale=self.energy_scale)
        else:
            out = fused_attention(query, key, value, scale=self.energy_scale)
        return out.transpose(1, 2).reshape(batch, channels, height, width)

    def attention_map(self, x: torch.Tensor) -> torch.Tensor:
        """The softmax weights, shape ``(B, N, N)``: row i says where pixel i looks."""
        query = self.query(x).flatten(2).transpose(1, 2)
        key = self.key(x).flatten(2)
        return torch.softmax(torch.bmm(query, key) * self.energy_scale, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gamma * self.attend(x) + x

    def extra_repr(self) -> str:
        return f"channels={self.channels}, key_channels={self.key_channels}, scaled={self.scaled}"


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention with GroupNorm, as in diffusion-model UNets.

    ``out = x + proj(attention(qkv(GroupNorm(x))))`` with ``num_heads`` heads of
    ``C // num_heads`` channels and the energy scaled by ``1 / sqrt(head_channels)``.

    Args:
        channels: channels C of the feature map; must be divisible by ``num_heads``
            and by ``num_groups``.
        num_heads: attention heads.
        num_groups: GroupNorm groups (32 in most diffusion UNets).
    """

    def __init__(self, channels: int, num_heads: int = 8, num_groups: int = 32):
        super().__init__()
        _check_positive_int("channels", channels)
        _check_positive_int("num_heads", num_heads)
        _check_positive_int("num_groups", num_groups)
        if channels % num_heads != 0:
            raise ValueError(
                f"channels={channels} is not accepted with num_heads={num_heads}: every head gets "
                f"channels // num_heads channels, so channels must be divisible by num_heads"
            )
        if channels % num_groups != 0:
            raise ValueError(
                f"channels={channels} is not accepted with num_groups={num_groups}: GroupNorm splits "
                f"the channels into equal groups, so channels must be divisible by num_groups"
            )
        self.channels = channels
        self.num_heads = num_heads
        self.head_channels = channels // num_heads
        self.norm = nn.GroupNorm(num_groups, channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, kernel_size=1)
        self.proj = nn.Conv2d(channels, channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        if channels != self.channels:
            raise ValueError(
                f"input has {channels} channels, but this MultiHeadSelfAttention was built for {self.channels}"
            )
        qkv = self.qkv(self.norm(x))
        # (B, 3C, H, W) -> 3 x (B, heads, N, head_channels)
        qkv = qkv.reshape(batch, 3, self.num_heads, self.head_channels, height * width)
        # contiguous: the fused kernel needs each head's channels adjacent in memory;
        # on a transposed view it would fall back to the math path (the N x N matrix).
        query, key, value = qkv.permute(1, 0, 2, 4, 3).contiguous().unbind(0)
        out = F.scaled_dot_product_attention(query, key, value)
        out = out.transpose(2, 3).reshape(batch, channels, height, width)
        return x + self.proj(out)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, num_heads={self.num_heads}"
