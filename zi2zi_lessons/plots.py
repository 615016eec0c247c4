"""Matplotlib figures the lessons show. Every figure has a title and labelled axes.

Functions return the ``Figure`` (notebooks end the cell with ``;`` or ``plt.show()``
so no ``<Figure ...>`` text is stored).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import torch

from . import anatomy
from .anatomy import build_meta
from .cost import attention_matrix_bytes, level_attention_costs
from .unet import LevelInfo, UNetGenerator

# ---------------------------------------------------------------- attention (lesson 01)

def plot_attention_rows(image, weights_by_name, queries, title="Where a pixel looks"):
    """Draw rows of attention matrices over the image they were computed from.

    Args:
        image: ``(H_img, W_img)`` array shown in gray.
        weights_by_name: ``{name: (N, N) weights}`` for one image; ``N = side * side``
            of the square feature map (one row of panels per name).
        queries: ``[(row, col), ...]`` query pixels on the feature map; one panel each.

    Row ``i`` of an attention matrix is how much pixel ``i`` takes from every pixel;
    each panel shows one such row reshaped to the map and stretched over the image.
    Each panel has its own colour scale, stated as multiples of the uniform weight
    ``1/N`` so that a nearly uniform row is not mistaken for a sharp one.
    """
    names = list(weights_by_name)
    if not names or not queries:
        raise ValueError("plot_attention_rows needs at least one weights matrix and one query pixel")
    image = np.asarray(image)
    fig, axes = plt.subplots(len(names), len(queries) + 1, figsize=(3.1 * (len(queries) + 1), 3.0 * len(names)), squeeze=False)
    for row_axes, name in zip(axes, names):
        weights = torch.as_tensor(weights_by_name[name]).detach().float()
        tokens = weights.shape[-1]
        side = math.isqrt(tokens)
        if weights.shape != (tokens, tokens) or side * side != tokens:
            raise ValueError(f"weights for {name!r} have shape {tuple(weights.shape)}; expected (N, N) with N a square number")
        extent = (0, side, side, 0)  # the image stretched over the map's pixel grid
        row_axes[0].imshow(image, cmap="gray", vmin=-1, vmax=1, extent=extent)
        row_axes[0].set_title(f"input, map {side}x{side}")
        for ax, (r, c) in zip(row_axes[1:], queries):
            if not (0 <= r < side and 0 <= c < side):
                raise ValueError(f"query pixel {(r, c)} is outside the {side}x{side} map")
            row = weights[r * side + c].reshape(side, side).numpy() * tokens  # in units of 1/N
            ax.imshow(image, cmap="gray", vmin=-1, vmax=1, extent=extent)
            shown = ax.imshow(row, cmap="magma", alpha=0.65, extent=extent)
            ax.plot(c + 0.5, r + 0.5, marker="+", color="cyan", markersize=14, markeredgewidth=2)
            ax.set_title(f"query ({r}, {c}); max {row.max():.1f}/N")
            fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, label="weight x N")
        row_axes[0].set_ylabel(f"{name}\nmap row")
        for ax in row_axes:
            ax.set_xlabel("map column")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_attention_cost(table, image_size: int = 256, num_downs: int = 8):
    """Cost curves from ``cost.attention_cost``, log-log against the map side.

    Left: memory of the attention matrix (float32). Right: the measured forward time,
    with a dashed reference line proportional to N^2 (16 times per doubling of the
    side) through the largest timed map: where the points follow it, the N x N work
    dominates; where they lie above it (small maps), fixed costs do. Dotted lines mark
    the map sides of the generator's levels for ``image_size``; rows without a time
    (too large to time in a lesson) appear only on the memory curve.
    """
    sides = table.column("side")
    mib = [entries * 4 / 2**20 for entries in table.column("matrix entries")]
    timed = [(side, ms) for side, ms in zip(sides, table.column("forward ms")) if ms is not None]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.loglog(sides, mib, "o-", color="tab:blue")
    left.set_title("Attention matrix memory (float32)")
    left.set_ylabel("memory")
    memory_ticks = [(2**-10, "1 KiB"), (2**-5, "32 KiB"), (1, "1 MiB"), (2**5, "32 MiB"), (2**10, "1 GiB"), (2**15, "32 GiB")]
    shown = [(mib_tick, label) for mib_tick, label in memory_ticks if min(mib) / 2 <= mib_tick <= max(mib) * 2]
    left.set_yticks([mib_tick for mib_tick, _ in shown], labels=[label for _, label in shown])
    left.minorticks_off()
    if timed:
        timed_sides, times = zip(*timed)
        right.loglog(timed_sides, times, "s-", color="tab:red", label="measured (this run)")
        anchor_side, anchor_ms = timed[-1]
        reference = [anchor_ms * (side / anchor_side) ** 4 for side in timed_sides]  # N^2 = side^4
        right.loglog(timed_sides, reference, "--", color="gray", label="proportional to N² (x16 per doubling)")
        right.legend(loc="lower right", fontsize=8)
        right.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    right.set_title("Forward time (processor, one thread), weights stored")
    right.set_ylabel("milliseconds")
    right.set_xlim(left.get_xlim())
    for ax in (left, right):
        ax.set_xlabel("feature-map side H = W  (N = H*W pixels)")
        ax.set_xticks(sides, labels=[str(side) for side in sides])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.grid(True, which="major", alpha=0.3)
        for level in range(1, num_downs + 1):
            side = image_size // 2 ** level
            if min(sides) <= side <= max(sides):
                ax.axvline(side, color="gray", linestyle=":", linewidth=1)
                ax.text(side, 0.98, f" L{level}", transform=ax.get_xaxis_transform(), fontsize=8, color="gray", va="top")
    fig.suptitle(f"{table.title}: cost per map size (dotted: level L of a {image_size}x{image_size} generator)")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- Chinese characters in figures

# Families that hold the common Chinese characters, tried first, in this order (Linux,
# macOS, Windows); after them, any font matplotlib knows whose character map has them.
CJK_FAMILIES = (
    "Noto Sans CJK SC", "Noto Serif CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "Source Han Serif SC",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "AR PL UMing CN", "LXGW WenKai",
    "PingFang SC", "Hiragino Sans GB", "STHeiti", "Heiti SC", "Songti SC",
    "Microsoft YaHei", "SimHei", "SimSun", "DengXian",
)


def _font_covers(path: str, characters: str) -> bool:
    from fontTools.ttLib import TTCollection, TTFont, TTLibError

    try:
        if path.lower().endswith((".ttc", ".otc")):
            font = TTCollection(path, lazy=True).fonts[0]  # matplotlib draws with the first face
        else:
            font = TTFont(path, lazy=True)
        cmap = font.getBestCmap() or {}
    except (OSError, TTLibError, IndexError, KeyError, AssertionError):
        return False
    return all(ord(ch) in cmap for ch in characters)


def cjk_font(characters: str = "林"):
    """An installed font that has every one of ``characters``, as a matplotlib
    ``FontProperties`` to pass as ``fontproperties=``; ``None`` when no font has them.

    Matplotlib's default font (DejaVu Sans) has no Chinese characters: given one, it
    draws an empty box and warns "Glyph ... missing from font(s)". This looks through
    the fonts matplotlib knows: ``CJK_FAMILIES`` first, then any other whose character
    map (read with fontTools) has the characters. What to do with ``None`` is the
    caller's choice, made visibly (lesson 01 spells the character out and says so).
    """
    from matplotlib import font_manager

    if not isinstance(characters, str) or not characters:
        raise ValueError(f"characters={characters!r} is not accepted: give a non-empty string, e.g. '林'")
    def regular_first(entry):
        weight = font_manager.weight_dict.get(entry.weight, entry.weight) if isinstance(entry.weight, str) else entry.weight
        return (entry.style != "normal", abs(int(weight) - 400), entry.fname)

    entries = sorted(font_manager.fontManager.ttflist, key=regular_first)
    preferred = [entry for family in CJK_FAMILIES for entry in entries if entry.name == family]
    for entry in preferred + [entry for entry in entries if entry not in preferred]:
        if _font_covers(entry.fname, characters):
            return font_manager.FontProperties(fname=entry.fname)
    return None


# ---------------------------------------------------------------- blocks and levels (lessons 02-03)

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
def plot_level_parameters(designs, title: str = "Parameters per level"):
    """Grouped bars: each design's parameters per level, in millions.

    ``designs`` maps a name to a ``UNetGenerator``, ``GeneratorConfig`` or dict of its
    arguments (configurations are built on ``meta``); all must have the same depth.
    """

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


def plot_level_changes(pairs, title: str = "Change in parameters per level"):
    """Grouped bars: per level, how many parameters each candidate gains (above 0) or
    loses (below 0) against its own baseline, in millions; every bar that is not zero
    is labelled with its count, and a pair that changes nothing says so in the legend.

    ``pairs`` maps a name to ``(baseline, candidate)``, each a ``UNetGenerator``,
    ``GeneratorConfig`` or dict of its arguments; all must have the same depth.
    """

    changes = {}
    for name, (baseline, candidate) in pairs.items():
        table = anatomy.compare(baseline, candidate)
        changes[name] = [row[4] for row in table.rows if row[0] != "total"]
    depths = {len(values) for values in changes.values()}
    if len(depths) != 1:
        raise ValueError(f"plot_level_changes needs pairs of one depth, got {sorted(depths)} levels")
    levels = list(range(1, depths.pop() + 1))
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(changes)
    for i, (name, values) in enumerate(changes.items()):
        xs = [level - 0.4 + width * (i + 0.5) for level in levels]
        label = name if any(values) else f"{name}: no change at any level"
        bars = ax.bar(xs, [v / 1e6 for v in values], width=width, label=label)
        for x, value, bar in zip(xs, values, bars):
            if value:
                ax.annotate(f"{value / 1e6:+.1f}M", (x, value / 1e6), ha="center",
                            va="bottom" if value > 0 else "top", fontsize=8, color=bar.get_facecolor())
    ax.axhline(0, color="black", linewidth=0.8)
    ax.margins(y=0.15)
    ax.set_xticks(levels)
    ax.set_xlabel("level (1 = outermost, next to the image)")
    ax.set_ylabel("change in the level's parameters (millions)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_cost_scaling(pixels, seconds, exponent: float, labels=None, title: str = "Time of self-attention against map size"):
    """Log-log plot of measured times against pixels N, with the fitted ``N^exponent`` line.

    ``seconds`` maps a series name (e.g. "forward") to times, one per entry of ``pixels``.
    """

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


def _glyph_strip(images, gap: int = 2):
    """Glyph images (n, S, S) uint8 side by side, separated by light grey gaps."""
    images = np.asarray(images)
    count, size, _ = images.shape
    strip = np.full((size, count * (size + gap) - gap), 200, dtype=np.uint8)
    for i, image in enumerate(images):
        strip[:, i * (size + gap) : i * (size + gap) + size] = image
    return strip


def glyph_rows(rows, title: str, xlabel: str = "character", cell_inches: float = 0.55):
    """One labelled row of glyph images per entry of ``rows`` = ``[(label, images (n, S, S) uint8), ...]``.

    All rows must hold the same number of glyphs (column ``j`` is the same character).
    """
    rows = list(rows)
    if not rows:
        raise ValueError("rows is empty: give at least one (label, images) row")
    counts = {len(images) for _, images in rows}
    if len(counts) != 1:
        raise ValueError(f"every row must hold the same number of glyphs, got {sorted(counts)}")
    count = counts.pop()
    size = np.asarray(rows[0][1]).shape[-1]
    gap = 2
    grid = np.concatenate([
        np.concatenate([_glyph_strip(images, gap), np.full((gap, count * (size + gap) - gap), 255, np.uint8)])
        for _, images in rows
    ])[:-gap]
    figure, axes = plt.subplots(figsize=(cell_inches * count + 2.2, cell_inches * len(rows) + 0.8))
    axes.imshow(grid, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    axes.set_yticks([i * (size + gap) + size / 2 for i in range(len(rows))], [label for label, _ in rows])
    axes.set_xticks([j * (size + gap) + size / 2 for j in range(count)], [str(j + 1) for j in range(count)])
    axes.tick_params(length=0)
    axes.set_xlabel(xlabel)
    axes.set_title(title)
    for spine in axes.spines.values():
        spine.set_visible(False)
    figure.tight_layout()
    return figure


def dataset_grid(dataset, char_indices, title: str = "The same characters in the source and every target font"):
    """Real glyph pairs from a ``GlyphDataset``: the source row, then one row per target font."""
    rows = [(f"source: {dataset.source_font.label}", dataset.source[char_indices])]
    rows += [(f"target {f}: {label}", dataset.targets[f, char_indices]) for f, label in enumerate(dataset.font_labels)]
    return glyph_rows(rows, title, xlabel="character (column j = the j-th character listed above)")


def generated_grid(dataset, char_indices, generated, title: str):
    """Source, then for each target font the generated and the real glyphs.

    ``generated[f]`` holds the generated glyphs (n, S, S) of these characters in font ``f``.
    """
    rows = [(f"source: {dataset.source_font.label}", dataset.source[char_indices])]
    for f, label in enumerate(dataset.font_labels):
        rows.append((f"generated: {label}", generated[f]))
        rows.append((f"real: {label}", dataset.targets[f, char_indices]))
    named = "unseen character" if getattr(dataset, "is_evaluation_set", False) else "character"
    return glyph_rows(rows, title, xlabel=f"{named} (column j = the j-th character listed above)")


def _running_mean(values, window: int):
    values = np.asarray(values, dtype=float)
    if len(values) < window:
        window = max(1, len(values))
    kernel = np.ones(window) / window
    smooth = np.convolve(values, kernel, mode="valid")
    return np.arange(window, len(values) + 1), smooth


LOSS_PANELS = (
    (("l1",), "L1 (generated vs real target)", "mean |pixel difference|"),
    (("constant",), "constant loss (bottleneck MSE)", "mean squared difference"),
    (("adversarial", "discriminator"), "adversarial: generator vs discriminator", "BCE (+ category for D)"),
    (("category",), "generator: font named correctly", "cross-entropy"),
)
LOSS_LABELS = {"adversarial": "generator: fool D", "discriminator": "discriminator: total"}


def loss_curves(history, title: str = "Training losses", window: int = 25):
    """Four panels of per-step losses (light) with their running mean over ``window`` steps (dark)."""
    figure, axes = plt.subplots(2, 2, figsize=(10, 6), sharex=True)
    for axis, (keys, panel_title, ylabel) in zip(axes.flat, LOSS_PANELS):
        for key, colour in zip(keys, ("tab:blue", "tab:orange")):
            values = history[key]
            name = LOSS_LABELS.get(key, key)
            axis.plot(range(1, len(values) + 1), values, color=colour, alpha=0.25, linewidth=0.8)
            if values:
                x, smooth = _running_mean(values, window)
                axis.plot(x, smooth, color=colour, linewidth=1.8, label=f"{name}, mean of {min(window, len(values))} steps")
        axis.set_title(panel_title)
        axis.set_ylabel(ylabel)
        axis.grid(alpha=0.3)
        axis.legend(loc="upper right", fontsize="small")
    for axis in axes[1]:
        axis.set_xlabel("training step")
    figure.suptitle(f"{title} (light: every step)")
    figure.tight_layout()
    return figure


class LiveLossCurves:
    """A ``Trainer.train`` callback that redraws ``loss_curves`` in place in a notebook."""

    def __init__(self, title: str = "Training losses (live)", window: int = 25):
        self.title = title
        self.window = window
        self._handle = None

    def __call__(self, trainer) -> None:
        from IPython.display import display

        figure = loss_curves(trainer.history, f"{self.title}: step {trainer.step}", self.window)
        if self._handle is None:
            self._handle = display(figure, display_id=True)
        else:
            self._handle.update(figure)
        plt.close(figure)


def l1_comparison(evaluations, title: str = "Held-out L1 per target font (lower is better)"):
    """Grouped bars: each model's held-out L1 next to the copy-the-source and blank-page baselines.

    ``evaluations`` maps a model name to its ``training.Evaluation`` (all on the same data).
    """
    evaluations = dict(evaluations)
    first = next(iter(evaluations.values()))
    series = [("copy the source glyph", first.copy_source_l1, "0.55"),
              ("blank page", first.blank_l1, "0.8")]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    series += [(name, ev.generated_l1, colours[i % len(colours)]) for i, (name, ev) in enumerate(evaluations.items())]
    x = np.arange(len(first.fonts))
    width = 0.8 / len(series)
    figure, axis = plt.subplots(figsize=(9, 4))
    for i, (name, values, colour) in enumerate(series):
        axis.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=name, color=colour)
    axis.set_xticks(x, first.fonts)
    axis.set_xlabel("target font")
    axis.set_ylabel("mean |pixel difference| (images in [-1, 1])")
    axis.set_title(title)
    axis.legend(fontsize="small")
    axis.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    return figure


def seed_spread(runs, split: str, reduction_target: float | None = None, beats_blank_target: float | None = None):
    """Every seed of every architecture as a dot, per target font: reduction against copying
    (left) and share of characters beating a blank page (right), with the targets as lines.

    ``runs`` is ``results.reference_runs()``; the short bar is each architecture's median.
    """
    from .results import metric

    architectures = sorted({name for name, _ in runs})
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    panels = (("reduction", "L1 below copying the source", reduction_target),
              ("beats_blank_share", "characters beating a blank page", beats_blank_target))
    for axis, (key, label, target) in zip(axes, panels):
        fonts = None
        for i, architecture in enumerate(architectures):
            values = metric(runs, architecture, split, key)
            fonts = list(values)
            offset = (i - (len(architectures) - 1) / 2) * 0.25
            for f, font in enumerate(fonts):
                x = f + offset
                axis.scatter([x] * len(values[font]), values[font], color=colours[i % len(colours)], s=28,
                             label=architecture if f == 0 else None, zorder=3)
                axis.hlines(np.median(values[font]), x - 0.09, x + 0.09, color=colours[i % len(colours)], linewidth=2)
        if target is not None:
            axis.axhline(target, color="0.4", linestyle="--", linewidth=1, label=f"target {target:.0%}")
        axis.set_xticks(range(len(fonts)), fonts)
        axis.set_xlabel("target font")
        axis.set_ylabel(label)
        axis.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
        axis.set_title(f"{label} ({split} characters)")
        axis.grid(axis="y", alpha=0.3)
        axis.legend(fontsize="small")
    figure.suptitle("One dot per seed, a bar at the median")
    figure.tight_layout()
    return figure
