"""What the notebooks measure about a generator: level tables, parameter breakdowns,
comparisons of two configurations, torchinfo summaries.

Everything here accepts a ``UNetGenerator``, a ``GeneratorConfig``, or a dict of
``UNetGenerator`` keyword arguments. Configurations are built on the ``meta``
device: no weights are allocated, so a 66M-parameter generator is described in
milliseconds. A model the caller passes in is never moved, altered or switched
between train and eval mode.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
from torchinfo import summary as torchinfo_summary

from .unet import GeneratorConfig, LevelInfo, UNetGenerator

__all__ = [
    "Table",
    "format_cell",
    "as_config",
    "build_meta",
    "count_parameters",
    "levels",
    "level_table",
    "parameter_breakdown",
    "parameter_totals",
    "compare",
    "largest_layers",
    "kernel_taps_without_gradient",
    "summary",
    "SUMMARY_COLUMNS",
]

SUMMARY_COLUMNS = ("input_size", "output_size", "num_params")


# ------------------------------------------------------------------ a table that shows itself
def format_cell(value) -> str:
    """How a table shows one value: integers with thousands separators, floats to one decimal,
    True as "yes", False and None as an empty cell."""
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Table:
    """Rows of plain values with a title; HTML in JupyterLab, aligned text elsewhere.

    ``rows`` holds raw values (ints stay ints) so code can read them; integers are
    shown with thousands separators.
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    title: str = ""
    footer: str = ""

    def column(self, name: str) -> list:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def records(self) -> list[dict]:
        return [dict(zip(self.columns, row)) for row in self.rows]

    def __str__(self) -> str:
        cells = [list(self.columns)] + [[format_cell(v) for v in row] for row in self.rows]
        widths = [max(len(line[i]) for line in cells) for i in range(len(self.columns))]
        numeric = [all(isinstance(row[i], (int, float)) and not isinstance(row[i], bool) for row in self.rows) for i in range(len(self.columns))]

        def fmt(line):
            return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(line, widths, numeric)).rstrip()

        out = [self.title] if self.title else []
        out.append(fmt(cells[0]))
        out.append("  ".join("-" * w for w in widths))
        out.extend(fmt(line) for line in cells[1:])
        if self.footer:
            out.append(self.footer)
        return "\n".join(out)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        esc = html.escape
        head = "".join(f"<th>{esc(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(
                f'<td style="text-align:{"right" if isinstance(v, (int, float)) and not isinstance(v, bool) else "left"}">{esc(format_cell(v))}</td>'
                for v in row
            ) + "</tr>"
            for row in self.rows
        )
        caption = f"<caption style='text-align:left'><b>{esc(self.title)}</b></caption>" if self.title else ""
        footer = f"<p>{esc(self.footer)}</p>" if self.footer else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{footer}"


# ------------------------------------------------------------------ models from descriptions
def as_config(spec: UNetGenerator | GeneratorConfig | Mapping) -> GeneratorConfig:
    """The configuration of a model, a config, or a dict of ``UNetGenerator`` arguments."""
    if isinstance(spec, UNetGenerator):
        return spec.config
    if isinstance(spec, GeneratorConfig):
        return spec
    if isinstance(spec, Mapping):
        return GeneratorConfig(**spec)
    raise TypeError(f"expected a UNetGenerator, a GeneratorConfig or a dict of its arguments, got {type(spec).__name__}")


def build_meta(spec: GeneratorConfig | Mapping) -> UNetGenerator:
    """Build the generator on the ``meta`` device: shapes and counts, no weights."""
    config = as_config(spec)
    with torch.device("meta"):
        return UNetGenerator.from_config(config)


def _as_model(spec) -> UNetGenerator:
    return spec if isinstance(spec, UNetGenerator) else build_meta(spec)


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def levels(spec, image_size: int | None = None) -> tuple[LevelInfo, ...]:
    """The ``LevelInfo`` of every level, outermost first (``image_size`` is checked if given)."""
    return _as_model(spec).levels(image_size)


