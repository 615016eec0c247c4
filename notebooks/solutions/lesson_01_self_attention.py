"""Solution to the exercise of lesson 01: the SAGAN self-attention block, by hand.

Check it with ``zi2zi_lessons.checks.check_self_attention(SAGANBlock)``.
"""

import torch
from torch import nn


class SAGANBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.query = nn.Conv2d(channels, channels // 8, kernel_size=1)
        self.key = nn.Conv2d(channels, channels // 8, kernel_size=1)
        self.value = nn.Conv2d(channels, channels, kernel_size=1)
        self.gamma = nn.Parameter(torch.zeros(1))  # zero: the new block is the identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        pixels = height * width
        query = self.query(x).reshape(batch, -1, pixels)  # (B, C/8, N)
        key = self.key(x).reshape(batch, -1, pixels)  # (B, C/8, N)
        value = self.value(x).reshape(batch, channels, pixels)  # (B, C, N)
        energy = query.transpose(1, 2) @ key  # (B, N, N): energy[i, j] = q_i . k_j
        weights = energy.softmax(dim=-1)  # row i (pixel i) sums to 1 over the keys j
        out = value @ weights.transpose(1, 2)  # (B, C, N): column i = sum_j w[i, j] v_j
        return self.gamma * out.reshape(batch, channels, height, width) + x
