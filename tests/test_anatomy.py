"""Level tables, breakdowns, comparisons and summaries."""

import pytest
import torch

from zi2zi_lessons import GeneratorConfig, UNetGenerator
from zi2zi_lessons import anatomy

ADD_PIXELSHUFFLE_ATTENTION = dict(skip="add", upsample="pixelshuffle", attention_levels=(7, 8))


def test_level_table_of_the_default_generator():
    table = anatomy.level_table({})
    assert table.column("encoded map") == ["128x128", "64x64", "32x32", "16x16", "8x8", "4x4", "2x2", "1x1"]
    assert table.column("up-conv in -> out")[3] == "1024 -> 256"
    assert table.column("up-conv in -> out")[7] == "640 -> 512"
    assert sum(table.column("parameters")) + 40 * 128 == 55_461_505
    assert "55,461,505" in table.footer


def test_the_three_kinds_of_spec_agree():
    config = GeneratorConfig(**ADD_PIXELSHUFFLE_ATTENTION)
    model = anatomy.build_meta(config)
    assert anatomy.level_table(ADD_PIXELSHUFFLE_ATTENTION).rows == anatomy.level_table(config).rows == anatomy.level_table(model).rows
    with pytest.raises(TypeError, match="expected a UNetGenerator"):
        anatomy.as_config(42)


def test_meta_build_allocates_nothing():
    model = anatomy.build_meta({})
    assert all(p.device.type == "meta" for p in model.parameters())


def test_breakdown_adds_up():
    totals = anatomy.parameter_totals(ADD_PIXELSHUFFLE_ATTENTION)
    assert totals["attention"] == 2 * (2 * (512 * 64 + 64) + 512 * 512 + 512 + 1)
    assert totals["total"] == anatomy.count_parameters(anatomy.build_meta(ADD_PIXELSHUFFLE_ATTENTION))
    table = anatomy.parameter_breakdown(ADD_PIXELSHUFFLE_ATTENTION)
    per_level = table.rows[:-2]
    assert sum(row[4] for row in per_level) + totals["embedding"] == totals["total"]
    assert table.rows[-1][1:5] == (totals["encoder"], totals["attention"], totals["decoder"], totals["total"])


def test_compare_names_what_changed_and_counts_it():
    concat_under = dict(ADD_PIXELSHUFFLE_ATTENTION, skip_under_attention="concat")
    table = anatomy.compare(ADD_PIXELSHUFFLE_ATTENTION, concat_under)
    by_level = {row[0]: row for row in table.rows}
    # level 7 now concatenates, so its parent (level 6) and itself take 1024 channels
    assert "up in channels 512 -> 1024" in by_level[6][1]
    assert "skip add -> concat" in by_level[7][1]
    assert by_level[8][4] == 0  # the innermost up-conv takes the embedding, not a child
    assert by_level["total"][4] == 2 * 512 * 1024 * 9 * 2  # two 3x3 convs gain 512 input channels each, 4*512 outputs


def test_removing_skips_in_add_mode_changes_no_count():
    table = anatomy.compare(ADD_PIXELSHUFFLE_ATTENTION, dict(ADD_PIXELSHUFFLE_ATTENTION, skip_under_attention="none"))
    assert table.rows[-1][4] == 0
    assert "skip add -> none" in table.rows[6][1]


def test_compare_rejects_different_depths():
    with pytest.raises(ValueError, match="num_downs=8.*num_downs=7"):
        anatomy.compare({}, dict(num_downs=7), image_size=128)


def test_tables_render_as_text_and_html():
    table = anatomy.level_table(dict(num_downs=5, ngf=8, attention_levels=(5,)), image_size=32)
    text = str(table)
    assert text.splitlines()[0] == "Levels at 32x32"
    assert "yes" in text  # the attention column
    html = table._repr_html_()
    assert html.startswith("<table>") and "<th>up-conv in -&gt; out</th>" in html
    assert table.records()[4]["attention"] is True


