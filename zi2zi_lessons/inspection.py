"""``python -m zi2zi_lessons inspect CHECKPOINT``: what a zi2zi checkpoint holds.

Works on upstream zi2zi-pytorch files (a generator or a discriminator, read with
``upstream.py``) and on the package's own training checkpoints. It prints the
configuration read off the weights, which upstream code builds that network, the
level table at an image size, where the parameters are, and each attention block's
trained ``gamma`` (how much of the attention output the block adds to its input).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

import torch

from . import anatomy, upstream
from .discriminator import Discriminator
from .unet import UNetGenerator

LESSONS = "zi2zi-lessons checkpoint"

__all__ = ["Inspection", "inspect_checkpoint", "attention_gammas", "discriminator_layers", "add_inspect_command"]


@dataclass(frozen=True)
class Inspection:
    """What ``inspect_checkpoint`` found; ``str()`` is the command's report."""

    path: str
    kind: str  # "upstream generator", "upstream discriminator", "zi2zi-lessons checkpoint"
    model: torch.nn.Module
    image_size: int
    upstream_code: upstream.UpstreamCode | None
    details: tuple[str, ...] = ()

    def configuration(self) -> anatomy.Table:
        config = self.model.config
        rows = tuple((item.name, _plain(getattr(config, item.name))) for item in fields(config))
        where = "stored in the checkpoint" if self.kind == LESSONS else "read off the weights"
        return anatomy.Table(columns=("setting", "value"), rows=rows, title=f"Configuration {where}")

    def tables(self) -> tuple[anatomy.Table, ...]:
        if isinstance(self.model, Discriminator):
            return (self.configuration(), discriminator_layers(self.model))
        tables = [self.configuration(), anatomy.level_table(self.model, self.image_size),
                  anatomy.parameter_breakdown(self.model)]
        gammas = attention_gammas(self.model)
        if gammas.rows:
            tables.append(gammas)
        return tuple(tables)

    def __str__(self) -> str:
        built = str(self.upstream_code) if self.upstream_code else "no unmodified upstream constructor builds this network"
        head = [f"{self.path}: {self.kind}", *self.details, f"upstream code: {built}"]
        return "\n\n".join(["\n".join(head), *(str(table) for table in self.tables())])


def _plain(value) -> str:
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value) if value else "none"
    return str(value)


def attention_gammas(model: UNetGenerator) -> anatomy.Table:
    """Each attention block's ``gamma``: the block returns ``gamma * attention + x``.

    0 means the block is still the identity (its value at initialisation).
    """
    rows = tuple(
        (block.level, block.inner_channels, "scaled" if block.attention.scaled else "unscaled",
         f"{float(block.attention.gamma.detach().reshape(-1)[0]):+.4f}")
        for block in model.blocks() if block.attention is not None
    )
    return anatomy.Table(columns=("level", "channels", "energy", "gamma"), rows=rows, title="Attention blocks")


def discriminator_layers(model: Discriminator) -> anatomy.Table:
    """One row per layer that holds parameters: what it is and how many it holds."""
    rows = []
    for name, module in model.named_modules():
        own = sum(p.numel() for p in module.parameters(recurse=False))
        if own:
            rows.append((name, type(module).__name__, _layer_shape(module), own))
    total = sum(p.numel() for p in model.parameters())
    return anatomy.Table(columns=("layer", "type", "shape", "parameters"), rows=tuple(rows),
                         title="Discriminator layers", footer=f"total parameters {total:,}")


def _layer_shape(module: torch.nn.Module) -> str:
    if isinstance(module, torch.nn.Conv2d):
        k = module.kernel_size
        return f"{module.in_channels} -> {module.out_channels}, {k[0]}x{k[1]} stride {module.stride[0]}"
    if isinstance(module, torch.nn.Linear):
        return f"{module.in_features} -> {module.out_features}"
    if isinstance(module, torch.nn.BatchNorm2d):
        return f"{module.num_features} channels"
    return ""


def _is_lessons_checkpoint(path: Path) -> bool:
    try:  # memory-mapped: only the small top-level dict is read
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # not a zip-format torch file: upstream.read_state_dict reports what it is
        return False
    return isinstance(payload, dict) and str(payload.get("format", "")).startswith("zi2zi-lessons checkpoint")


def inspect_checkpoint(path: str | os.PathLike, image_size: int | None = None) -> Inspection:
    """Read ``path`` (an upstream ``*_net_G.pth`` / ``*_net_D.pth`` or a zi2zi-lessons
    checkpoint) and describe it. ``image_size`` (for the level table) defaults to the
    training data's size for a lessons checkpoint, else to ``2 ** num_downs`` (the
    only size at which the classic port runs); for a discriminator it is read off the
    heads (``upstream.discriminator_config``). A file that is neither raises
    ``ValueError`` saying what it holds."""
    path = Path(path)
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int) or image_size <= 0):
        raise ValueError(f"image_size={image_size!r} is not accepted: give a positive integer")
    if path.is_file() and _is_lessons_checkpoint(path):
        from . import training

        model, payload = training.load_generator(path)
        size = image_size or payload.get("data", {}).get("image_size") or 2 ** model.config.num_downs
        model.config.check_image_size(size, size)
        fonts = ", ".join(payload.get("data", {}).get("target_fonts", []))
        details = (f"step {payload.get('step')}, trained on {fonts or 'unknown fonts'}",)
        return Inspection(str(path), LESSONS, model, size,
                          upstream.upstream_generator_code(model.config), details)
    state = upstream.read_state_dict(path)
    try:
        if any(key.startswith(("binary.", "catagory.")) for key in state):
            model = upstream.load_discriminator(state, image_size)
            return Inspection(str(path), "upstream discriminator", model, model.config.image_size,
                              upstream.upstream_discriminator_code(model.config))
        model = upstream.load_generator(state)
    except ValueError as error:
        raise ValueError(f"{str(path)!r}: {error}") from None
    size = image_size or 2 ** model.config.num_downs
    model.config.check_image_size(size, size)
    return Inspection(str(path), "upstream generator", model, size, upstream.upstream_generator_code(model.config))


def add_inspect_command(commands, positive_int) -> None:
    """Register ``inspect`` on the command line's subparsers (``__main__.py``)."""
    parser = commands.add_parser(
        "inspect", help="what a checkpoint holds: configuration, levels, parameters, attention",
        description="Describe an upstream zi2zi-pytorch checkpoint (*_net_G.pth or *_net_D.pth) or a "
                    "zi2zi-lessons checkpoint: the configuration read off the weights, the upstream code "
                    "that builds it, the level table, the parameter breakdown and each attention gamma.")
    parser.add_argument("checkpoint", metavar="CHECKPOINT")
    parser.add_argument("--image-size", type=positive_int, metavar="N",
                        help="image side for the level table (default: the data's, or 2**levels)")
    parser.set_defaults(run=lambda args: print(inspect_checkpoint(args.checkpoint, args.image_size)) or 0)
