"""What the networks cost: self-attention's matrix sizes, memory and time (lessons 01,
04-05 and ``benchmarks/attention_cost.py``), and multiply-adds counted by PyTorch
against torchinfo's estimate (lessons 01 and 03).

Self-attention on an ``H x W`` map compares every pixel with every other: with
``N = H * W`` pixels the weights form an ``N x N`` matrix per image. Written the way
the papers and the seeds write it (``bmm`` + ``softmax``), that matrix is stored;
on maps larger than 32x32 the package's ``SelfAttention`` uses PyTorch's fused
kernel, which never stores it.
Sizes here are computed (deterministic); times and peak memory are measured on the
machine that runs them and should only be compared within one run.

How peak memory is measured on a CPU: ``torch.profiler`` with ``profile_memory=True``
records every allocation and release made by PyTorch's CPU allocator as a signed
byte count with a time stamp; the running sum of those events, in time order, is
the memory PyTorch holds beyond what it held when measuring began, and its maximum
is the peak. (``tracemalloc`` sees only Python's own allocator, not tensors; the
process's resident size is blurred by the C library keeping freed memory.)
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from typing import Callable, Sequence

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode
from torchinfo import summary as torchinfo_summary

from .anatomy import Table, build_meta
from .attention import MultiHeadSelfAttention, SelfAttention, matrix_attention

__all__ = [
    "attention_matrix_entries",
    "attention_matrix_bytes",
    "format_bytes",
    "matrix_attend",
    "peak_memory_bytes",
    "best_times",
    "power_law_exponent",
    "level_attention_costs",
    "time_self_attention",
    "attention_multiply_adds",
    "head_costs",
    "attention_cost",
    "convolution_multiply_adds",
    "multiply_adds",
    "compare_with_matrix_version",
    "comparison_table",
]

BYTES_PER_FLOAT32 = 4


# ------------------------------------------------------------------ sizes (computed)
def attention_matrix_entries(height: int, width: int | None = None, batch: int = 1) -> int:
    """Entries of the attention weights for ``batch`` maps of ``height x width``: ``batch * N^2``."""
    width = height if width is None else width
    pixels = height * width
    return batch * pixels * pixels


def attention_matrix_bytes(height: int, width: int | None = None, batch: int = 1, bytes_per_entry: int = BYTES_PER_FLOAT32) -> int:
    """Bytes the stored ``(batch, N, N)`` weight matrix takes (float32 by default)."""
    return attention_matrix_entries(height, width, batch) * bytes_per_entry


def format_bytes(n: int | float) -> str:
    """``1073741824 -> '1.0 GiB'``; powers of 1024, one decimal."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


# ------------------------------------------------------------------ the seeds' form
def matrix_attend(block: SelfAttention, x: torch.Tensor) -> torch.Tensor:
    """``block.attend(x)`` written as the papers and the seeds write it: ``bmm`` + ``softmax``.

    Uses the block's own weights, so the result equals ``block.attend(x)``; the
    ``(B, N, N)`` weights are stored (and kept for the backward pass).
    """
    batch, channels, height, width = x.shape
    query = block.query(x).flatten(2).transpose(1, 2)  # (B, N, C/8)
    key = block.key(x).flatten(2).transpose(1, 2)  # (B, N, C/8)
    value = block.value(x).flatten(2).transpose(1, 2)  # (B, N, C)
    out = matrix_attention(query, key, value, scale=block.energy_scale)  # stores (B, N, N)
    return out.transpose(1, 2).reshape(batch, channels, height, width)


# ------------------------------------------------------------------ measuring
@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2: the profiler's C++ logger writes a time-stamped line
    there on every start and stop, which Jupyter would show under the cell."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def peak_memory_bytes(fn: Callable[[], object]) -> int:
    """Run ``fn()`` once and return the peak of the memory PyTorch's CPU allocator
    held during the call, beyond what it held before (bytes).

    Tensors that exist before the call (inputs, weights) are not counted; tensors
    ``fn`` returns are counted while they are alive inside the call.
    """
    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    held = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        held += event.nbytes()  # positive: allocated, negative: released
        peak = max(peak, held)
    return peak


