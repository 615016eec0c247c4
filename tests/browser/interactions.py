"""What the browser test does with each widget notebook after Run All: a registry.

A hook takes the open notebook (labdriver.NotebookPage), operates the notebook's main
controls as a learner would, and checks the visible result against what the package
computes for the same settings (never a number written into the test). It may return a
locator, which the screenshot is centred on. The kernel going idle and the absence of
errors are checked by the caller afterwards.

    02_skip_block       the block widget: child skip, upsampling, attention; level 1 with
                        "concat" (the error shows), then "none"
    03_unet_generator   the architecture explorer: attention at a level, a level's skip to
                        "none"; 9 levels at 256x256 (the error shows), then 512x512

Each step waits for the value that must appear (a change updates several widget models
in turn, so a value read once may be one shown on the way) and checks that the step
changes what is shown, so that waiting for it proves something.

A widget notebook without a hook fails its browser test, saying so: every widget a
learner meets is operated at least once.
"""

from __future__ import annotations

import re
from typing import Callable

from zi2zi_lessons import anatomy, explorer
from zi2zi_lessons.unet import GeneratorConfig

INTERACTIONS: dict[str, Callable] = {}


def interaction(notebook_stem: str):
    """Register the decorated function as the hook of notebooks/<notebook_stem>.ipynb."""

    def register(hook: Callable) -> Callable:
        if notebook_stem in INTERACTIONS:
            raise ValueError(f"notebook {notebook_stem!r} already has an interaction: {INTERACTIONS[notebook_stem].__name__}")
        INTERACTIONS[notebook_stem] = hook
        return hook

    return register


# ------------------------------------------------------------------ shared checks

# The page must show each value the way the package's own tables format it.
shown = anatomy.format_cell


def as_shown(table: anatomy.Table) -> dict:
    """A package table as labdriver's shown_table reads it off the page."""
    return {"caption": table.title, "header": list(table.columns),
            "rows": [[shown(value) for value in row] for row in table.rows]}


def exactly(text: str) -> re.Pattern:
    """A pattern matching `text` and nothing longer (so "1,234" is not found in "11,234")."""
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


def whole(text: str) -> re.Pattern:
    """A pattern finding `text` with no digit or letter glued to it (not "8,533" in "18,533")."""
    return re.compile(rf"(?<![\w,.]){re.escape(text)}(?![\w,])")


def package_error(build) -> str:
    """The message of the ValueError `build()` raises (the test fails if it does not raise)."""
    try:
        build()
    except ValueError as error:
        return str(error)
    raise AssertionError(f"{build} was expected to raise ValueError for an invalid combination")


# ------------------------------------------------------------------ lesson 02: the block widget

BLOCK_IMAGE_SIZE = 256  # block_widget's default, which the notebook keeps


def block_expectation(level, skip, child_skip, upsample, attention) -> dict:
    """What the block widget must show for these controls, computed from the whole generator.

    The widget builds the level and its child chain by itself (explorer.level_block); here
    the same level is read off a full UNetGenerator whose levels below join with
    `child_skip`, through GeneratorConfig and anatomy.
    """
    config = GeneratorConfig(skip=child_skip, level_skips={level: skip} if level > 1 else {},
                             attention_levels=(level,) if attention else (), upsample=upsample)
    levels = anatomy.build_meta(config).levels(BLOCK_IMAGE_SIZE)
    info = levels[level - 1]
    assert info.skip == skip, f"the generator joins level {level} with {info.skip!r}, not {skip!r}"
    side = BLOCK_IMAGE_SIZE // 2 ** (level - 1)
    if level == config.num_downs:
        takes = f"{info.inner_channels} map + {config.embedding_dim} style"
    else:
        takes = f"{info.up_in_channels} from child ({levels[level].skip})"
    row = [shown(info.level), f"{side}x{side}", f"{info.encoded_size}x{info.encoded_size}",
           shown(info.input_channels), shown(info.inner_channels), shown(info.outer_channels),
           shown(info.attention), info.skip, takes, f"{info.up_in_channels} -> {info.up_conv_out_channels}",
           shown(info.out_channels), shown(info.parameters)]
    return {
        "table": {"caption": f"Level {level} at {BLOCK_IMAGE_SIZE}x{BLOCK_IMAGE_SIZE}",
                  "header": list(explorer.BLOCK_COLUMNS), "rows": [row]},
        "own parameters": whole(f"{info.parameters:,} parameters in level {level} itself"),
        # torchinfo's total for the block counts this level and every level below it
        "summary total": whole(f"Total params: {sum(below.parameters for below in levels[level - 1:]):,}"),
    }


