"""Where a self-attention block sits in the UNet, and which map it really sees (lesson 05).

The package puts ``SelfAttention`` on a level's **encoded** map: after the level's down
path, before its child (the encoder side, A below). Other code attends on the
**decoder** side: seed 002 of the conversations puts a block on what a level's up path
returns, before the skip is joined (B)::

    x ──┬─────────────────────────────────────────────────── skip ──┐
        └─ down ──[A]── child ... ── up ──[B]─────────────────── join ── out
                  │                         │
                  encoded map: half of x's  up path's output: as large as x,
                  side, inner channels      outer channels

So a level's attention sees half the side of the map the level receives on the encoder
side, and the full side on the decoder side. Whether a table that says "level L: 8x8"
is off by one level depends on which side it means.

``add_decoder_attention`` builds B on chosen levels of a generator; ``attention_inputs``
runs one forward pass and records what every ``SelfAttention`` in a model was called on.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from .anatomy import Table
from .attention import SelfAttention
from .cost import attention_matrix_bytes, format_bytes
from .unet import UNetGenerator

__all__ = ["add_decoder_attention", "attention_inputs", "ENCODER_SIDE", "DECODER_SIDE"]

#: The two places: on the level's encoded map (A), on its up path's output before the join (B).
ENCODER_SIDE = "encoder"
DECODER_SIDE = "decoder"


def add_decoder_attention(model: UNetGenerator, levels: Iterable[int]) -> UNetGenerator:
    """Put ``SelfAttention(outer channels)`` at the end of the up path of each level in
    ``levels`` (in place, on the model's device), so that it attends to what the up path
    returns before the join: seed 002's placement. Returns ``model``.

    Level 1 is refused: its up path returns the image itself (``output_nc`` channels,
    after Tanh), not a feature map.
    """
    if not isinstance(model, UNetGenerator):
        raise TypeError(f"add_decoder_attention takes a UNetGenerator, got {type(model).__name__}")
    levels = tuple(levels)
    blocks = {block.level: block for block in model.blocks()}
    for level in levels:
        if isinstance(level, bool) or not isinstance(level, int) or level not in blocks or level == 1:
            raise ValueError(
                f"levels={levels!r} is not accepted: level {level!r} is not one of 2..{model.config.num_downs} "
                f"(level 1's up path returns the image, not a feature map)"
            )
    device = next(model.parameters()).device
    for level in sorted(set(levels)):
        block = blocks[level]
        if any(isinstance(module, SelfAttention) for module in block.up):
            raise ValueError(f"levels={levels!r} is not accepted: level {level}'s up path already ends in attention")
        with torch.device(device):
            block.up.append(SelfAttention(block.outer_channels))
    return model


def _attention_modules(model: UNetGenerator) -> list[tuple[int, str, SelfAttention]]:
    """``(level, side, module)`` for every SelfAttention of the model's blocks."""
    found = []
    for block in model.blocks():
        if block.attention is not None:
            found.append((block.level, ENCODER_SIDE, block.attention))
        found.extend((block.level, DECODER_SIDE, module) for module in block.up if isinstance(module, SelfAttention))
    return found


def attention_inputs(model: UNetGenerator, image_size: int = 256, batch: int = 1) -> Table:
    """Run one forward pass on zero images and record, for every ``SelfAttention`` of the
    model's blocks (on the encoded map or at the end of an up path), the map it was
    called on: its level and side, channels, side length, pixels N, the float32 memory
    of its N x N weights for ``batch`` images, and how many times it was called. The
    model is left as it was (mode, weights, buffers).

    On a model built on the ``meta`` device (``anatomy.build_meta``) this costs no
    memory and no arithmetic, however large the maps.
    """
    if not isinstance(model, UNetGenerator):
        raise TypeError(f"attention_inputs takes a UNetGenerator, got {type(model).__name__}")
    model.config.check_image_size(image_size, image_size)
    modules = _attention_modules(model)
    seen: dict[int, list[tuple[int, ...]]] = {id(module): [] for _, _, module in modules}

    def record(module, inputs):
        seen[id(module)].append(tuple(inputs[0].shape))

    device = next(model.parameters()).device
    images = torch.zeros(batch, model.config.input_nc, image_size, image_size, device=device)
    labels = torch.zeros(batch, dtype=torch.long, device=device)
    handles = [module.register_forward_pre_hook(record) for _, _, module in modules]
    buffers = {name: buffer.clone() for name, buffer in model.named_buffers()}
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(images, labels)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
        with torch.no_grad():
            for name, buffer in model.named_buffers():
                buffer.copy_(buffers[name])

    rows = []
    for level, side, module in modules:
        shapes = seen[id(module)]
        if not shapes:
            raise RuntimeError(f"the level {level} attention ({side} side) was not called in the forward pass")
        _, channels, height, width = shapes[0]
        rows.append((level, side, channels, f"{height}x{width}", height * width,
                     format_bytes(attention_matrix_bytes(height, width, batch=batch)), len(shapes)))
    return Table(
        columns=("level", "side", "channels", "map", "pixels N", "N x N weights", "calls"),
        rows=tuple(rows),
        title=f"What each SelfAttention sees, {image_size}x{image_size} input, batch {batch} (float32 weights)",
    )
