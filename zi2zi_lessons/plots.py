"""Matplotlib figures the lessons show. Every figure has a title and labelled axes.

Functions return the ``Figure`` (notebooks end the cell with ``;`` or ``plt.show()``
so no ``<Figure ...>`` text is stored).
"""

from __future__ import annotations

import matplotlib.pyplot as plt  # noqa: F401

# ---------------------------------------------------------------- attention (lesson 01)


# ---------------------------------------------------------------- blocks and levels (lessons 02-03)


# ---------------------------------------------------------------- cost of attention (lessons 04-05)


# ---------------------------------------------------------------- glyphs and training (lesson 06)


def _glyph_strip(images, gap: int = 2):
    """Glyph images (n, S, S) uint8 side by side, separated by light grey gaps."""
    import numpy as np

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
    import numpy as np

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
    return glyph_rows(rows, title, xlabel="held-out character (column j = the j-th character listed above)")


def _running_mean(values, window: int):
    import numpy as np

    values = np.asarray(values, dtype=float)
    if len(values) < window:
        window = max(1, len(values))
    kernel = np.ones(window) / window
    smooth = np.convolve(values, kernel, mode="valid")
    return np.arange(window, len(values) + 1), smooth


LOSS_PANELS = (
    ("l1", "L1 (generated vs real target)", "mean |pixel difference|"),
    ("constant", "constant loss (bottleneck MSE)", "mean squared difference"),
    ("adversarial", "generator: fool the discriminator", "BCE"),
    ("category", "generator: font named correctly", "cross-entropy"),
)


def loss_curves(history, title: str = "Training losses", window: int = 25):
    """Four panels of per-step losses (light) with their running mean over ``window`` steps (dark)."""
    figure, axes = plt.subplots(2, 2, figsize=(10, 6), sharex=True)
    for axis, (key, panel_title, ylabel) in zip(axes.flat, LOSS_PANELS):
        values = history[key]
        steps = range(1, len(values) + 1)
        axis.plot(steps, values, color="tab:blue", alpha=0.25, linewidth=0.8, label="per step")
        if values:
            x, smooth = _running_mean(values, window)
            axis.plot(x, smooth, color="tab:blue", linewidth=1.8, label=f"mean of {min(window, len(values))} steps")
        axis.set_title(panel_title)
        axis.set_ylabel(ylabel)
        axis.grid(alpha=0.3)
    for axis in axes[1]:
        axis.set_xlabel("training step")
    axes[0, 0].legend(loc="upper right")
    figure.suptitle(title)
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
    import numpy as np

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
