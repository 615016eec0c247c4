"""ipywidgets front ends. Thin: each widget wires controls to a plain function that
computes what it shows; those functions are tested without a browser.
"""

from __future__ import annotations

# ---------------------------------------------------------------- the block widget (lesson 02)
import html

import ipywidgets as widgets
import torch
from torchinfo import summary as torchinfo_summary

from .anatomy import SUMMARY_COLUMNS, Table
from .unet import SKIP_MODES, UPSAMPLE_MODES, GeneratorConfig, UnetSkipConnectionBlock

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


def block_widget(level: int = 7, skip: str = "concat", child_skip: str = "concat", upsample: str = "transpose",
                 attention: bool = False, image_size: int = 256) -> widgets.VBox:
    """Switch one level's join mode, its child's join mode, the upsampling and attention;
    see the level's row, its parameter count and its torchinfo summary update."""
    controls = {
        "level": widgets.IntSlider(value=level, min=1, max=8, description="level"),
        "skip": widgets.Dropdown(options=SKIP_MODES, value=skip, description="skip"),
        "child_skip": widgets.Dropdown(options=SKIP_MODES, value=child_skip, description="child skip"),
        "upsample": widgets.Dropdown(options=UPSAMPLE_MODES, value=upsample, description="upsample"),
        "attention": widgets.Checkbox(value=attention, description="attention"),
    }
    view = widgets.HTML()

    def update(_change=None):
        view.value = block_view(image_size=image_size, **{name: control.value for name, control in controls.items()})

    for control in controls.values():
        control.observe(update, names="value")
    update()
    return widgets.VBox([widgets.HBox(list(controls.values())[:3]), widgets.HBox(list(controls.values())[3:]), view])


# ---------------------------------------------------------------- the architecture explorer (lesson 03)
