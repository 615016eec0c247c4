"""ipywidgets front ends. Thin: each widget wires controls to a plain function that
computes what it shows; those functions are tested without a browser.
"""

from __future__ import annotations

import base64
import collections
import functools
import html
import io
from dataclasses import dataclass, field

import ipywidgets as widgets
import PIL.Image
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from torchinfo import summary as torchinfo_summary

from . import anatomy
from .anatomy import SUMMARY_COLUMNS, Table
from .plots import level_parameter_bars
from .unet import SKIP_MODES, UPSAMPLE_MODES, GeneratorConfig, LevelInfo, UNetGenerator, UnetSkipConnectionBlock

# ---------------------------------------------------------------- the block widget (lesson 02)
BLOCK_COLUMNS = (
    "level", "input map", "encoded map", "in", "inner", "outer", "attention", "skip",
    "up-conv takes", "up-conv in -> out", "hands back", "parameters",
)


def level_block(
    level: int,
    skip: str | None = None,
    child_skip: str = "concat",
    upsample: str = "transpose",
    attention: bool = False,
    ngf: int = 64,
    num_downs: int = 8,
    embedding_dim: int = 128,
) -> UnetSkipConnectionBlock:
    """One level of the zi2zi generator, built on the meta device, with its child below it.

    The block at ``level`` joins with ``skip`` (``None``: "none" at level 1, else
    "concat") and has attention if asked; every level below it joins with
    ``child_skip``, so the block's up-convolution sizes itself from what that child
    hands back. Channels follow the generator (``GeneratorConfig.level_channels``).
    Invalid combinations raise the package's ``ValueError``.
    """
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= num_downs:
        raise ValueError(f"level={level!r} is not accepted: use 1..{num_downs} (1 outermost, {num_downs} innermost)")
    config = GeneratorConfig(
        ngf=ngf, num_downs=num_downs, embedding_dim=embedding_dim, upsample=upsample,
        skip=child_skip, attention_levels=(level,) if attention else (),
    )
    if skip is None:
        skip = "none" if level == 1 else "concat"
    with torch.device("meta"):
        block = None
        for depth in range(num_downs, level - 1, -1):  # inside-out, as the generator builds
            input_channels, inner_channels, outer_channels = config.level_channels(depth)
            block = UnetSkipConnectionBlock(
                outer_channels, inner_channels, input_channels=input_channels, submodule=block,
                outermost=depth == 1, level=depth, embedding_dim=embedding_dim, upsample=upsample,
                skip=skip if depth == level else config.level_skip(depth),
                attention=depth == level and attention,
            )
    return block


def block_row(block: UnetSkipConnectionBlock, image_size: int = 256) -> Table:
    """The block as one table row: its map, channels, what its up-conv takes and why, parameters.

    ``parameters`` counts this level only (not its child).
    """
    info = block.describe(image_size)
    side = image_size // 2 ** (block.level - 1)
    if block.innermost:
        takes = f"{info.inner_channels} map + {info.up_in_channels - info.inner_channels} style"
    else:
        takes = f"{info.up_in_channels} from child ({block.submodule.skip})"
    return Table(
        columns=BLOCK_COLUMNS,
        rows=((
            info.level, f"{side}x{side}", f"{info.encoded_size}x{info.encoded_size}", info.input_channels, info.inner_channels, info.outer_channels,
            info.attention, info.skip, takes, f"{info.up_in_channels} -> {info.up_conv_out_channels}",
            info.out_channels, info.parameters,
        ),),
        title=f"Level {info.level} at {image_size}x{image_size}",
    )


