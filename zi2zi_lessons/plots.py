"""Matplotlib figures the lessons show. Every figure has a title and labelled axes.

Functions return the ``Figure`` (notebooks end the cell with ``;`` or ``plt.show()``
so no ``<Figure ...>`` text is stored).
"""

from __future__ import annotations

import matplotlib.pyplot as plt  # noqa: F401

# ---------------------------------------------------------------- attention (lesson 01)


# ---------------------------------------------------------------- blocks and levels (lessons 02-03)
from . import anatomy  # noqa: E402  (imported here so each lesson's section stays self-contained)
from .unet import LevelInfo  # noqa: E402

# Okabe-Ito colours: distinguishable with every common colour-vision deficiency.
PART_COLOURS = {"encoder": "#0072B2", "attention": "#E69F00", "decoder": "#009E73"}


def _level_infos(spec_or_levels):
    if isinstance(spec_or_levels, (tuple, list)) and all(isinstance(info, LevelInfo) for info in spec_or_levels):
        if not spec_or_levels:
            raise ValueError("no levels to plot: got an empty sequence of LevelInfo")
        return tuple(spec_or_levels)
    return anatomy.levels(spec_or_levels)


def level_parameter_bars(spec_or_levels, *, split: bool = True, baseline=None, ax=None, title: str | None = None,
                         baseline_label: str = "baseline"):
    """One bar per level: its parameters in millions, level 1 (outermost) on the left.

    ``spec_or_levels`` is anything ``anatomy`` accepts (a model, a config, a dict of
    ``UNetGenerator`` arguments) or the ``LevelInfo`` tuple of ``model.levels()``.
    With ``split`` each bar is stacked: encoder (the down path), attention, decoder
    (the up path). ``baseline`` (same kinds) draws each level's baseline total as a
    black outline, so a change shows as a bar above or below its box. Tick labels
    carry the encoded map size when the levels were described for an image size.
    Returns the Figure; draws on ``ax`` when given.
    """
    infos = _level_infos(spec_or_levels)
    base = _level_infos(baseline) if baseline is not None else None
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(6.0, 0.75 * max(len(infos), len(base or ())) + 2.5), 4.0))
    else:
        fig = ax.figure
    scale = 1e6
    positions = [info.level for info in infos]
    if split:
        bottom = [0.0] * len(infos)
        for part, field in (("encoder", "down_parameters"), ("attention", "attention_parameters"), ("decoder", "up_parameters")):
            heights = [getattr(info, field) / scale for info in infos]
            if part == "attention" and not any(heights):
                continue
            ax.bar(positions, heights, bottom=bottom, width=0.7, color=PART_COLOURS[part], label=part)
            bottom = [b + h for b, h in zip(bottom, heights)]
    else:
        ax.bar(positions, [info.parameters / scale for info in infos], width=0.7, color=PART_COLOURS["encoder"], label="parameters")
    if base is not None:
        ax.bar([info.level for info in base], [info.parameters / scale for info in base], width=0.7,
               fill=False, edgecolor="black", linewidth=1.5, label=baseline_label)
    ticks = sorted(set(positions) | {info.level for info in base or ()})
    sizes = {info.level: info.encoded_size for info in (*(base or ()), *infos)}
    ax.set_xticks(ticks, [f"{level}\n{sizes[level]}x{sizes[level]}" if sizes[level] else str(level) for level in ticks])
    with_size = all(sizes[level] for level in ticks)
    ax.set_xlabel("level (1 = outermost)" + (", encoded map size" if with_size else ""))
    ax.set_ylabel("parameters (millions)")
    ax.set_title(title or "Parameters per level")
    ax.margins(y=0.08)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(loc="upper left", frameon=False)
    return fig


# ---------------------------------------------------------------- cost of attention (lessons 04-05)


# ---------------------------------------------------------------- glyphs and training (lesson 06)