def best_times(
    functions: Sequence[Callable[[], object]],
    repeats: int = 3,
    min_sample_seconds: float = 0.05,
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    """Seconds per call of each function: the fastest of ``repeats`` samples.

    One warm-up call each first (it also tells how long a call takes). A sample of a
    quick function times several calls in a row, enough to fill ``min_sample_seconds``,
    and divides (as ``timeit`` does), so that timer resolution and short interruptions
    weigh less. The functions are sampled in turns (a, b, a, b, ...) so that a busy
    machine slows them alike and their ratio stays meaningful.

    ``clock`` is wall time by default; ``time.process_time`` counts only the processor
    time this process used, which other programs on a busy machine cannot inflate (on
    one thread; with several it adds up the threads' time).
    """
    if repeats < 1:
        raise ValueError(f"repeats={repeats!r} is not accepted: it must be at least 1")
    calls = []
    for fn in functions:
        start = clock()
        fn()
        once = clock() - start
        calls.append(max(1, min(1000, int(min_sample_seconds / max(once, 1e-9)))))
    best = [math.inf] * len(functions)
    for _ in range(repeats):
        for i, fn in enumerate(functions):
            start = clock()
            for _ in range(calls[i]):
                fn()
            best[i] = min(best[i], (clock() - start) / calls[i])
    return best


def power_law_exponent(sizes: Sequence[float], values: Sequence[float]) -> float:
    """The exponent p of ``value ~ size^p``: the slope of a straight line through
    ``(log size, log value)`` fitted by least squares."""
    if len(sizes) != len(values) or len(sizes) < 2:
        raise ValueError(f"need at least two (size, value) pairs of equal count, got {len(sizes)} sizes and {len(values)} values")
    slope, _ = np.polyfit(np.log(np.asarray(sizes, dtype=float)), np.log(np.asarray(values, dtype=float)), 1)
    return float(slope)


# ------------------------------------------------------------------ per level of a generator
def level_attention_costs(spec=None, image_size: int = 256, batch: int = 1) -> Table:
    """Per level: encoded map, channels, pixels N, the N x N matrix and its float32
    memory for ``batch`` images, and the parameters ``SelfAttention`` would add there.

    Everything is computed from the generator's real level sizes (built on ``meta``).
    """
    model = build_meta({} if spec is None else spec)
    rows = []
    for info in model.levels(image_size):
        side = info.encoded_size
        channels = info.inner_channels
        rows.append((
            info.level,
            f"{side}x{side}",
            channels,
            side * side,
            attention_matrix_entries(side, batch=batch),
            format_bytes(attention_matrix_bytes(side, batch=batch)),
            sum(p.numel() for p in SelfAttention(channels).parameters()) if channels >= 8 else None,
        ))
    return Table(
        columns=("level", "encoded map", "channels", "pixels N", "matrix entries", "matrix memory", "attention parameters"),
        rows=tuple(rows),
        title=f"Self-attention at each level, {image_size}x{image_size} input, batch {batch} (float32)",
    )


def time_self_attention(
    channels: int, side: int, batch: int = 1, repeats: int = 2, seed: int = 0, stored_weights_max_pixels: int | None = None
) -> tuple[float, float]:
    """Best forward time and best forward+backward time (seconds) of the package's
    ``SelfAttention(channels).attend`` on a ``batch x channels x side x side`` map.

    ``stored_weights_max_pixels`` overrides the block's choice of path for this
    measurement (0: always the fused kernel); ``None`` keeps the package's default.
    """
    generator = torch.Generator().manual_seed(seed)
    block = SelfAttention(channels)
    if stored_weights_max_pixels is not None:
        block.stored_weights_max_pixels = stored_weights_max_pixels
    x = torch.randn(batch, channels, side, side, generator=generator, requires_grad=True)

    def forward():
        with torch.no_grad():
            block.attend(x)

    def forward_backward():
        block.attend(x).sum().backward()

    return tuple(best_times([forward, forward_backward], repeats))


def attention_multiply_adds(channels: int, side: int, batch: int = 1) -> int:
    """Multiply-adds of one forward pass of ``SelfAttention(channels)`` in the stored
    form (``matrix_attend``) on ``batch`` maps of ``side x side``, counted by PyTorch's
    ``FlopCounterMode`` (half its FLOPs: a multiply-add is two): the three 1x1
    convolutions (growing with N) and the two ``bmm`` (growing with N^2). The softmax
    and the additions are not counted. Deterministic, unlike a time."""
    with torch.device("meta"):  # shapes only: nothing is allocated or computed
        block = SelfAttention(channels)
        x = torch.zeros(batch, channels, side, side)
    with FlopCounterMode(display=False) as counter:
        matrix_attend(block, x)
    return counter.get_total_flops() // 2


def _softmax_entries(*shapes, out_shape=None, **kwargs) -> int:
    """A ``FlopCounterMode`` formula for the softmax: the entries it normalises (each
    takes an exponential, a share of a sum and a division; counted once)."""
    return math.prod(out_shape)


def head_costs(channels: int = 512, side: int = 16, heads: Sequence[int] = (1, 2, 4, 8, 16),
               batch: int = 1, num_groups: int = 32) -> Table:
    """Per head count: the parameters of ``MultiHeadSelfAttention(channels, num_heads=h)``,
    the FLOPs of one forward pass on ``batch`` maps of ``side x side`` counted by PyTorch's
    ``FlopCounterMode`` (convolutions and the attention's matrix products), and the softmax
    entries the same counter counts with a formula of ours (PyTorch's counter has none for
    the softmax).

    Counted on the ``meta`` device, where ``scaled_dot_product_attention`` takes its math
    path (``bmm``, softmax, ``bmm``): shapes only, nothing is computed, deterministic.
    (On the CPU the fused kernel runs, and this PyTorch's counter does not count it.)
    """
    heads = list(heads)
    if not heads or any(isinstance(h, bool) or not isinstance(h, int) or h <= 0 for h in heads):
        raise ValueError(f"heads={heads!r} is not accepted: give positive integers, e.g. (1, 2, 4, 8)")
    for name, value in (("side", side), ("batch", batch)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name}={value!r} is not accepted: it must be a positive integer")
    softmax = {torch.ops.aten._softmax: _softmax_entries, torch.ops.aten._safe_softmax: _softmax_entries}
    rows = []
    for h in heads:
        with torch.device("meta"):
            block = MultiHeadSelfAttention(channels, num_heads=h, num_groups=num_groups)  # validates the widths
            x = torch.zeros(batch, channels, side, side)
        with FlopCounterMode(display=False, custom_mapping=softmax) as counter:
            block(x)
        counts = {str(op): n for op, n in counter.get_flop_counts()["Global"].items()}
        softmax_entries = sum(n for op, n in counts.items() if "softmax" in op)
        rows.append((h, sum(p.numel() for p in block.parameters()), counter.get_total_flops() - softmax_entries,
                     counts.get("aten.bmm", 0), softmax_entries))
    return Table(
        columns=("heads", "parameters", "FLOPs", "of which attention bmm", "softmax entries"),
        rows=tuple(rows),
        title=f"MultiHeadSelfAttention({channels}) on {side}x{side}, batch {batch}: one forward pass, counted",
        footer="FLOPs: FlopCounterMode (a multiply-add is 2); softmax entries: counted by the same pass",
    )


def attention_cost(
    sides: Sequence[int] = (4, 8, 16, 32, 64, 128, 256),
    channels: int = 64,
    batch: int = 1,
    largest_timed: int = 64,
    repeats: int = 5,
    seed: int = 0,
) -> Table:
    """Per map side: pixels N, matrix entries, matrix memory (float32), the counted
    multiply-adds and the measured forward time of ``SelfAttention(channels)`` with its
    weights stored, as the papers write it (lesson 01's cost curves; lesson 05 measures
    the fused kernel the package switches to above 32x32).

    Sides above ``largest_timed`` are listed without a time: their matrix would take
    a laptop's memory. The time is processor time on one thread (``time.process_time``
    with ``torch.set_num_threads(1)`` for the measurement): a machine busy with other
    programs delays a call in wall time, by more the longer the call, but does not
    change the processor time it uses. The sides are timed in turns, ``repeats``
    rounds (``best_times``), and each keeps its fastest. Compare the ratios between
    sides; the absolute times belong to this machine and this call.
    """
    sides = list(sides)
    if not sides or any(isinstance(s, bool) or not isinstance(s, int) or s <= 0 for s in sides):
        raise ValueError(f"sides={sides!r} is not accepted: give positive integers, e.g. (4, 8, 16, 32)")
    for name, value in (("batch", batch), ("largest_timed", largest_timed), ("repeats", repeats)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name}={value!r} is not accepted: it must be a positive integer")
    SelfAttention(channels)  # validates channels before any timing
    timed_sides = [side for side in sides if side <= largest_timed]
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    block = SelfAttention(channels)
    # The stored-matrix form at every size, so the curve shows the N^2 law of the form this
    # lesson builds (the package's block would switch to the fused kernel above 32x32).
    inputs = {side: torch.randn(batch, channels, side, side, generator=generator) for side in timed_sides}

    def forward(x):
        def run():
            with torch.no_grad():
                matrix_attend(block, x)
        return run

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        seconds = dict(zip(timed_sides, best_times([forward(inputs[side]) for side in timed_sides], repeats,
                                                   clock=time.process_time)))
    finally:
        torch.set_num_threads(threads)
    rows = []
    for side in sides:
        rows.append((
            side,
            side * side,
            attention_matrix_entries(side, batch=batch),
            format_bytes(attention_matrix_bytes(side, batch=batch)),
            attention_multiply_adds(channels, side, batch),
            round(1e3 * seconds[side], 3) if side in seconds else None,
        ))
    return Table(
        columns=("side", "N", "matrix entries", "matrix memory", "multiply-adds", "forward ms"),
        rows=tuple(rows),
        title=f"SelfAttention({channels}), batch {batch}, float32",
        footer=(f"multiply-adds: counted (FlopCounterMode); forward ms: weights stored, processor time on one "
                f"thread, sides timed in turns, best of {repeats}, this machine and run only; sides above "
                f"{largest_timed} not timed"),
    )


# ------------------------------------------------------------------ convolutions: torchinfo against PyTorch
def _flop_counts_by_module(model: torch.nn.Module, *inputs) -> tuple[dict[str, int], int]:
    """FLOPs per module name (as ``named_modules`` spells it) and in total, for one forward."""
    with FlopCounterMode(display=False) as counter:
        model(*inputs)
    prefix = type(model).__name__ + "."
    per_module = {
        name[len(prefix):]: sum(counts.values())
        for name, counts in counter.get_flop_counts().items() if name.startswith(prefix)
    }
    return per_module, counter.get_total_flops()


def convolution_multiply_adds(spec=None, image_size: int = 256) -> Table:
    """Per down- and up-convolution of a generator: the multiply-adds torchinfo reports
    and the ones PyTorch's ``torch.utils.flop_counter`` counts, for one image.

    For a convolution both count output pixels x kernel taps x input x output channels.
    For a stride-2 transposed convolution torchinfo does the same, as if every output
    pixel took all 16 taps of its 4x4 kernel; each input pixel is spread over 16 output
    pixels instead, and each output pixel receives 4 taps, so the layer computes input
    pixels x 16 taps x channels: 4 times fewer. ``FlopCounterMode`` counts that.
    Built on the meta device: no weights, no arithmetic, milliseconds.
    """
    model = build_meta({} if spec is None else spec).eval()
    config = model.config
    config.check_image_size(image_size, image_size)
    with torch.device("meta"):
        images = torch.zeros(1, config.input_nc, image_size, image_size)
        labels = torch.zeros(1, dtype=torch.long)
    stats = torchinfo_summary(model, input_data=[images, labels], depth=100, mode="eval", verbose=0)
    by_torchinfo = {id(row.module): row.macs for row in stats.summary_list}
    shapes = {}  # id(convolution) -> (input map, output map)

    def record(layer, inputs, output):
        shapes[id(layer)] = (tuple(inputs[0].shape[2:]), tuple(output.shape[2:]))

    hooks = [m.register_forward_hook(record) for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    try:
        flops, total_flops = _flop_counts_by_module(model, images, labels)
    finally:
        for hook in hooks:
            hook.remove()
    names = {id(m): name for name, m in model.named_modules()}
    rows = []
    for block in model.blocks():
        for part, layers in (("down", block.down), ("up", block.up)):
            conv = next(m for m in layers if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)))
            (in_h, in_w), (out_h, out_w) = shapes[id(conv)]
            counted = flops[names[id(conv)]] // 2
            reported = by_torchinfo[id(conv)]
            rows.append((
                block.level, part, _layer_name(conv), f"{in_h}x{in_w}", f"{out_h}x{out_w}",
                reported, counted, f"{reported / counted:.2f}",
            ))
    return Table(
        columns=("level", "part", "layer", "input map", "output map", "torchinfo", "flop counter", "ratio"),
        rows=tuple(rows),
        title=f"Multiply-adds per convolution, one {image_size}x{image_size} image",
        footer=(f"whole generator: torchinfo {stats.total_mult_adds:,}, flop counter {total_flops // 2:,} "
                f"({total_flops:,} FLOPs: a multiply-add is two)"),
    )


