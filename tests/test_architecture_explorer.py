"""The architecture explorer (lesson 03): its logic without a browser, and the widget's wiring."""

import base64
import dataclasses
import html
import io
import re

import numpy as np
import PIL.Image
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from zi2zi_lessons import UNetGenerator, anatomy, explorer, plots
from zi2zi_lessons.explorer import ArchitectureExplorer, chart_description, explore

CLASSIC_TOTAL = 55_461_505  # the classic 8-level generator, counted layer by layer in test_unet.py


def attention_params(c):
    return 2 * (c * c // 8 + c // 8) + c * c + c + 1


def removed_concat_saving(up_in_lost, up_out):
    """A transposed k4 up-convolution that loses ``up_in_lost`` input channels."""
    return up_in_lost * up_out * 16


def test_default_state_is_the_classic_generator_against_itself():
    state = explore()
    assert state.error is None
    assert state.total == CLASSIC_TOTAL == state.baseline_total
    assert state.change == 0 and state.change_percent == 0.0
    assert state.baseline_label == "classic zi2zi, 8 levels"
    assert state.level_table.column("encoded map")[-1] == "1x1"
    assert [row[4] for row in state.comparison.rows] == [0] * 9


def test_attention_and_removed_skips_change_the_total_as_counted_by_hand():
    state = explore(attention_levels=(6, 7), level_skips={6: "none", 7: "none"})
    expected = 2 * attention_params(512) - 2 * removed_concat_saving(512, 512)
    assert state.change == expected == -7_731_966
    by_level = {row[0]: row for row in state.comparison.rows}
    assert "skip concat -> none" in by_level[6][1] and "attention off -> on" in by_level[6][1]
    assert "up in channels 1024 -> 512" in by_level[5][1]  # the parent pays for the child's skip
    assert state.levels[5].skip == "none" and state.levels[5].attention
    assert state.config.level_skip(7) == "none"


def test_invalid_combinations_return_the_message_instead_of_raising():
    state = explore(image_size=384)
    assert state.error.startswith("image height 384 does not work with num_downs=8")
    assert state.levels is None and state.level_table is None and state.total is None and state.change is None
    state = explore(ngf=4, attention_levels=(1,))
    assert "level 1 has 4 channels and SelfAttention needs at least 8" in state.error
    assert explorer.explorer_chart_png(state) == b""


def test_a_baseline_of_the_callers_choice():
    seed000 = dict(skip="add", upsample="pixelshuffle", attention_levels=(7, 8))
    state = explore(upsample="pixelshuffle", attention_levels=(7, 8), level_skips={k: "add" for k in range(2, 9)},
                    baseline=seed000)
    assert state.baseline_label == "baseline"
    assert state.change == 0 and state.baseline_total == anatomy.parameter_totals(seed000)["total"]
    model = anatomy.build_meta(seed000)
    assert explore(baseline=model).baseline_total == anatomy.count_parameters(model)


def test_a_baseline_of_another_depth_is_compared_by_total_only():
    state = explore(num_downs=7, image_size=128, baseline={})
    assert state.comparison is None and state.baseline_levels is None
    assert state.baseline_total == CLASSIC_TOTAL
    assert state.change == state.total - CLASSIC_TOTAL < 0


def test_chart_is_a_png():
    assert explorer.explorer_chart_png(explore()).startswith(b"\x89PNG")


# ---------------------------------------------------------------- the widget
def css_classes(widget):
    found = set(getattr(widget, "_dom_classes", ()))
    for child in getattr(widget, "children", ()):
        found |= css_classes(child)
    return found


def test_widget_shows_the_totals_and_follows_every_change():
    widget = ArchitectureExplorer()
    assert "55,461,505" in widget.total_html.value
    assert "explorer-change-value'>0 (0.0%)" in widget.change_html.value
    widget.attention_boxes[6].value = True
    assert f"{CLASSIC_TOTAL + attention_params(512):,}" in widget.total_html.value
    assert "+328,321 (+0.6%)" in widget.change_html.value
    widget.skip_selectors[6].value = "none"
    assert widget.state.change == attention_params(512) - removed_concat_saving(512, 512)
    assert "skip concat -&gt; none" in widget.comparison_html.value
    assert chart_png(widget).startswith(b"\x89PNG")
    assert widget.level_infos[8].value == "1x1, 512 channels"


def test_depth_change_rebuilds_the_level_rows_and_keeps_choices():
    widget = ArchitectureExplorer(attention_levels=(3, 7), level_skips={3: "add"})
    widget.num_downs.value = 6
    assert sorted(widget.attention_boxes) == sorted(widget.skip_selectors) == [1, 2, 3, 4, 5, 6]
    assert len(widget.levels_box.children) == 6
    assert widget.values()["attention_levels"] == (3,)
    assert widget.skip_selectors[3].value == "add"
    assert widget.state.values["num_downs"] == 6 and len(widget.state.levels) == 6
    assert "explorer-level-row-6" in css_classes(widget) and "explorer-level-row-7" not in css_classes(widget)
    widget.num_downs.value = 9
    assert len(widget.levels_box.children) == 9 and not widget.attention_boxes[7].value


def test_one_refresh_per_change(monkeypatch):
    widget = ArchitectureExplorer()
    calls = []
    real = explorer.explore
    monkeypatch.setattr(explorer, "explore", lambda **kw: calls.append(kw) or real(**kw))
    widget.num_downs.value = 7
    widget.image_size.value = 128
    widget.attention_boxes[2].value = True
    assert len(calls) == 3


def test_the_numbers_reach_the_page_before_the_chart():
    # Each widget sends its new value as it is set; the chart is the slow part of a refresh.
    widget = ArchitectureExplorer()
    order = []
    for name in ("total_html", "change_html", "level_table_html", "comparison_html", "chart"):
        getattr(widget, name).observe(lambda change, name=name: order.append(name), names="value")
    widget.attention_boxes[6].value = True
    assert order[-1] == "chart"
    assert {"total_html", "change_html", "level_table_html", "comparison_html"} <= set(order[:-1])
    assert "+328,321" in widget.change_html.value


def test_invalid_values_show_an_error_in_the_widget():
    widget = ArchitectureExplorer()
    widget.num_downs.value = 10  # 256 cannot pass ten halvings
    assert "image height 256 does not work with num_downs=10" in widget.error_html.value
    assert "explorer-total-value'>-<" in widget.total_html.value
    assert widget.chart.layout.display == "none" and widget.level_table_html.value == ""
    assert widget.level_infos[1].value == ""
    widget.image_size.value = 1024
    assert widget.error_html.value == "" and widget.chart.layout.display is None
    widget.ngf.value = 4
    widget.attention_boxes[1].value = True
    assert "at least 8" in widget.error_html.value


def test_level_one_has_a_fixed_skip():
    widget = ArchitectureExplorer()
    assert widget.skip_selectors[1].disabled and widget.skip_selectors[1].options == ("none",)
    assert 1 not in widget.values()["level_skips"]


def test_documented_css_hooks_exist():
    widget = ArchitectureExplorer(num_downs=5, image_size=64)
    expected = {"explorer", "explorer-num-downs", "explorer-ngf", "explorer-image-size", "explorer-upsample",
                "explorer-levels", "explorer-attention", "explorer-skip", "explorer-total", "explorer-change",
                "explorer-error", "explorer-chart", "explorer-level-table", "explorer-comparison"}
    for level in range(1, 6):
        expected |= {f"explorer-level-row-{level}", f"explorer-attention-level-{level}",
                     f"explorer-skip-level-{level}", f"explorer-level-info-{level}"}
    assert expected <= css_classes(widget)
    for hook in expected:  # and each is documented for the browser tests
        assert f"``{re.sub(r'-[0-9]+$', '-N', hook)}``" in ArchitectureExplorer.__doc__


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        (dict(num_downs=4), r"num_downs=4 is not accepted by the explorer: use one of 5, 6"),
        (dict(ngf=50), r"ngf=50"),
        (dict(image_size=100), r"image_size=100"),
        (dict(upsample="bilinear"), r"upsample='bilinear'"),
        (dict(attention_levels=(9,)), r"attention_levels=\(9,\).*outside 1\.\.8"),
        (dict(level_skips={1: "none"}), r"level_skips=\{1: 'none'\}.*levels 2\.\.8"),
        (dict(level_skips={5: "residual"}), r"level_skips=.*modes 'concat', 'add', 'none'"),
        (dict(baseline=dict(skip="residual")), r"skip='residual'"),
    ],
)
def test_bad_arguments_are_named(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        ArchitectureExplorer(**kwargs)


def test_explorer_never_builds_real_weights(monkeypatch):
    built = []
    original = UNetGenerator.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        built.append(next(self.parameters()).device.type)

    monkeypatch.setattr(UNetGenerator, "__init__", spy)
    widget = ArchitectureExplorer()
    widget.attention_boxes[5].value = True
    assert built and set(built) == {"meta"}


def test_saved_notebooks_tell_the_reader_to_run_the_widget_cells():
    # The text form is what JupyterLab shows before a notebook is run (or when it is not trusted).
    from zi2zi_lessons.explorer import block_widget

    explorer_text = ArchitectureExplorer()._repr_mimebundle_()["text/plain"]
    block_text = block_widget()._repr_mimebundle_()["text/plain"]
    assert explorer_text.startswith("[architecture explorer: run this cell")
    assert block_text.startswith("[block widget: run this cell")


def chart_png(widget) -> bytes:
    """The PNG inside the explorer's chart (an <img> with a data URL)."""
    return base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', widget.chart.value).group(1))


def accessible_name(control) -> str:
    """A control's label as a screen reader reads it (its description without the markup)."""
    return re.sub(r"<[^>]+>", "", control.description)


def test_every_control_has_a_unique_accessible_name():
    widget = ArchitectureExplorer(num_downs=7)
    controls = [widget.num_downs, widget.ngf, widget.image_size, widget.upsample,
                *widget.attention_boxes.values(), *widget.skip_selectors.values()]
    names = [accessible_name(control) for control in controls]
    assert len(set(names)) == len(names), f"controls share a name: {names}"
    assert names[4:] == [f"level {level} attention" for level in range(1, 8)] + \
        [f"level {level} skip" for level in range(1, 8)]
    widget.num_downs.value = 9  # the rows rebuilt for another depth are named the same way
    assert accessible_name(widget.attention_boxes[9]) == "level 9 attention"
    assert accessible_name(widget.skip_selectors[9]) == "level 9 skip"


def test_the_chart_has_a_text_equivalent_listing_every_bar():
    widget = ArchitectureExplorer()
    widget.attention_boxes[6].value = True
    state = widget.state
    text = html.unescape(re.search(r'alt="([^"]*)"', widget.chart.value).group(1))
    assert text == chart_description(state)
    for info in state.levels:
        assert f"level {info.level} ({info.encoded_size}x{info.encoded_size}) {info.parameters:,}" in text
    changed = [(info, base) for info, base in zip(state.levels, state.baseline_levels) if info.parameters != base.parameters]
    assert [info.level for info, _ in changed] == [6]
    assert f"(baseline {changed[0][1].parameters:,})" in text
    assert text.count("(baseline ") == 1  # only the bar that differs names its baseline
    widget.image_size.value = 32  # 8 levels do not fit: no chart, no description
    assert widget.state.error is not None and widget.chart.value == "" and chart_description(widget.state) is None


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(PIL.Image.open(io.BytesIO(png)).convert("RGB"))


def drawn_in_full(state) -> np.ndarray:
    """The chart drawn the plain way, every artist in one draw, with the drawer's y range."""
    figure = Figure(figsize=explorer.CHART_SIZE_INCHES, dpi=explorer.CHART_DPI)
    FigureCanvasAgg(figure)
    figure.subplots_adjust(left=0.08, right=0.99, top=0.91, bottom=0.2)
    axes = figure.add_subplot()
    side = state.values["image_size"]
    plots.level_parameter_bars(state.levels, baseline=state.baseline_levels, ax=axes,
                               baseline_label=state.baseline_label, title=f"Parameters per level at {side}x{side}")
    axes.set_ylim(0, explorer.ChartDrawer.layout_of(state)[-1])
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3]