def block_summary(block: UnetSkipConnectionBlock, image_size: int = 256, batch_size: int = 1, depth: int = 2):
    """torchinfo summary of a block built on the meta device (fixed columns, inputs on meta).

    Its child appears collapsed into its down and up rows; torchinfo's totals include it.
    """
    innermost = _innermost(block)
    step = 2 ** innermost.level
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < step or image_size % step:
        raise ValueError(
            f"image_size={image_size!r} is not accepted: a chain down to level {innermost.level} "
            f"halves the map {innermost.level} times, so use a multiple of {step}"
        )
    side = image_size // 2 ** (block.level - 1)
    embedding_dim = innermost.up_in_channels - innermost.inner_channels
    with torch.device("meta"):
        x = torch.zeros(batch_size, block.input_channels, side, side)
        style = torch.zeros(batch_size, embedding_dim)
    return torchinfo_summary(
        block, input_data=[x, style], col_names=SUMMARY_COLUMNS, depth=depth,
        row_settings=("depth", "var_names"), mode="eval", verbose=0,
    )


def _innermost(block: UnetSkipConnectionBlock) -> UnetSkipConnectionBlock:
    while block.submodule is not None:
        block = block.submodule
    return block


def block_view(image_size: int = 256, **settings) -> str:
    """HTML for the block widget: the block's row, its parameter count and its summary.

    ``settings`` are ``level_block``'s arguments. An invalid combination returns the
    error message as HTML instead of raising.
    """
    try:
        block = level_block(**settings)
        summary_text = str(block_summary(block, image_size))
    except ValueError as error:
        return f'<p style="color:#b00020"><b>Cannot build this block:</b> {html.escape(str(error))}</p>'
    row = block_row(block, image_size)
    parameters = row.records()[0]["parameters"]
    return (
        row._repr_html_()
        + f"<p><b>{parameters:,}</b> parameters in level {block.level} itself (its child not counted)</p>"
        + f"<pre style='font-size:11px'>{html.escape(summary_text)}</pre>"
    )


# An HTML widget's tables get no notebook styling: without padding the columns run together.
BLOCK_VIEW_STYLE = "<style>.block-view table td, .block-view table th {padding: 1px 10px;}</style>"


class BlockWidget(widgets.VBox):
    """The block widget's box; its text form tells a reader of the saved notebook what to do."""

    def __repr__(self) -> str:
        # Shown in place of the widget where no widget state can be displayed (a notebook
        # not yet run or not trusted, a plain-text viewer).
        return "[block widget: run this cell in JupyterLab to switch the level's join, upsampling and attention]"


BLOCK_LEVELS = tuple(range(1, 9))  # the levels of the default 8-level generator


def block_widget(level: int = 7, skip: str = "concat", child_skip: str = "concat", upsample: str = "transpose",
                 attention: bool = False, image_size: int = 256) -> BlockWidget:
    """Switch one level's join mode, its child's join mode, the upsampling and attention;
    see the level's row, its parameter count and its torchinfo summary update.

    CSS classes, stable hooks for browser tests: ``block-widget`` on the whole widget,
    ``block-view`` on the HTML showing the row, the count and the summary (or the error).
    """
    for name, value, accepted in (("level", level, BLOCK_LEVELS), ("skip", skip, SKIP_MODES),
                                  ("child_skip", child_skip, SKIP_MODES), ("upsample", upsample, UPSAMPLE_MODES)):
        if isinstance(value, bool) or value not in accepted:
            raise ValueError(f"{name}={value!r} is not accepted by the block widget: use one of "
                             f"{', '.join(map(repr, accepted))}")
    controls = {
        # a menu, not a slider: a slider's handle has no accessible name in ipywidgets
        "level": widgets.Dropdown(options=BLOCK_LEVELS, value=level, description="level"),
        "skip": widgets.Dropdown(options=SKIP_MODES, value=skip, description="skip"),
        "child_skip": widgets.Dropdown(options=SKIP_MODES, value=child_skip, description="child skip"),
        "upsample": widgets.Dropdown(options=UPSAMPLE_MODES, value=upsample, description="upsample"),
        "attention": widgets.Checkbox(value=attention, description="attention"),
    }
    view = widgets.HTML()
    view.add_class("block-view")

    def update(_change=None):
        view.value = BLOCK_VIEW_STYLE + block_view(image_size=image_size,
                                                   **{name: control.value for name, control in controls.items()})

    for control in controls.values():
        control.observe(update, names="value")
    update()
    widget = BlockWidget([widgets.HBox(list(controls.values())[:3]), widgets.HBox(list(controls.values())[3:]), view])
    widget.add_class("block-widget")
    return widget