def _layer_name(conv: torch.nn.Module) -> str:
    kernel = "x".join(str(k) for k in conv.kernel_size)
    stride = conv.stride[0]
    return f"{type(conv).__name__}({conv.in_channels} -> {conv.out_channels}, k{kernel} s{stride})"


def multiply_adds(spec=None, image_size: int = 256, batch: int = 1) -> int:
    """Multiply-adds of one forward pass of a generator on ``batch`` images, as PyTorch's
    ``FlopCounterMode`` counts them (half its FLOPs; convolutions and attention's matrix
    products). Built on the meta device."""
    model = build_meta({} if spec is None else spec).eval()
    config = model.config
    config.check_image_size(image_size, image_size)
    with torch.device("meta"):
        images = torch.zeros(batch, config.input_nc, image_size, image_size)
        labels = torch.zeros(batch, dtype=torch.long)
    return _flop_counts_by_module(model, images, labels)[1] // 2


# ------------------------------------------------------------------ package against matrix version
def compare_with_matrix_version(channels: int, side: int, batch: int = 4, repeats: int = 3, seed: int = 0) -> dict:
    """The package's ``SelfAttention.attend`` against ``matrix_attend`` with the same weights.

    Forward is measured without autograd (inference); forward+backward with it
    (training). Returns times (s), peak memory (bytes), the ratios
    matrix / package (above 1: the package is better) and the largest absolute
    difference between the two outputs.
    """
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    block = SelfAttention(channels)
    x = torch.randn(batch, channels, side, side, generator=generator, requires_grad=True)
    upstream = torch.randn(batch, channels, side, side, generator=generator)

    def forward(attend):
        def run():
            with torch.no_grad():
                return attend(x)
        return run

    def forward_backward(attend):
        def run():
            attend(x).backward(upstream)
        return run

    package, matrix = block.attend, lambda t: matrix_attend(block, t)
    with torch.no_grad():
        max_difference = (package(x) - matrix(x)).abs().max().item()
    result = {"channels": channels, "side": side, "batch": batch, "max_difference": max_difference}
    for name, make in (("forward", forward), ("forward_backward", forward_backward)):
        package_time, matrix_time = best_times([make(package), make(matrix)], repeats)
        package_peak, matrix_peak = peak_memory_bytes(make(package)), peak_memory_bytes(make(matrix))
        result[name] = {
            "package_time": package_time,
            "matrix_time": matrix_time,
            "time_ratio": matrix_time / package_time,
            "package_peak": package_peak,
            "matrix_peak": matrix_peak,
            "memory_ratio": matrix_peak / package_peak if package_peak else math.inf,
        }
    return result


def comparison_table(results: Sequence[dict], title: str = "") -> Table:
    """One row per (map, channels, pass) from ``compare_with_matrix_version`` results."""
    rows = []
    for r in results:
        for name, label in (("forward", "forward"), ("forward_backward", "fwd+bwd")):
            m = r[name]
            rows.append((
                f"{r['side']}x{r['side']}",
                r["channels"],
                label,
                round(1e3 * m["package_time"], 1),
                round(1e3 * m["matrix_time"], 1),
                f"{m['time_ratio']:.2f}",
                format_bytes(m["package_peak"]),
                format_bytes(m["matrix_peak"]),
                f"{m['memory_ratio']:.1f}",
                f"{r['max_difference']:.1e}",
            ))
    return Table(
        columns=("map", "channels", "pass", "package ms", "matrix ms", "time ratio", "package peak", "matrix peak", "memory ratio", "max |difference|"),
        rows=tuple(rows),
        title=title,
        footer="ratios are matrix / package: above 1 the package's SelfAttention is faster or smaller",
    )