def check_block_view(notebook, view, settings: dict) -> None:
    expected = block_expectation(**settings)
    what = f"the block widget's row for {settings}"
    notebook.expect_value(lambda: notebook.shown_table(view.locator("table")), expected["table"], what)
    notebook.wait_idle(f"the kernel to go idle after {settings}")
    notebook.expect_text(view, expected["own parameters"], f"the level's own parameter count for {settings}")
    notebook.expect_text(view.locator("pre"), expected["summary total"], f"torchinfo's total for {settings}")


@interaction("02_skip_block")
def operate_block_widget(notebook):
    """Change the child's join, the upsampling and attention at level 7, checking the level's row,
    its parameter count and torchinfo's total after each; then level 1 with "concat" (invalid:
    the message shows in the widget) and "none" (valid again)."""
    cell = notebook.cell("block_widget(")
    view = cell.locator(".block-view")
    settings = dict(level=7, skip="concat", child_skip="concat", upsample="transpose", attention=False)
    check_block_view(notebook, view, settings)
    steps = [
        (lambda: notebook.select("child skip", "add", within=cell), "child_skip", "add"),
        (lambda: notebook.select("upsample", "pixelshuffle", within=cell), "upsample", "pixelshuffle"),
        (lambda: notebook.toggle("attention", True, within=cell), "attention", True),
    ]
    for operate, name, value in steps:
        before = block_expectation(**settings)["table"]
        settings[name] = value
        assert block_expectation(**settings)["table"] != before, f"{name}={value!r} would change nothing visible"
        operate()
        check_block_view(notebook, view, settings)

    settings["level"] = 1
    message = package_error(lambda: explorer.level_block(**settings))
    notebook.select("level", "1", within=cell)
    notebook.expect_text(view, f"Cannot build this block: {message}", "the error for level 1 with skip 'concat'")
    notebook.wait_idle("the kernel to go idle after the invalid combination")
    assert view.locator("table").count() == 0, "the block widget shows a table for an invalid combination"

    notebook.select("skip", "none", within=cell)
    settings["skip"] = "none"
    check_block_view(notebook, view, settings)
    assert "Cannot build" not in view.inner_text(), "the error stayed after the combination was fixed"
    return cell


# ------------------------------------------------------------------ lesson 03: the architecture explorer

def explorer_expectation(image_size: int = 256, **generator) -> dict:
    """What the explorer must show for a generator (UNetGenerator arguments) at `image_size`."""
    config = GeneratorConfig(**generator)
    baseline = GeneratorConfig(num_downs=config.num_downs)  # the explorer's default: classic zi2zi, same depth
    model = anatomy.build_meta(config)
    total, baseline_total = anatomy.count_parameters(model), anatomy.count_parameters(anatomy.build_meta(baseline))
    table = anatomy.level_table(model, image_size)
    comparison = anatomy.compare(baseline, config, image_size)
    return {
        "total": total,
        "change": total - baseline_total,
        "change percent": round(100 * (total - baseline_total) / baseline_total, 1),
        "baseline": f"against classic zi2zi, {config.num_downs} levels ({baseline_total:,})",
        "table": as_shown(table),
        "footer": table.footer,
        "comparison": as_shown(comparison),
        "level infos": [f"{info.encoded_size}x{info.encoded_size}, {info.inner_channels} channels"
                        for info in model.levels(image_size)],
    }


def shown_change(text: str | None) -> tuple[int, float] | None:
    """The explorer's change value, e.g. "+328,321 (+0.6%)", as (328321, 0.6)."""
    match = re.fullmatch(r"([+-]?[\d,]+) \(([+-]?[\d.]+)%\)", text or "")
    if match is None:
        return None
    return int(match.group(1).replace(",", "")), float(match.group(2))