CHART_STATES = [
    dict(),
    dict(attention_levels=(6,)),  # a new layout: an attention part and legend entry
    dict(),  # back: the first layout again, from the drawer's store
    dict(level_skips={5: "none", 6: "add"}),  # same layout, other heights
    dict(attention_levels=(4, 6), level_skips={7: "none"}),
    dict(num_downs=6, image_size=64, ngf=8),  # other levels, sizes, y range
    dict(num_downs=5, ngf=4, image_size=32, upsample="pixelshuffle"),
]


def test_a_reused_chart_drawer_draws_what_a_full_draw_draws():
    reused = explorer.ChartDrawer(keep=2)  # a small store, so that layouts are also dropped and redrawn
    for values in CHART_STATES:
        state = explore(**values)
        assert state.error is None, values
        shown = pixels(reused.png(state))
        assert np.array_equal(shown, pixels(explorer.ChartDrawer().png(state))), f"reused drawer differs at {values}"
        assert np.array_equal(shown, drawn_in_full(state)), f"blitting differs from a full draw at {values}"


def test_the_legend_is_drawn_again_over_a_bar_that_reaches_it():
    state = explore()
    # level 2 made as tall as the tallest: its bar runs into the legend (upper left)
    tall = dataclasses.replace(state.levels[1], down_parameters=12_000_000)
    state = dataclasses.replace(state, levels=(state.levels[0], tall, *state.levels[2:]))
    drawer = explorer.ChartDrawer()
    assert np.array_equal(pixels(drawer.png(state)), drawn_in_full(state)), "the legend is not drawn over the tall bar"
    assert np.array_equal(pixels(drawer.png(explore())), drawn_in_full(explore())), "the legend is missing again"


def test_the_chart_drawer_keeps_its_layouts():
    drawer = explorer.ChartDrawer(keep=2)
    first, second, third = (explore(**values) for values in CHART_STATES[:2] + CHART_STATES[5:6])
    for state in (first, second, first, second):
        drawer.png(state)
    assert len(drawer._layouts) == 2  # two layouts, drawn once each
    drawer.png(third)
    assert list(drawer._layouts) == [drawer.layout_of(second), drawer.layout_of(third)]
    with pytest.raises(ValueError, match="invalid state"):
        drawer.png(explore(image_size=32))
