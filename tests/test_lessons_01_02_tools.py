"""The tools behind lessons 01 to 03: the attention figures, the cost table and curves, the
multiply-add counts, the CJK title font and the block widget's logic."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import re  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from zi2zi_lessons import SelfAttention, UNetGenerator, explorer, plots  # noqa: E402
from zi2zi_lessons import cost  # noqa: E402
from zi2zi_lessons.cost import attention_cost, attention_matrix_bytes, format_bytes  # noqa: E402


# ---------------------------------------------------------------- attention figures
def attention_of_glyph(side=16):
    torch.manual_seed(0)
    glyph = np.ones((2 * side, 2 * side), dtype=np.float32)  # paper, with a cross of ink
    glyph[side - 2:side + 2, :] = glyph[:, side - 2:side + 2] = -1.0
    features = torch.nn.Conv2d(1, 16, 4, 2, 1)(torch.from_numpy(glyph)[None, None])
    return glyph, SelfAttention(16).attention_map(features)[0].detach()


def test_plot_attention_rows_draws_one_panel_per_query_and_name():
    glyph, weights = attention_of_glyph()
    fig = plots.plot_attention_rows(glyph, {"untrained": weights, "twice": weights}, [(3, 4), (10, 12)], title="T")
    image_axes = [ax for ax in fig.axes if ax.get_images()]
    assert len(image_axes) == 2 * 3
    assert fig._suptitle.get_text() == "T"
    titles = [ax.get_title() for ax in image_axes]
    assert titles[0] == "input, map 16x16"
    assert titles[1].startswith("query (3, 4); max ")
    # the panel shows row 3*16+4 of the matrix, in units of 1/N
    shown = image_axes[1].get_images()[1].get_array()
    assert np.allclose(shown, weights[3 * 16 + 4].reshape(16, 16).numpy() * 256, atol=1e-4)
    assert all(ax.get_xlabel() == "map column" for ax in image_axes)
    plt.close(fig)


def test_plot_attention_rows_rejects_bad_input():
    glyph, weights = attention_of_glyph()
    with pytest.raises(ValueError, match="outside the 16x16 map"):
        plots.plot_attention_rows(glyph, {"w": weights}, [(16, 0)])
    with pytest.raises(ValueError, match="N a square number"):
        plots.plot_attention_rows(glyph, {"w": torch.ones(10, 10)}, [(0, 0)])
    with pytest.raises(ValueError, match="at least one"):
        plots.plot_attention_rows(glyph, {}, [(0, 0)])


# ---------------------------------------------------------------- the cost table and curves
def test_attention_cost_counts_the_real_matrix():
    table = attention_cost(sides=(2, 4, 8), channels=16, largest_timed=4, repeats=1)
    assert table.column("side") == [2, 4, 8]
    assert table.column("N") == [4, 16, 64]
    for side, entries in zip(table.column("side"), table.column("matrix entries")):
        weights = SelfAttention(16).attention_map(torch.randn(1, 16, side, side))
        assert weights.numel() == entries  # the matrix the block really builds
    times = table.column("forward ms")
    assert all(isinstance(t, float) and t > 0 for t in times[:2]) and times[2] is None
    assert table.column("matrix memory") == [format_bytes(attention_matrix_bytes(s)) for s in (2, 4, 8)]


def test_attention_matrix_memory_and_its_format():
    assert attention_matrix_bytes(64) == 64 * 2**20  # 4096**2 float32 = 64 MiB
    assert attention_matrix_bytes(256, batch=2) == 2 * 16 * 2**30
    assert format_bytes(attention_matrix_bytes(8)) == "16.0 KiB"
    assert format_bytes(attention_matrix_bytes(128)) == "1.0 GiB"


@pytest.mark.parametrize(
    "kwargs,argument",
    [(dict(sides=()), "sides"), (dict(sides=(4, 0)), "sides"), (dict(batch=0), "batch=0"),
     (dict(repeats=0), "repeats=0"), (dict(channels=4), "channels=4")],
)
def test_attention_cost_rejects_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        attention_cost(**{"repeats": 1, **kwargs})


def test_plot_attention_cost_draws_memory_for_all_and_time_for_the_timed():
    table = attention_cost(sides=(2, 4, 8, 16), channels=16, largest_timed=8, repeats=1)
    fig = plots.plot_attention_cost(table, image_size=32, num_downs=5)
    memory_axes, time_axes = fig.axes
    assert list(memory_axes.lines[0].get_xdata()) == [2, 4, 8, 16]
    assert list(memory_axes.lines[0].get_ydata()) == [attention_matrix_bytes(s) / 2**20 for s in (2, 4, 8, 16)]
    assert list(time_axes.lines[0].get_xdata()) == [2, 4, 8]
    assert memory_axes.get_ylabel() == "memory" and time_axes.get_ylabel() == "milliseconds"
    # levels 1..4 of a 32x32 image have maps 16, 8, 4, 2: all marked
    assert sorted(t.get_text() for t in memory_axes.texts) == [" L1", " L2", " L3", " L4"]
    # the N^2 reference: through the largest timed point, x16 per doubling of the side
    measured, reference = time_axes.lines[0], time_axes.lines[1]
    assert "N²" in reference.get_label()
    assert reference.get_ydata()[-1] == pytest.approx(measured.get_ydata()[-1])
    assert reference.get_ydata()[-1] / reference.get_ydata()[-2] == pytest.approx(16)
    plt.close(fig)


@pytest.mark.parametrize("side", [1, 4, 16, 64])
def test_attention_multiply_adds_are_the_convolutions_plus_the_two_products(side):
    channels, pixels = 64, side * side
    convolutions = pixels * channels * (2 * channels // 8 + channels)   # query, key, value
    products = pixels * pixels * (channels // 8 + channels)              # energy, weighted sum
    assert cost.attention_multiply_adds(channels, side) == convolutions + products
    assert cost.attention_multiply_adds(channels, side, batch=3) == 3 * (convolutions + products)


def test_attention_cost_counts_operations_and_times_on_one_thread():
    threads = torch.get_num_threads()
    table = attention_cost(sides=(2, 4, 8), channels=16, largest_timed=4, repeats=1)
    assert table.column("multiply-adds") == [cost.attention_multiply_adds(16, s) for s in (2, 4, 8)]
    assert "processor time on one thread" in table.footer
    assert torch.get_num_threads() == threads  # restored


def test_best_times_reads_the_clock_it_is_given():
    ticks = iter(range(0, 10_000, 5))
    times = cost.best_times([lambda: None], repeats=2, min_sample_seconds=0, clock=lambda: next(ticks))
    assert times == [5.0]


# ---------------------------------------------------------------- multiply-adds: torchinfo against PyTorch
def test_convolution_multiply_adds_agree_for_convolutions_and_differ_fourfold_for_transposed_ones():
    table = cost.convolution_multiply_adds(dict(num_downs=5, ngf=8), image_size=64)
    assert len(table.rows) == 10 and table.column("level") == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    for record in table.records():
        in_side = int(record["input map"].split("x")[0])
        out_side = int(record["output map"].split("x")[0])
        if record["part"] == "down":
            assert record["torchinfo"] == record["flop counter"]
            assert out_side == in_side // 2
        else:  # torchinfo: output pixels x 16 taps; PyTorch: input pixels x 16 taps
            assert out_side == 2 * in_side
            bias = out_side * out_side if record["level"] == 1 else 0  # level 1's up-conv has one
            assert record["torchinfo"] == 4 * record["flop counter"] + bias


def test_the_classic_generator_takes_5_95_billion_multiply_adds_per_image():
    assert cost.multiply_adds({}, image_size=256) == 5_948_571_648
    table = cost.convolution_multiply_adds({}, image_size=256)
    assert "torchinfo 17,842,649,728, flop counter 5,948,571,648" in table.footer
    level_5 = {r["part"]: r for r in table.records() if r["level"] == 5}
    assert level_5["down"]["flop counter"] == 8 * 8 * 16 * 512 * 512
    assert level_5["up"]["flop counter"] == 8 * 8 * 16 * 1024 * 512


def test_multiply_adds_refuse_an_image_the_generator_cannot_take():
    with pytest.raises(ValueError, match="384"):
        cost.multiply_adds({}, image_size=384)


# ---------------------------------------------------------------- a font for Chinese titles
def test_cjk_font_finds_an_installed_font_that_has_the_characters():
    from zi2zi_lessons.plots import _font_covers

    font = plots.cjk_font("林木")
    if font is None:
        pytest.skip("no CJK font installed here (CI installs them)")
    assert _font_covers(font.get_file(), "林木")


def test_cjk_font_says_none_on_a_machine_with_only_matplotlibs_own_fonts(monkeypatch):
    from matplotlib import font_manager

    bundled = [entry for entry in font_manager.fontManager.ttflist if entry.name.startswith("DejaVu")]
    assert bundled
    monkeypatch.setattr(font_manager.fontManager, "ttflist", bundled)
    assert plots.cjk_font("林") is None
    assert plots.cjk_font("lin") is not None  # Latin letters: DejaVu has them


def test_cjk_font_rejects_nothing_to_look_for():
    with pytest.raises(ValueError, match="characters=''"):
        plots.cjk_font("")


# ---------------------------------------------------------------- the block widget's logic
@pytest.mark.parametrize("child_skip,up_in", [("concat", 1024), ("add", 512), ("none", 512)])
def test_level_block_sizes_its_up_conv_from_its_child(child_skip, up_in):
    block = explorer.level_block(7, skip="add", child_skip=child_skip)
    assert block.level == 7 and block.skip == "add" and block.submodule.skip == child_skip
    assert block.up_in_channels == up_in == block.submodule.out_channels
    assert all(p.device.type == "meta" for p in block.parameters())


def test_level_block_matches_the_generator_level():
    real = UNetGenerator(ngf=16, num_downs=6, upsample="pixelshuffle", attention_levels=(3,))
    reference = list(real.blocks())[2].describe(128)
    built = explorer.level_block(3, child_skip="concat", upsample="pixelshuffle", attention=True, ngf=16, num_downs=6)
    assert built.describe(128) == reference


def test_block_row_and_summary_of_the_innermost_block():
    block = explorer.level_block(8, skip="concat", attention=True)
    record = explorer.block_row(block).records()[0]
    assert record["input map"] == "2x2" and record["encoded map"] == "1x1"
    assert record["up-conv takes"] == "512 map + 128 style"
    assert record["hands back"] == 1024
    assert record["parameters"] == block.describe().parameters
    stats = explorer.block_summary(block)
    assert stats.total_params == sum(p.numel() for p in block.parameters())
    assert stats.summary_list[0].output_size == [1, 1024, 2, 2]


def test_block_summary_of_a_middle_block_counts_its_child_too():
    block = explorer.level_block(6, child_skip="none", upsample="pixelshuffle")
    stats = explorer.block_summary(block, image_size=512)
    assert stats.summary_list[0].input_size == [1, 512, 16, 16]
    assert stats.total_params == sum(p.numel() for p in block.parameters()) > block.describe().parameters


def test_block_summary_rejects_an_image_the_chain_cannot_halve():
    block = explorer.level_block(6)
    with pytest.raises(ValueError, match="image_size=128 is not accepted.*multiple of 256"):
        explorer.block_summary(block, image_size=128)


def test_block_view_shows_errors_instead_of_raising():
    view = explorer.block_view(level=1, skip="concat")
    assert "Cannot build this block" in view and "outermost" in view
    view = explorer.block_view(level=1, skip="none", attention=True, ngf=4)
    assert "Cannot build this block" in view and "at least 8" in view
    view = explorer.block_view(level=1, skip="none", attention=True)
    assert "<table>" in view and "Total params" in view


def test_block_widget_updates_on_every_control_and_shows_errors():
    widget = explorer.block_widget(level=7)
    controls = {c.description: c for box in widget.children[:2] for c in box.children}
    view = widget.children[2]
    assert "1024 from child (concat)" in view.value
    controls["child skip"].value = "add"
    assert "512 from child (add)" in view.value
    controls["upsample"].value = "pixelshuffle"
    assert "512 -&gt; 2048" in view.value  # Conv2d to 4 x 512 before PixelShuffle
    controls["attention"].value = True
    assert "SelfAttention (attention)" in view.value
    controls["level"].value = 1  # level 1 with skip "concat": invalid, shown in the widget
    assert "Cannot build this block" in view.value
    controls["skip"].value = "none"
    assert "Level 1 at 256x256" in view.value


def test_block_widget_css_hooks_for_browser_tests():
    widget = explorer.block_widget(level=7)
    view = widget.children[2]
    assert "block-widget" in widget._dom_classes and "block-view" in view._dom_classes
    assert view.value.startswith(explorer.BLOCK_VIEW_STYLE) and ".block-view table td" in explorer.BLOCK_VIEW_STYLE
    widget.children[0].children[0].value = 1  # level 1 with skip "concat": the error keeps the style
    assert view.value.startswith(explorer.BLOCK_VIEW_STYLE) and "Cannot build this block" in view.value


@pytest.mark.parametrize("argument, value", [("level", 9), ("level", 0), ("level", True), ("skip", "cat"),
                                             ("child_skip", None), ("upsample", "bilinear")])
def test_block_widget_refuses_a_bad_argument_by_name(argument, value):
    with pytest.raises(ValueError, match=rf"^{argument}={re.escape(repr(value))} is not accepted by the block widget"):
        explorer.block_widget(**{argument: value})
