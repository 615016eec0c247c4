"""What self-attention costs per feature-map size, measured.

A SAGAN block on an ``H x W`` map builds an ``N x N`` matrix of weights, ``N = H * W``:
every pixel against every pixel. Doubling the side multiplies ``N`` by 4 and the
matrix by 16. ``attention_cost`` lists, per map side, the matrix entries, its memory
(float32) and the measured forward time of ``SelfAttention``; the largest maps are
listed without a time, because building their matrix would take a laptop's memory.

Times are medians (``torch.utils.benchmark``, one thread) on this machine and only
mean something as ratios within one call; tests never assert them.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.utils.benchmark as benchmark

from .anatomy import Table
from .attention import SelfAttention

__all__ = ["attention_matrix_entries", "attention_matrix_mib", "format_mib", "attention_cost"]

_FLOAT32_BYTES = 4


def attention_matrix_entries(side: int, batch_size: int = 1) -> int:
    """Entries of the attention matrices for a ``side x side`` map: ``batch * (side*side)**2``."""
    tokens = side * side
    return batch_size * tokens * tokens


def attention_matrix_mib(side: int, batch_size: int = 1) -> float:
    """Memory of those matrices in float32, in MiB (2**20 bytes)."""
    return attention_matrix_entries(side, batch_size) * _FLOAT32_BYTES / 2**20


def format_mib(mib: float) -> str:
    """``0.016`` below one MiB, ``1,024`` above: readable at every size in the table."""
    return f"{mib:,.3f}" if mib < 1 else f"{mib:,.0f}"


def _median_forward_us(block: SelfAttention, x: torch.Tensor, min_run_time: float) -> int:
    # torch's Timer warms up, runs on one thread (steadier on a shared CPU) and
    # repeats until min_run_time has passed.
    timer = benchmark.Timer(stmt="block(x)", globals={"block": block, "x": x}, num_threads=1)
    with torch.no_grad():
        return round(timer.blocked_autorange(min_run_time=min_run_time).median * 1e6)


def attention_cost(
    sides: Sequence[int] = (4, 8, 16, 32, 64, 128, 256),
    channels: int = 64,
    batch_size: int = 1,
    largest_timed: int = 64,
    min_run_time: float = 0.2,
    seed: int = 0,
) -> Table:
    """Per map side: ``N``, matrix entries, matrix MiB and the median forward time in µs.

    Every side up to ``largest_timed`` is timed with ``SelfAttention(channels)`` on a
    random ``(batch_size, channels, side, side)`` input (``gamma`` set to 1 so the
    attention output is used); larger sides get ``None`` as their time. "matrix MiB"
    is text (see ``format_mib``); ``attention_matrix_mib`` gives the number.
    """
    sides = list(sides)
    if not sides or any(isinstance(s, bool) or not isinstance(s, int) or s <= 0 for s in sides):
        raise ValueError(f"sides={sides!r} is not accepted: give positive integers, e.g. (4, 8, 16, 32)")
    for name, value in (("batch_size", batch_size), ("largest_timed", largest_timed)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name}={value!r} is not accepted: it must be a positive integer")
    if not min_run_time > 0:
        raise ValueError(f"min_run_time={min_run_time!r} is not accepted: it must be a positive number of seconds")
    generator = torch.Generator().manual_seed(seed)
    block = None
    rows = []
    for side in sides:
        forward_us = None
        if side <= largest_timed:
            if block is None:
                torch.manual_seed(seed)
                block = SelfAttention(channels).eval()  # validates channels
                with torch.no_grad():
                    block.gamma.fill_(1.0)
            x = torch.randn(batch_size, channels, side, side, generator=generator)
            forward_us = _median_forward_us(block, x, min_run_time)
        rows.append((
            side,
            side * side,
            attention_matrix_entries(side, batch_size),
            format_mib(attention_matrix_mib(side, batch_size)),
            forward_us,
        ))
    return Table(
        columns=("side", "N", "matrix entries", "matrix MiB", "forward µs"),
        rows=tuple(rows),
        title=f"SelfAttention({channels}), batch {batch_size}, float32",
        footer=f"forward µs: median on one thread of this machine, this run only; sides above {largest_timed} not timed",
    )
