"""Switch one attention block of a trained generator off and measure what it did (lesson 05).

A ``SelfAttention`` block computes ``gamma * attention(x) + x``; with ``gamma = 0`` it
hands its input through unchanged. So setting one block's ``gamma`` to zero removes
exactly that block's contribution, and the rise in L1 on characters the generator never
trained on says how much the trained network relies on it. The rest of the network
stays as trained (it is not retrained without the block), so this measures reliance,
not what a network trained without that block could reach.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .anatomy import Table
from .glyphs import GlyphDataset
from .training import generate
from .unet import UNetGenerator

__all__ = ["AttentionAblation", "attention_ablation", "l1_per_font"]


def l1_per_font(generator: UNetGenerator, dataset: GlyphDataset, split: str = "held_out") -> tuple[float, ...]:
    """Mean L1 per target font over a split: generated uint8 glyphs against the real ones,
    both scaled to [-1, 1] (lesson 06's measure)."""
    chars = dataset.indices(split)
    if len(chars) == 0:
        raise ValueError(f"split={split!r} has no characters in this data set")
    result = []
    for font_id in range(dataset.num_fonts):
        generated = generate(generator, dataset, chars, font_id).astype(np.float32) / 127.5
        target = dataset.targets[font_id, chars].astype(np.float32) / 127.5
        result.append(float(np.abs(generated - target).mean()))
    return tuple(result)


@dataclass(frozen=True)
class AttentionAblation:
    """L1 per target font of the intact generator and with each attention block off.

    ``levels[i]`` has ``gammas[i]`` and attends over ``maps[i]`` (e.g. "4x4");
    ``off_l1[i]`` is the L1 per font with that block's gamma set to 0. ``described``
    says which characters were measured (e.g. "unseen characters").
    """

    split: str
    described: str
    characters: int
    fonts: tuple[str, ...]
    levels: tuple[int, ...]
    maps: tuple[str, ...]
    gammas: tuple[float, ...]
    intact_l1: tuple[float, ...]
    off_l1: tuple[tuple[float, ...], ...]

    def rise(self, level: int) -> tuple[float, ...]:
        """Per font: L1 with ``level``'s block off minus L1 intact (positive: the block helped)."""
        if level not in self.levels:
            raise ValueError(f"level={level!r} is not accepted: the attention levels are {self.levels}")
        off = self.off_l1[self.levels.index(level)]
        return tuple(o - i for o, i in zip(off, self.intact_l1))

    def mean_rise(self, level: int) -> float:
        return float(np.mean(self.rise(level)))

    def table(self) -> Table:
        rows = [("all on", "", "", *(f"{v:.4f}" for v in self.intact_l1), f"{np.mean(self.intact_l1):.4f}", "")]
        for level, side, gamma, off in zip(self.levels, self.maps, self.gammas, self.off_l1):
            rows.append((f"level {level} off", side, f"{gamma:+.4f}", *(f"{v:.4f}" for v in off),
                         f"{np.mean(off):.4f}", f"{self.mean_rise(level):+.4f}"))
        return Table(
            columns=("attention", "map", "gamma", *(f"L1 {font}" for font in self.fonts), "L1 mean", "rise"),
            rows=tuple(rows),
            title=f"One attention block off (gamma = 0), {self.characters:,} {self.described}",
        )


def attention_ablation(generator: UNetGenerator, dataset: GlyphDataset, split: str = "held_out",
                       described: str | None = None) -> AttentionAblation:
    """Measure ``generator`` intact and with each attention block's gamma set to 0, one
    at a time, on ``split`` of ``dataset``. ``described`` names the characters in the
    table's title (default: ``dataset.split_name(split)`` + " characters": "unseen characters"
    for a file with no training characters). The generator is left as it was."""
    if not isinstance(generator, UNetGenerator):
        raise TypeError(f"attention_ablation takes a UNetGenerator, got {type(generator).__name__}")
    blocks = [block for block in generator.blocks() if block.attention is not None]
    if not blocks:
        raise ValueError("the generator has no attention block to switch off (attention_levels is empty)")
    if dataset.num_fonts > generator.config.embedding_num:
        raise ValueError(
            f"the data has {dataset.num_fonts} target fonts, the generator's embedding only "
            f"{generator.config.embedding_num}"
        )
    size = dataset.image_size
    generator.config.check_image_size(size, size)
    intact = l1_per_font(generator, dataset, split)
    off_l1 = []
    for block in blocks:
        gamma = block.attention.gamma
        kept = gamma.detach().clone()
        try:
            with torch.no_grad():
                gamma.zero_()
            off_l1.append(l1_per_font(generator, dataset, split))
        finally:
            with torch.no_grad():
                gamma.copy_(kept)
    sides = [size // 2 ** block.level for block in blocks]
    return AttentionAblation(
        split=split,
        described=f"{dataset.split_name(split)} characters" if described is None else described,
        characters=len(dataset.indices(split)),
        fonts=dataset.font_labels,
        levels=tuple(block.level for block in blocks),
        maps=tuple(f"{side}x{side}" for side in sides),
        gammas=tuple(float(block.attention.gamma.detach()) for block in blocks),
        intact_l1=intact,
        off_l1=tuple(off_l1),
    )
