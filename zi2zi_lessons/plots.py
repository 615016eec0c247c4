"""Matplotlib figures the lessons show. Every figure has a title and labelled axes.

Functions return the ``Figure`` (notebooks end the cell with ``;`` or ``plt.show()``
so no ``<Figure ...>`` text is stored).
"""

from __future__ import annotations

import matplotlib.pyplot as plt  # noqa: F401

# ---------------------------------------------------------------- attention (lesson 01)


# ---------------------------------------------------------------- blocks and levels (lessons 02-03)


# ---------------------------------------------------------------- cost of attention (lessons 04-05)
def plot_level_parameters(designs, title: str = "Parameters per level"):
    """Grouped bars: each design's parameters per level, in millions.

    ``designs`` maps a name to a ``UNetGenerator``, ``GeneratorConfig`` or dict of its
    arguments (configurations are built on ``meta``); all must have the same depth.
    """
    from .anatomy import build_meta
    from .unet import UNetGenerator

    models = {name: spec if isinstance(spec, UNetGenerator) else build_meta(spec) for name, spec in designs.items()}
    depths = {model.config.num_downs for model in models.values()}
    if len(depths) != 1:
        raise ValueError(f"plot_level_parameters needs designs of one depth, got num_downs {sorted(depths)}")
    levels = list(range(1, depths.pop() + 1))
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(models)
    for i, (name, model) in enumerate(models.items()):
        millions = [info.parameters / 1e6 for info in model.levels(None)]
        ax.bar([level - 0.4 + width * (i + 0.5) for level in levels], millions, width=width, label=name)
    ax.set_xticks(levels)
    ax.set_xlabel("level (1 = outermost, next to the image)")
    ax.set_ylabel("parameters of the level (millions)")
    ax.set_title(title)
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_cost_scaling(pixels, seconds, exponent: float, labels=None, title: str = "Time of self-attention against map size"):
    """Log-log plot of measured times against pixels N, with the fitted ``N^exponent`` line.

    ``seconds`` maps a series name (e.g. "forward") to times, one per entry of ``pixels``.
    """
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 4))
    pixels = np.asarray(pixels, dtype=float)
    for name, times in seconds.items():
        ax.loglog(pixels, np.asarray(times) * 1e3, "o-", label=f"{name} (measured)")
    reference = np.asarray(next(iter(seconds.values())), dtype=float) * 1e3
    fitted = reference[-1] * (pixels / pixels[-1]) ** exponent
    ax.loglog(pixels, fitted, "k--", label=f"N^{exponent:.2f} through the last point")
    if labels is not None:
        ax.set_xticks(pixels, labels=labels)
        ax.minorticks_off()
    ax.set_xlabel("pixels N of the feature map (log scale)")
    ax.set_ylabel("time (ms, log scale)")
    ax.set_title(title)
    ax.legend()
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    return fig



def plot_level_attention_costs(spec=None, image_size: int = 256, batch: int = 1):
    """Two panels per level of a generator: the memory of the stored N x N attention
    weights (log scale) and the parameters ``SelfAttention`` would add there."""
    from .cost import attention_matrix_bytes, level_attention_costs

    table = level_attention_costs(spec, image_size=image_size, batch=batch)
    levels = table.column("level")
    names = [f"{level}\n{size}" for level, size in zip(levels, table.column("encoded map"))]
    sides = [int(size.split("x")[0]) for size in table.column("encoded map")]
    mebibytes = [attention_matrix_bytes(side, batch=batch) / 2**20 for side in sides]
    fig, (memory_ax, parameter_ax) = plt.subplots(1, 2, figsize=(11, 4))
    memory_ax.bar(names, mebibytes, color="tab:red")
    memory_ax.set_yscale("log")
    memory_ax.set_xlabel("level and encoded map")
    memory_ax.set_ylabel("stored attention weights (MiB, log scale)")
    memory_ax.set_title(f"Memory of the N x N weights, batch {batch}, float32")
    for x, value in enumerate(mebibytes):
        memory_ax.annotate(_short_bytes(value * 2**20), (x, value), ha="center", va="bottom", fontsize=8)
    parameter_ax.bar(names, [p / 1e3 for p in table.column("attention parameters")], color="tab:blue")
    parameter_ax.set_xlabel("level and encoded map")
    parameter_ax.set_ylabel("SelfAttention parameters (thousands)")
    parameter_ax.set_title("Parameters of one SelfAttention block")
    memory_ax.set_ylim(top=max(mebibytes) * 20)  # room for the labels above the bars
    for ax in (memory_ax, parameter_ax):
        ax.grid(axis="y", alpha=0.3)
        ax.tick_params(axis="x", labelsize=8)
    fig.suptitle(f"Self-attention at each level of the generator, {image_size}x{image_size} input")
    fig.tight_layout()
    return fig


def _short_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


# ---------------------------------------------------------------- glyphs and training (lesson 06)