def test_format_cell_shows_each_kind_of_value():
    assert anatomy.format_cell(55461505) == "55,461,505"
    assert anatomy.format_cell(-14155776) == "-14,155,776"
    assert anatomy.format_cell(26.84) == "26.8" and anatomy.format_cell(1234.56) == "1,234.6"
    assert anatomy.format_cell(True) == "yes" and anatomy.format_cell(False) == ""  # bool before int
    assert anatomy.format_cell(None) == "" and anatomy.format_cell("concat") == "concat"
    assert anatomy.format_cell(0) == "0"


def test_summary_of_a_config_is_fast_and_counts_everything():
    stats = anatomy.summary(ADD_PIXELSHUFFLE_ATTENTION, depth=2)
    assert stats.total_params == anatomy.parameter_totals(ADD_PIXELSHUFFLE_ATTENTION)["total"]


def test_summary_leaves_the_callers_model_as_it_was():
    torch.manual_seed(0)
    model = UNetGenerator(num_downs=5, ngf=8, use_dropout=False, attention_levels=(5,))
    model.train()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    rng_before = torch.random.get_rng_state()
    stats = anatomy.summary(model, image_size=32)
    assert stats.total_params == anatomy.count_parameters(model)
    assert model.training
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert all(torch.equal(before[name], value) for name, value in model.state_dict().items())
    assert torch.equal(rng_before, torch.random.get_rng_state())


def test_summary_rejects_an_image_size_the_model_cannot_take():
    with pytest.raises(ValueError, match="image height 100"):
        anatomy.summary({}, image_size=100)


def test_levels_of_a_spec():
    assert anatomy.levels(ADD_PIXELSHUFFLE_ATTENTION, image_size=256) == anatomy.build_meta(ADD_PIXELSHUFFLE_ATTENTION).levels(256)
    with pytest.raises(ValueError, match="image height 100"):
        anatomy.levels({}, image_size=100)


def test_largest_layers_are_the_deep_up_convolutions():
    table = anatomy.largest_layers({}, top=4)
    assert table.column("level") == [5, 6, 7, 8]
    assert table.column("layer")[0] == "ConvTranspose2d(1024 -> 512, k4x4)"
    assert table.column("parameters") == [1024 * 512 * 16] * 3 + [640 * 512 * 16]
    every = anatomy.largest_layers(ADD_PIXELSHUFFLE_ATTENTION, top=1000)
    assert sum(every.column("parameters")) == anatomy.parameter_totals(ADD_PIXELSHUFFLE_ATTENTION)["total"]
    assert {"down", "attention", "up", "embedding"} == set(every.column("part"))
    with pytest.raises(ValueError, match="top=0"):
        anatomy.largest_layers({}, top=0)


def backward_once(model, image_size):
    torch.manual_seed(0)
    images = torch.rand(2, 1, image_size, image_size) * 2 - 1
    model(images, torch.tensor([0, 1])).square().mean().backward()


@pytest.mark.parametrize("upsample,up_taps", [("transpose", "4 of 16"), ("pixelshuffle", "1 of 9")])
def test_a_1x1_bottleneck_leaves_kernel_taps_without_gradient(upsample, up_taps):
    torch.manual_seed(0)
    model = UNetGenerator(num_downs=5, ngf=8, upsample=upsample)
    with pytest.raises(ValueError, match="level 1 down Conv2d.*has no gradient"):
        anatomy.kernel_taps_without_gradient(model)
    backward_once(model, 32)  # 32 / 2**5 = 1: a 1x1 bottleneck
    table = anatomy.kernel_taps_without_gradient(model)
    assert [(row[0], row[1]) for row in table.rows] == [(5, "down"), (5, "up")]
    assert table.column("taps with gradient") == ["4 of 16", up_taps]
    down = model.model.submodule.submodule.submodule.submodule
    assert table.rows[0][4] == 12 * 64 * 64 and (down.down[1].weight.grad[:, :, 0, :] == 0).all()


def test_a_2x2_bottleneck_trains_every_tap():
    torch.manual_seed(0)
    model = UNetGenerator(num_downs=5, ngf=8)
    backward_once(model, 64)
    assert anatomy.kernel_taps_without_gradient(model).rows == ()
    assert len(anatomy.kernel_taps_without_gradient(model, only_dead=False).rows) == 10
