"""What a skip connection carries, and what removing one changes (lesson 04).

In this package a level's ``skip`` is how ITS block joins its own input ``x`` (the
map the level above encoded, attended if that level has attention) with its up
path::

    level L-1 encodes e[L-1] (attention: e[L-1] = att(down(x)))
            │
            ▼  x[L] = e[L-1]
    level L:  x[L] ──┬──────────────── skip of level L ───────────────┐
                     └─ down ─ [att] ─ e[L] ─ level L+1 ... ─ up ──── join ─▶ to level L-1's up-conv

So the skip of level L lets ``e[L-1]`` reach the decoder without passing through
level L's down path and attention; the attended map ``e[L]`` is carried, in turn,
by the skip of level L+1.

``up_conv_inputs`` tabulates up-convolution inputs for several designs side by
side; ``skip_routes`` measures, for one forward and backward pass, which map each
skip carries and how much gradient flows through the skip versus the down path.
"""

from __future__ import annotations

from typing import Mapping

import torch

from .anatomy import Table, build_meta, count_parameters
from .unet import UNetGenerator

__all__ = ["up_conv_inputs", "skip_routes"]


def _as_model(spec) -> UNetGenerator:
    return spec if isinstance(spec, UNetGenerator) else build_meta(spec)


def up_conv_inputs(designs: Mapping[str, object], image_size: int = 256) -> Table:
    """Per level, each design's skip mode and up-convolution ``in -> out`` channels.

    ``designs`` maps a name to a ``UNetGenerator``, a ``GeneratorConfig`` or a dict of
    its arguments (configurations are built on ``meta``). All designs must have the
    same depth. The footer gives each design's total parameters.
    """
    if not designs:
        raise ValueError("up_conv_inputs needs at least one design")
    models = {name: _as_model(spec) for name, spec in designs.items()}
    depths = {name: model.config.num_downs for name, model in models.items()}
    if len(set(depths.values())) != 1:
        raise ValueError(f"up_conv_inputs needs designs of one depth, got num_downs {depths}")
    levels = {name: model.levels(image_size) for name, model in models.items()}
    first = next(iter(levels.values()))
    rows = []
    for i, info in enumerate(first):
        row = [info.level, f"{info.encoded_size}x{info.encoded_size}"]
        for name in models:
            level = levels[name][i]
            mark = "att " if level.attention else ""
            row.append(f"{mark}{level.skip}: {level.up_in_channels} -> {level.up_conv_out_channels}")
        rows.append(tuple(row))
    totals = ", ".join(f"{name} {count_parameters(model):,}" for name, model in models.items())
    return Table(
        columns=("level", "encoded map", *models),
        rows=tuple(rows),
        title="Skip mode and up-convolution input -> output channels, per level ('att': attention on this level)",
        footer=f"parameters: {totals}",
    )


def skip_routes(model: UNetGenerator, images: torch.Tensor, labels: torch.Tensor, upstream: torch.Tensor | None = None) -> Table:
    """For one forward and backward pass, per level: which map the skip carries and
    the gradient that reaches the level's input ``x`` through the skip versus through
    the down path.

    "the map passed attention" is measured too: whether the map the skip carries was
    computed through an attention block, i.e. whether autograd finds any attention
    ``gamma`` among what it depends on (on the input image, never).

    The loss is ``(output * upstream).sum()`` (``upstream`` defaults to ones). The
    down path is fed an alias of ``x`` (a view, the same numbers), so autograd keeps
    the two routes apart: the gradient at the alias is the down path's share, the
    gradient at ``x`` is the total, and their difference is the skip's share. With
    ``skip="none"`` only the down path uses ``x``, and the two gradients are the same
    tensor: the skip's share is exactly zero.

    The model is left as it was: its mode, weights and buffers (BatchNorm's running
    statistics are restored after the forward pass) and its parameters' ``.grad``
    (the backward pass asks only for the input gradients).
    """
    model.check_inputs(images, labels)
    blocks = list(model.blocks())
    captured: dict[int, dict[str, torch.Tensor]] = {i: {} for i in range(len(blocks))}
    handles = []

    def split_input(index):
        def hook(module, inputs):
            (x,) = inputs
            alias = x.view_as(x)
            captured[index]["x"] = x
            captured[index]["alias"] = alias
            return (alias,)
        return hook

    def keep_encoded(index):
        def hook(module, inputs, output):
            captured[index]["encoded"] = output
        return hook

    images = images.detach().requires_grad_(True)
    # A forward pass in train mode updates BatchNorm's running statistics: keep them.
    buffers = {name: buffer.clone() for name, buffer in model.named_buffers()}
    try:
        for i, block in enumerate(blocks):
            handles.append(block.down.register_forward_pre_hook(split_input(i)))
            # The map this level hands down to its child: after attention, if any.
            last = block.attention if block.attention is not None else block.down
            handles.append(last.register_forward_hook(keep_encoded(i)))
        output = model(images, labels)
        gammas = [block.attention.gamma for block in blocks if block.attention is not None]
        passed_attention = [
            bool(gammas) and any(
                grad is not None
                for grad in torch.autograd.grad(captured[i]["x"].sum(), gammas, retain_graph=True, allow_unused=True)
            )
            for i in range(len(blocks))
        ]
        upstream = torch.ones_like(output) if upstream is None else upstream
        inputs = [captured[i][name] for i in range(len(blocks)) for name in ("x", "alias")]
        gradients = torch.autograd.grad((output * upstream).sum(), inputs, allow_unused=True)
    finally:
        for handle in handles:
            handle.remove()
        with torch.no_grad():  # after the backward pass, which needs the buffers as they were
            for name, buffer in model.named_buffers():
                buffer.copy_(buffers[name])

    rows = []
    for i, block in enumerate(blocks):
        total, down = gradients[2 * i], gradients[2 * i + 1]
        total = torch.zeros_like(captured[i]["x"]) if total is None else total
        down = torch.zeros_like(captured[i]["x"]) if down is None else down
        x = captured[i]["x"]
        if i == 0:
            carries, is_parent_map = "the input image", x is images
        else:
            parent = blocks[i - 1]
            attended = ", attended" if parent.attention is not None else ""
            carries = f"level {parent.level}'s encoded map{attended} ({x.shape[1]} ch, {x.shape[2]}x{x.shape[3]})"
            is_parent_map = torch.equal(x, captured[i - 1]["encoded"])
        skip_share = total - down
        rows.append((
            block.level,
            block.skip,
            carries if block.skip != "none" else f"nothing (x = {carries})",
            bool(is_parent_map),
            passed_attention[i],
            f"{float(skip_share.norm()):.3g}",
            f"{float(down.norm()):.3g}",
            bool(torch.equal(total, down)),
        ))
    return Table(
        columns=("level", "skip", "the skip carries", "x is that map (measured)", "the map passed attention",
                 "|grad via skip|", "|grad via down path|", "skip gradient exactly 0"),
        rows=tuple(rows),
        title="What each skip carries, and where the gradient reaching each level's input x comes from",
    )