# ---------------------------------------------------------------- the architecture explorer (lesson 03)
EXPLORER_NUM_DOWNS = (5, 6, 7, 8, 9, 10)
EXPLORER_NGF = (4, 8, 12, 16, 32, 48, 64, 96, 128)
EXPLORER_IMAGE_SIZES = (32, 64, 96, 128, 192, 256, 384, 512, 768, 1024)


@dataclass(frozen=True)
class ExplorerState:
    """Everything the explorer shows for one set of control values.

    When the values do not make a working generator, ``error`` holds the message
    and the tables, levels and totals are ``None``.
    """

    values: dict
    error: str | None = None
    config: GeneratorConfig | None = None
    levels: tuple[LevelInfo, ...] | None = None
    level_table: anatomy.Table | None = None
    total: int | None = None
    baseline_label: str = ""
    baseline_levels: tuple[LevelInfo, ...] | None = None
    baseline_total: int | None = None
    comparison: anatomy.Table | None = None

    @property
    def change(self) -> int | None:
        """Total parameters minus the baseline's."""
        if self.total is None or self.baseline_total is None:
            return None
        return self.total - self.baseline_total

    @property
    def change_percent(self) -> float | None:
        if self.change is None:
            return None
        return round(100 * self.change / self.baseline_total, 1)


def explorer_config(num_downs: int = 8, ngf: int = 64, upsample: str = "transpose",
                    attention_levels=(), level_skips=None) -> GeneratorConfig:
    """The generator configuration behind a set of explorer values (raises ``ValueError``)."""
    return GeneratorConfig(num_downs=num_downs, ngf=ngf, upsample=upsample,
                           attention_levels=tuple(attention_levels), level_skips=level_skips or {})


def classic_baseline(num_downs: int) -> GeneratorConfig:
    """The explorer's default baseline: classic zi2zi (ngf 64, concat, transpose) at this depth."""
    return GeneratorConfig(num_downs=num_downs)


@functools.lru_cache(maxsize=16)
def _baseline_model(config: GeneratorConfig) -> UNetGenerator:
    # A baseline changes only with the depth (or never): build it once per config.
    return anatomy.build_meta(config)


def explore(num_downs: int = 8, ngf: int = 64, image_size: int = 256, upsample: str = "transpose",
            attention_levels=(), level_skips=None, baseline=None) -> ExplorerState:
    """What the explorer shows for these values: one rebuild on ``meta`` plus the tables.

    ``level_skips`` maps levels 2..num_downs to "concat", "add" or "none" (missing
    levels concatenate). ``baseline`` is any spec ``anatomy`` accepts; ``None``
    means ``classic_baseline(num_downs)``. Baselines are built once and cached. A
    baseline of another depth is compared by its total only (a per-level
    comparison needs the same levels).

    An invalid combination returns a state whose ``error`` is the generator's own
    message; it never raises for values a control can take.
    """
    values = dict(num_downs=num_downs, ngf=ngf, image_size=image_size, upsample=upsample,
                  attention_levels=tuple(sorted(attention_levels)), level_skips=dict(level_skips or {}))
    try:
        config = explorer_config(num_downs, ngf, upsample, attention_levels, level_skips)
        config.check_image_size(image_size, image_size)
    except ValueError as error:
        return ExplorerState(values=values, error=str(error))
    model = anatomy.build_meta(config)
    if baseline is None:
        baseline_label = f"classic zi2zi, {num_downs} levels"
        baseline_model = _baseline_model(classic_baseline(num_downs))
    else:
        baseline_label = "baseline"
        baseline_model = baseline if isinstance(baseline, UNetGenerator) else _baseline_model(anatomy.as_config(baseline))
    same_depth = baseline_model.config.num_downs == num_downs
    return ExplorerState(
        values=values,
        config=config,
        levels=model.levels(image_size),
        level_table=anatomy.level_table(model, image_size),
        total=anatomy.count_parameters(model),
        baseline_label=baseline_label,
        baseline_levels=baseline_model.levels(image_size) if same_depth else None,
        baseline_total=anatomy.count_parameters(baseline_model),
        comparison=anatomy.compare(baseline_model, model, image_size) if same_depth else None,
    )