# ------------------------------------------------------------------ tables
def level_table(spec, image_size: int = 256) -> Table:
    """One row per level: map size, channels, attention, skip, up-conv, parameters."""
    model = _as_model(spec)
    rows = []
    for info in model.levels(image_size):
        side = info.encoded_size
        rows.append((
            info.level,
            f"{side}x{side}",
            info.input_channels,
            info.inner_channels,
            info.outer_channels,
            info.attention,
            info.skip,
            f"{info.up_in_channels} -> {info.up_conv_out_channels}",
            info.parameters,
        ))
    total = count_parameters(model)
    return Table(
        columns=("level", "encoded map", "in", "inner", "outer", "attention", "skip", "up-conv in -> out", "parameters"),
        rows=tuple(rows),
        title=f"Levels at {image_size}x{image_size}",
        footer=f"total parameters {total:,} (levels {total - count_parameters(model.embedder):,} + embedding {count_parameters(model.embedder):,})",
    )


def parameter_totals(spec) -> dict[str, int]:
    """Parameters of the encoder (down paths), attention, decoder (up paths), embedding."""
    model = _as_model(spec)
    levels = model.levels(None)
    totals = {
        "encoder": sum(info.down_parameters for info in levels),
        "attention": sum(info.attention_parameters for info in levels),
        "decoder": sum(info.up_parameters for info in levels),
        "embedding": count_parameters(model.embedder),
    }
    totals["total"] = sum(totals.values())
    return totals


def parameter_breakdown(spec) -> Table:
    """Per level: encoder, attention and decoder parameters; then the embedding and the total."""
    model = _as_model(spec)
    levels = model.levels(None)
    total = count_parameters(model)
    rows = [
        (
            f"level {info.level}",
            info.down_parameters,
            info.attention_parameters,
            info.up_parameters,
            info.parameters,
            round(100 * info.parameters / total, 1),
        )
        for info in levels
    ]
    totals = parameter_totals(model)
    rows.append(("embedding", 0, 0, 0, totals["embedding"], round(100 * totals["embedding"] / total, 1)))
    rows.append(("total", totals["encoder"], totals["attention"], totals["decoder"], total, 100.0))
    return Table(
        columns=("part", "encoder", "attention", "decoder", "parameters", "% of total"),
        rows=tuple(rows),
        title="Where the parameters are",
    )


_COMPARED_FIELDS = ("attention", "skip", "upsample", "input_channels", "inner_channels", "up_in_channels", "up_conv_out_channels", "out_channels")


def compare(baseline, candidate, image_size: int = 256) -> Table:
    """Level by level, what changed from ``baseline`` to ``candidate`` and what it costs.

    Both must have the same depth. The last row compares the totals (embedding
    included); ``change %`` is relative to the baseline.
    """
    base_model, new_model = _as_model(baseline), _as_model(candidate)
    base_levels, new_levels = base_model.levels(image_size), new_model.levels(image_size)
    if len(base_levels) != len(new_levels):
        raise ValueError(
            f"compare needs two generators of the same depth: baseline has num_downs={len(base_levels)}, "
            f"candidate has num_downs={len(new_levels)}"
        )
    rows = []
    for before, after in zip(base_levels, new_levels):
        changes = []
        for name in _COMPARED_FIELDS:
            old, new = getattr(before, name), getattr(after, name)
            if old != new:
                changes.append(f"{name.replace('_', ' ')} {_show(old)} -> {_show(new)}")
        rows.append((
            before.level,
            "; ".join(changes),
            before.parameters,
            after.parameters,
            after.parameters - before.parameters,
            _percent(after.parameters, before.parameters),
        ))
    base_total, new_total = count_parameters(base_model), count_parameters(new_model)
    rows.append(("total", "", base_total, new_total, new_total - base_total, _percent(new_total, base_total)))
    return Table(
        columns=("level", "what changed", "before", "after", "change", "change %"),
        rows=tuple(rows),
        title="Baseline -> candidate",
    )


def _show(value) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _percent(new: int, old: int) -> float:
    return round(100 * (new - old) / old, 1) if old else 0.0


# ------------------------------------------------------------------ single layers
def _layers(model: UNetGenerator):
    """``(level, part, module)`` for every module that holds parameters itself."""
    for block in model.blocks():
        for part, container in (("down", block.down), ("attention", block.attention), ("up", block.up)):
            if container is None:
                continue
            for module in container.modules():
                if any(True for _ in module.parameters(recurse=False)):
                    yield block.level, part, module
    yield None, "embedding", model.embedder