def check_explorer(notebook, explorer_box, image_size: int, generator: dict, previous_total: int | None) -> int:
    """Wait for the explorer to show `generator`'s numbers; return its total."""
    expected = explorer_expectation(image_size, **generator)
    what = f"the explorer at {image_size}x{image_size} for {generator}"
    assert expected["total"] != previous_total, f"{generator} has the total it replaces: waiting would prove nothing"
    notebook.expect_text(explorer_box.locator(".explorer-total-value"), exactly(f"{expected['total']:,}"),
                         f"the total of {what}")
    # one change updates the total, the change, the chart and the tables in turn
    notebook.wait_idle(f"the kernel to go idle after {what}")
    change_value = explorer_box.locator(".explorer-change-value")
    notebook.expect_value(lambda: shown_change(notebook.shown_text(change_value)),
                          (expected["change"], expected["change percent"]), f"the change against baseline of {what}")
    if expected["change"] > 0:
        notebook.expect_text(change_value, re.compile(r"^\s*\+"), "a + on a growth")
    notebook.expect_text(explorer_box.locator(".explorer-change"), expected["baseline"], f"the baseline of {what}")
    notebook.expect_value(lambda: notebook.shown_table(explorer_box.locator(".explorer-level-table table")),
                          expected["table"], f"the level table of {what}")
    notebook.expect_text(explorer_box.locator(".explorer-level-table"), expected["footer"],
                         f"the table footer of {what}")
    notebook.expect_value(lambda: notebook.shown_table(explorer_box.locator(".explorer-comparison table")),
                          expected["comparison"], f"the level-by-level comparison of {what}")
    notebook.expect_value(
        lambda: [notebook.shown_text(explorer_box.locator(f".explorer-level-info-{level}"))
                 for level in range(1, len(expected["level infos"]) + 1)],
        expected["level infos"], f"the per-level map sizes and channels of {what}")
    assert explorer_box.locator(".explorer-level-row-" + str(len(expected["level infos"]) + 1)).count() == 0, \
        f"the explorer shows more level rows than {what} has"
    assert notebook.shown_text(explorer_box.locator(".explorer-error")) == "", f"an error is shown for {what}"
    assert explorer_box.locator(".explorer-chart").is_visible(), f"no chart is shown for {what}"
    return expected["total"]


@interaction("03_unet_generator")
def operate_explorer(notebook):
    """Attention at level 5, then no skip at level 7: the total, the change against the classic
    generator and the level table follow the package. Then 9 levels at 256x256 (invalid: the
    message shows, the totals empty, no chart) and 512x512 (valid again)."""
    explorer_box = notebook.cell("ArchitectureExplorer(").locator(".explorer")
    generator, image_size = {}, 256
    total = check_explorer(notebook, explorer_box, image_size, generator, previous_total=None)

    # the level rows' controls are found by their accessible names, as a screen reader names them
    explorer_box.get_by_role("checkbox", name="level 5 attention", exact=True).set_checked(True)
    generator["attention_levels"] = (5,)
    total = check_explorer(notebook, explorer_box, image_size, generator, total)

    explorer_box.get_by_role("combobox", name="level 7 skip", exact=True).select_option("none")
    generator["level_skips"] = {7: "none"}
    total = check_explorer(notebook, explorer_box, image_size, generator, total)

    notebook.select("num_downs", "9", within=explorer_box)
    generator["num_downs"] = 9
    message = package_error(lambda: GeneratorConfig(**generator).check_image_size(image_size, image_size))
    notebook.expect_text(explorer_box.locator(".explorer-error"), f"This combination does not build: {message}",
                         "the error for 9 levels at 256x256")
    notebook.wait_idle("the kernel to go idle after the invalid combination")
    for value in ("total", "change"):
        notebook.expect_text(explorer_box.locator(f".explorer-{value}-value"), exactly("-"),
                             f"no {value} for an invalid combination")
    assert not explorer_box.locator(".explorer-chart").is_visible(), "a chart is shown for an invalid combination"
    assert explorer_box.locator(".explorer-level-row-9").count() == 1, "no row for level 9 after choosing 9 levels"

    notebook.select("image size", "512", within=explorer_box)
    image_size = 512
    check_explorer(notebook, explorer_box, image_size, generator, previous_total=None)
    return explorer_box.locator(".explorer-chart")  # centred: the last level rows, the totals, the chart