CHART_SIZE_INCHES = (7.5, 3.6)
CHART_DPI = 90


@dataclass
class _ChartLayout:
    """One layout's figure, its background (everything but the bars) and what is drawn over it."""

    figure: Figure
    over_background: list  # the bars and the axes' frame
    parts: list[str]  # the LevelInfo fields of the stacked bars, bottom to top
    legend: object
    legend_extent: object
    # the background with the legend, and (made when first needed) without it, for a chart
    # whose bars reach the legend: the legend is drawn over them, as in a plain draw
    backgrounds: dict = field(default_factory=dict)

    def background(self, with_legend: bool):
        if with_legend not in self.backgrounds:
            self.legend.set_animated(not with_legend)
            self.figure.canvas.draw()
            self.backgrounds[with_legend] = self.figure.canvas.copy_from_bbox(self.figure.bbox)
        return self.backgrounds[with_legend]


class ChartDrawer:
    """The explorer's per-level bar chart as PNG, fast enough to follow every click.

    Drawing text (title, labels, tick labels) is most of what matplotlib spends on this
    chart, and a click usually changes only the heights of a few bars. So the drawer uses
    matplotlib's blitting: the first chart of a *layout* (levels and their map sizes, image
    size, baseline, whether any level has attention, the y range) is drawn in full by
    ``plots.level_parameter_bars`` with the bars left out, and kept as a background; each
    chart of that layout restores the background and draws the bars and the axes' frame over
    it (and the legend, when a bar reaches it: then the background is one without it). The last ``keep`` layouts are kept (ticking a level's attention on and
    off goes back and forth between two). The y range is rounded up to a tick, so that small
    changes keep the layout.

    A drawer reused over many states gives the same pixels as a new one (tested).
    """

    def __init__(self, dpi: int = CHART_DPI, keep: int = 8):
        self.dpi = dpi
        self.keep = keep
        self._layouts: collections.OrderedDict[tuple, _ChartLayout] = collections.OrderedDict()

    @staticmethod
    def layout_of(state: ExplorerState) -> tuple:
        tallest = max(info.parameters for info in (*state.levels, *(state.baseline_levels or ())))
        ticks = MaxNLocator(nbins="auto", steps=[1, 2, 2.5, 5, 10]).tick_values(0, 1.08 * tallest / 1e6)
        return (tuple((info.level, info.encoded_size) for info in state.levels),
                tuple((info.level, info.encoded_size) for info in state.baseline_levels or ()),
                state.baseline_label, state.values["image_size"],
                any(info.attention_parameters for info in state.levels), float(ticks[-1]))

    def _draw_layout(self, state: ExplorerState, layout: tuple) -> _ChartLayout:
        figure = Figure(figsize=CHART_SIZE_INCHES, dpi=self.dpi)
        FigureCanvasAgg(figure)
        # Fixed margins, because a layout engine re-measures every label on each draw.
        figure.subplots_adjust(left=0.08, right=0.99, top=0.91, bottom=0.2)
        axes = figure.add_subplot()
        side = state.values["image_size"]
        level_parameter_bars(state.levels, baseline=state.baseline_levels, ax=axes, baseline_label=state.baseline_label,
                             title=f"Parameters per level at {side}x{side}")
        axes.set_ylim(0, layout[-1])
        over_background = [*axes.patches, *axes.spines.values()]
        for artist in over_background:
            artist.set_animated(True)  # left out of the background, drawn over it each time
        parts = ["down_parameters", *(["attention_parameters"] if layout[4] else []), "up_parameters"]
        legend = axes.get_legend()
        drawn = _ChartLayout(figure, over_background, parts, legend, None)
        drawn.background(with_legend=True)
        drawn.legend_extent = legend.get_window_extent()
        return drawn

    @staticmethod
    def _set_heights(drawn: _ChartLayout, state: ExplorerState) -> None:
        # the containers come in the order level_parameter_bars draws them: the parts, then the baseline
        containers = drawn.figure.axes[0].containers
        bottoms = [0.0] * len(state.levels)
        for container, field in zip(containers, drawn.parts):
            for index, (bar, info) in enumerate(zip(container, state.levels)):
                height = getattr(info, field) / 1e6
                bar.set_y(bottoms[index])
                bar.set_height(height)
                bottoms[index] += height
        if state.baseline_levels is not None:
            for bar, info in zip(containers[len(drawn.parts)], state.baseline_levels):
                bar.set_height(info.parameters / 1e6)

    def png(self, state: ExplorerState) -> bytes:
        """The chart of a valid state as PNG bytes."""
        if state.error is not None:
            raise ValueError("the chart of an invalid state is not drawn: its error is shown instead")
        layout = self.layout_of(state)
        drawn = self._layouts.pop(layout, None) or self._draw_layout(state, layout)
        self._layouts[layout] = drawn  # the most recent last
        while len(self._layouts) > self.keep:
            self._layouts.popitem(last=False)
        self._set_heights(drawn, state)
        canvas = drawn.figure.canvas
        axes = drawn.figure.axes[0]
        legend_covered = any(bar.get_window_extent().overlaps(drawn.legend_extent) for bar in axes.patches)
        canvas.restore_region(drawn.background(with_legend=not legend_covered))
        for artist in drawn.over_background + ([drawn.legend] if legend_covered else []):
            axes.draw_artist(artist)
        width, height = canvas.get_width_height()
        image = PIL.Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buffer = io.BytesIO()
        # RGB (the figure is opaque) at the fastest compression: a few KB larger, much faster
        image.convert("RGB").save(buffer, format="png", compress_level=1)
        return buffer.getvalue()