def _describe_layer(module: torch.nn.Module) -> str:
    if isinstance(module, torch.nn.modules.conv._ConvNd):
        kernel = "x".join(map(str, module.kernel_size))
        return f"{type(module).__name__}({module.in_channels} -> {module.out_channels}, k{kernel})"
    if isinstance(module, torch.nn.Embedding):
        return f"Embedding({module.num_embeddings} x {module.embedding_dim})"
    if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
        return f"{type(module).__name__}({module.num_features})"
    return type(module).__name__


def largest_layers(spec, top: int = 5) -> Table:
    """The ``top`` single layers with the most parameters, named by level and part."""
    if isinstance(top, bool) or not isinstance(top, int) or top <= 0:
        raise ValueError(f"top={top!r} is not accepted: it must be a positive integer")
    model = _as_model(spec)
    total = count_parameters(model)
    rows = []
    for level, part, module in _layers(model):
        # SelfAttention keeps gamma as its own parameter: count only what this module holds itself
        own = sum(p.numel() for p in module.parameters(recurse=False))
        rows.append((level, part, _describe_layer(module), own, round(100 * own / total, 1)))
    rows.sort(key=lambda row: row[3], reverse=True)
    return Table(
        columns=("level", "part", "layer", "parameters", "% of total"),
        rows=tuple(rows[:top]),
        title=f"The {min(top, len(rows))} largest layers of {len(rows)}",
        footer=f"total parameters {total:,}",
    )


def kernel_taps_without_gradient(model: UNetGenerator, only_dead: bool = True) -> Table:
    """After a backward pass: per convolution, how many kernel taps got exactly zero gradient.

    A tap is one (row, column) position of the kernel; it counts as dead when its
    gradient is exactly zero for every input and output channel. Call it after
    ``loss.backward()``; layers without a gradient raise. ``only_dead`` keeps
    only the layers with at least one dead tap.
    """
    if not isinstance(model, UNetGenerator):
        raise TypeError(f"expected a UNetGenerator after a backward pass, got {type(model).__name__}")
    rows = []
    for level, part, module in _layers(model):
        if not isinstance(module, torch.nn.modules.conv._ConvNd):
            continue
        grad = module.weight.grad
        if grad is None:
            raise ValueError(
                f"level {level} {part} {_describe_layer(module)} has no gradient: run a forward pass "
                f"and loss.backward() on this model first"
            )
        # Conv and ConvTranspose weights both keep the two channel axes first, the taps last
        live_taps = grad.abs().sum(dim=(0, 1)) > 0
        live, taps = int(live_taps.sum()), live_taps.numel()
        if only_dead and live == taps:
            continue
        weights_per_tap = grad.shape[0] * grad.shape[1]
        rows.append((level, part, _describe_layer(module), f"{live} of {taps}", (taps - live) * weights_per_tap, grad.numel()))
    return Table(
        columns=("level", "part", "layer", "taps with gradient", "weights with zero gradient", "weights"),
        rows=tuple(rows),
        title="Kernel taps that received no gradient",
    )


# ------------------------------------------------------------------ torchinfo
def summary(spec, image_size: int = 256, batch_size: int = 1, depth: int = 3, columns: Sequence[str] = SUMMARY_COLUMNS):
    """A torchinfo summary with fixed columns.

    A configuration is built on ``meta`` (fast, no weights). A model passed in is
    summarised where it is, in eval mode, with zero inputs on its own device, and
    left as it was: same device, same weights and buffers, same train/eval mode.
    (torchinfo's own ``device=`` argument would move the caller's model in place.)
    """
    model = _as_model(spec)
    config = model.config
    config.check_image_size(image_size, image_size)
    parameter = next(model.parameters())
    device = parameter.device
    images = torch.zeros(batch_size, config.input_nc, image_size, image_size, device=device)
    labels = torch.zeros(batch_size, dtype=torch.long, device=device)
    was_training = model.training
    try:
        return torchinfo_summary(
            model,
            input_data=[images, labels],
            col_names=tuple(columns),
            depth=depth,
            row_settings=("depth", "var_names"),
            mode="eval",
            verbose=0,
        )
    finally:
        model.train(was_training)