def explorer_chart_png(state: ExplorerState, dpi: int = CHART_DPI) -> bytes:
    """The per-level bar chart of a state as PNG bytes (empty for an invalid state)."""
    if state.error is not None:
        return b""
    return ChartDrawer(dpi).png(state)


def explorer_chart_html(state: ExplorerState, drawer: ChartDrawer | None = None) -> str:
    """The chart as an ``<img>`` with its text equivalent as ``alt`` ("" for an invalid state).

    Shown at its own pixel size: stretched to the cell's width it would blur. ``drawer``
    (a widget's own) redraws faster than a new one."""
    if state.error is not None:
        return ""
    width, height = (round(inches * CHART_DPI) for inches in CHART_SIZE_INCHES)
    encoded = base64.b64encode((drawer or ChartDrawer()).png(state)).decode("ascii")
    return (f'<img src="data:image/png;base64,{encoded}" width="{width}" height="{height}" '
            f'alt="{html.escape(chart_description(state))}">')


def chart_description(state: ExplorerState) -> str | None:
    """The chart in words, for whoever cannot see it: the parameters of every level, and the
    baseline's where it differs. ``None`` for an invalid state (no chart is shown)."""
    if state.error is not None:
        return None
    side = state.values["image_size"]
    baseline = {info.level: info.parameters for info in state.baseline_levels or ()}
    bars = []
    for info in state.levels:
        bar = f"level {info.level} ({info.encoded_size}x{info.encoded_size}) {info.parameters:,}"
        if info.level in baseline and baseline[info.level] != info.parameters:
            bar += f" (baseline {baseline[info.level]:,})"
        bars.append(bar)
    return (f"Bar chart, parameters per level at {side}x{side}, against {state.baseline_label}: "
            + "; ".join(bars) + ". The level table below lists the same numbers.")


# Hidden from sight, not from screen readers (the usual "visually hidden" rule).
_SCREEN_READER_ONLY_STYLE = (".explorer .explorer-sr-only {position: absolute; width: 1px; height: 1px; padding: 0; "
                             "margin: -1px; overflow: hidden; clip: rect(0, 0, 0, 0); white-space: nowrap; border: 0;}")


def _level_label(level: int, control: str) -> str:
    """A control's label: ``control`` shown, "level N " before it for screen readers only."""
    return f'<span class="explorer-sr-only">level {level} </span>{control}'


def _totals_html(state: ExplorerState) -> tuple[str, str]:
    if state.error is not None:
        return ("<b>total parameters</b> <span class='explorer-total-value'>-</span>",
                "<span class='explorer-change-value'>-</span>")
    total = f"<b>total parameters</b> <span class='explorer-total-value'>{state.total:,}</span>"
    sign = "+" if state.change > 0 else ""
    change = (f"<span class='explorer-change-value'>{sign}{state.change:,} ({sign}{state.change_percent}%)</span>"
              f" against {html.escape(state.baseline_label)} ({state.baseline_total:,})")
    return total, change


class ArchitectureExplorer(widgets.VBox):
    """The architecture explorer: change the generator, see its levels and counts.

    ::

        num_downs  ngf  image size  upsample
        level 1   [ ] attention   skip none (fixed)   128x128, 64 channels
        level 2   [ ] attention   skip [concat v]     64x64, 128 channels
        ...
        total parameters 55,461,505    0 (0.0%) against classic zi2zi, 8 levels (55,461,505)
        [error message, when the values make no working generator]
        [per-level bar chart]
        [level table]
        [comparison with the baseline, level by level]

    Every change calls ``explore()`` (one rebuild on ``meta`` plus the tables) and
    redraws. ``.state`` is the latest ``ExplorerState``; ``.values()`` the control
    values. When ``num_downs`` changes, the per-level rows follow; levels that still
    exist keep their choices.

    CSS classes, stable hooks for browser tests (each is on the widget's outer element):

    ==================================  ==============================================
    ``explorer``                        the whole explorer
    ``explorer-num-downs``              Dropdown, depth
    ``explorer-ngf``                    Dropdown, width of level 1
    ``explorer-image-size``             Dropdown, image side
    ``explorer-upsample``               Dropdown, "transpose" or "pixelshuffle"
    ``explorer-levels``                 box holding one row per level
    ``explorer-level-row-N``            the row of level N (1 = outermost)
    ``explorer-attention-level-N``      Checkbox (also class ``explorer-attention``)
    ``explorer-skip-level-N``           Dropdown "concat"/"add"/"none" (also ``explorer-skip``);
                                        disabled at level 1, which has no skip
    ``explorer-level-info-N``           HTML: encoded map size and channels of level N
    ``explorer-total``                  HTML; the number is in span ``.explorer-total-value``
    ``explorer-change``                 HTML; the change in span ``.explorer-change-value``
    ``explorer-error``                  HTML; empty unless the values are invalid
    ``explorer-chart``                  HTML: an ``<img>`` (PNG) of the per-level bars, its
                                        ``alt`` the bars in words
    ``explorer-level-table``            HTML table of the levels
    ``explorer-comparison``             HTML table of the change per level
    ==================================  ==============================================

    The Dropdowns render a ``<select>`` inside their element; the Checkboxes an
    ``<input type="checkbox">``. Totals are printed with thousands separators. Every control
    has its own accessible name: the level rows show "attention" and "skip" next to
    "level N", and their labels read "level N attention" and "level N skip" to a screen
    reader. The chart's text equivalent (``chart_description``, the image's ``alt``) lists
    every bar; the level table below it holds the same numbers.
    """

    def __init__(self, baseline=None, num_downs: int = 8, ngf: int = 64, image_size: int = 256,
                 upsample: str = "transpose", attention_levels=(), level_skips=None):
        for name, value, accepted in (("num_downs", num_downs, EXPLORER_NUM_DOWNS), ("ngf", ngf, EXPLORER_NGF),
                                      ("image_size", image_size, EXPLORER_IMAGE_SIZES),
                                      ("upsample", upsample, UPSAMPLE_MODES)):
            if value not in accepted:
                raise ValueError(f"{name}={value!r} is not accepted by the explorer: use one of "
                                 f"{', '.join(map(repr, accepted))}")
        for level in attention_levels:
            if level not in range(1, num_downs + 1):
                raise ValueError(f"attention_levels={tuple(attention_levels)!r} is not accepted: level {level!r} "
                                 f"is outside 1..{num_downs}")
        for level, mode in dict(level_skips or {}).items():
            if level not in range(2, num_downs + 1) or mode not in SKIP_MODES:
                raise ValueError(f"level_skips={level_skips!r} is not accepted: give levels 2..{num_downs} "
                                 f"and modes {', '.join(map(repr, SKIP_MODES))}")
        if baseline is not None and not isinstance(baseline, UNetGenerator):
            anatomy.as_config(baseline)  # a bad baseline fails here, not on the first change
        self.baseline = baseline

        def dropdown(options, value, description, css_class):
            return self._control(widgets.Dropdown(options=options, value=value, description=description), css_class)

        self.num_downs = dropdown(EXPLORER_NUM_DOWNS, num_downs, "num_downs", "explorer-num-downs")
        self.ngf = dropdown(EXPLORER_NGF, ngf, "ngf", "explorer-ngf")
        self.image_size = dropdown(EXPLORER_IMAGE_SIZES, image_size, "image size", "explorer-image-size")
        self.upsample = dropdown(UPSAMPLE_MODES, upsample, "upsample", "explorer-upsample")
        self.attention_boxes: dict[int, widgets.Checkbox] = {}
        self.skip_selectors: dict[int, widgets.Dropdown] = {}
        self.level_infos: dict[int, widgets.HTML] = {}
        self.levels_box = self._classed(widgets.VBox(), "explorer-levels")
        self.total_html = self._classed(widgets.HTML(), "explorer-total")
        self.change_html = self._classed(widgets.HTML(), "explorer-change")
        self.error_html = self._classed(widgets.HTML(), "explorer-error")
        # An HTML widget holding an <img>, not an Image widget: an Image has no alt text.
        self.chart = self._classed(widgets.HTML(), "explorer-chart")
        self._chart_drawer = ChartDrawer()
        self.level_table_html = self._classed(widgets.HTML(), "explorer-level-table")
        self.comparison_html = self._classed(widgets.HTML(), "explorer-comparison")
        self.state: ExplorerState | None = None
        self._building_rows = False
        self._build_level_rows(dict.fromkeys(attention_levels, True), dict(level_skips or {}))
        self.num_downs.observe(self._on_depth_change, names="value")
        # An HTML widget's tables get no notebook styling: give their cells some room.
        table_style = widgets.HTML("<style>.explorer table td, .explorer table th {padding: 1px 10px;}"
                                   f"{_SCREEN_READER_ONLY_STYLE}</style>")
        super().__init__(children=[
            table_style,
            widgets.HBox([self.num_downs, self.ngf, self.image_size, self.upsample]),
            self.levels_box,
            widgets.HBox([self.total_html, self.change_html], layout=widgets.Layout(grid_gap="2em")),
            self.error_html,
            self.chart,
            self.level_table_html,
            self.comparison_html,
        ])
        self.add_class("explorer")
        self.refresh()

    def __repr__(self) -> str:
        # Shown in place of the widget where no widget state can be displayed (a notebook
        # not yet run or not trusted, a plain-text viewer).
        return "[architecture explorer: run this cell in JupyterLab to change the generator and see its counts]"

    @staticmethod
    def _classed(widget, css_class):
        widget.add_class(css_class)
        return widget

    def _control(self, widget, css_class):
        widget.observe(self._on_change, names="value")
        return self._classed(widget, css_class)

    def _build_level_rows(self, attention: dict[int, bool], skips: dict[int, str]) -> None:
        self._building_rows = True
        try:
            self.attention_boxes, self.skip_selectors, self.level_infos = {}, {}, {}
            rows = []
            for level in range(1, self.num_downs.value + 1):
                # The row shows "level N" once; each control's label carries it too, hidden from
                # sight, so a screen reader names every control uniquely ("level 6 attention").
                box = widgets.Checkbox(value=bool(attention.get(level, False)), description=_level_label(level, "attention"),
                                       description_allow_html=True, tooltip=f"level {level} attention",
                                       indent=False, layout=widgets.Layout(width="8em"))
                # level 1 has no skip (its up path is the image): a fixed, disabled "none"
                selector = widgets.Dropdown(options=("none",) if level == 1 else SKIP_MODES,
                                            value="none" if level == 1 else skips.get(level, "concat"),
                                            description=_level_label(level, "skip"), description_allow_html=True,
                                            tooltip=f"level {level} skip", disabled=level == 1,
                                            layout=widgets.Layout(width="13em"))
                info = self._classed(widgets.HTML(), f"explorer-level-info-{level}")
                self._classed(self._control(box, f"explorer-attention-level-{level}"), "explorer-attention")
                self._classed(self._control(selector, f"explorer-skip-level-{level}"), "explorer-skip")
                self.attention_boxes[level], self.skip_selectors[level], self.level_infos[level] = box, selector, info
                label = widgets.HTML(f"<b>level {level}</b>", layout=widgets.Layout(width="5em"))
                rows.append(self._classed(widgets.HBox([label, box, selector, info]), f"explorer-level-row-{level}"))
            self.levels_box.children = rows
        finally:
            self._building_rows = False

    def _on_depth_change(self, change) -> None:
        # runs before _on_change would see stale rows: rebuild them, keeping the choices of levels that remain
        values = self.values()
        self._build_level_rows(dict.fromkeys(values["attention_levels"], True), values["level_skips"])
        self.refresh()

    def _on_change(self, change) -> None:
        if self._building_rows or change["owner"] is self.num_downs:
            return
        self.refresh()

    def values(self) -> dict:
        """The control values, as keyword arguments of ``explore()``."""
        return dict(
            num_downs=self.num_downs.value,
            ngf=self.ngf.value,
            image_size=self.image_size.value,
            upsample=self.upsample.value,
            attention_levels=tuple(level for level, box in self.attention_boxes.items() if box.value),
            level_skips={level: selector.value for level, selector in self.skip_selectors.items() if level > 1},
        )

    def refresh(self) -> ExplorerState:
        """Recompute from the controls and redraw; returns the new state.

        The numbers go out first and the chart last: every widget change is sent to the
        browser as soon as it is set, and drawing the chart takes most of a refresh, so the
        totals and tables do not wait for it (benchmarks/explorer_latency.py times both)."""
        state = explore(**self.values(), baseline=self.baseline)
        self.show_numbers(state)
        self.show_chart(state)
        return state

    def show_numbers(self, state: ExplorerState) -> None:
        """Totals, change, error, level table, comparison and the map size of every level."""
        self.state = state
        self.total_html.value, self.change_html.value = _totals_html(state)
        self.error_html.value = "" if state.error is None else (
            f"<div style='color:#B00020'><b>This combination does not build:</b> {html.escape(state.error)}</div>")
        self.level_table_html.value = "" if state.level_table is None else state.level_table._repr_html_()
        self.comparison_html.value = "" if state.comparison is None else state.comparison._repr_html_()
        for level, info in self.level_infos.items():
            if state.levels is None:
                info.value = ""
            else:
                described = state.levels[level - 1]
                side = described.encoded_size
                info.value = f"{side}x{side}, {described.inner_channels} channels"

    def show_chart(self, state: ExplorerState) -> None:
        """The per-level bar chart, hidden while the combination does not build; its text
        equivalent (the image's accessible name) says what each bar shows."""
        self.chart.value = explorer_chart_html(state, self._chart_drawer)
        self.chart.layout.display = "none" if state.error is not None else None
