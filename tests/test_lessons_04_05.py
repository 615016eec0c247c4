"""The package pieces of lessons 04-05: skip routes, attention cost, the diffusion-style
block, where attention sits, attention switched off in a trained generator, the per-level
change figure. (Claims tables: test_claims.py; checkers: test_checks_lessons_04_05.py.)"""


import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from zi2zi_lessons import MultiHeadSelfAttention, SelfAttention, UNetGenerator, anatomy, self_attention_parameter_count  # noqa: E402
from zi2zi_lessons.ablation import attention_ablation, l1_per_font  # noqa: E402
from zi2zi_lessons.glyphs import GlyphDataset, load_glyphs  # noqa: E402
from zi2zi_lessons.placement import DECODER_SIDE, ENCODER_SIDE, add_decoder_attention, attention_inputs  # noqa: E402
from zi2zi_lessons.plots import plot_level_changes  # noqa: E402
from zi2zi_lessons.training import tiny_generator_config  # noqa: E402
from zi2zi_lessons.cost import (
    attention_matrix_bytes,
    attention_matrix_entries,
    best_times,
    compare_with_matrix_version,
    comparison_table,
    format_bytes,
    level_attention_costs,
    matrix_attend,
    peak_memory_bytes,
    power_law_exponent,
)
from zi2zi_lessons.diffusion import DiffusionAttentionBlock, ResidualBlock, channel_constraints
from zi2zi_lessons.skips import skip_routes, up_conv_inputs

from repo_scripts import load_benchmark

SEED_000 = dict(num_downs=7, upsample="pixelshuffle", skip="add", attention_levels=(5, 7))


# ---------------------------------------------------------------- skips
def test_up_conv_inputs_shows_the_parents_widening():
    table = up_conv_inputs({"original": SEED_000, "first": dict(SEED_000, skip_under_attention="concat")})
    rows = {row[0]: row for row in table.rows}
    assert rows[4][2:] == ("add: 512 -> 1024", "add: 1024 -> 1024")
    assert rows[5][2:] == ("att add: 512 -> 2048", "att concat: 512 -> 2048")
    assert rows[6][2:] == ("add: 512 -> 2048", "add: 1024 -> 2048")
    assert rows[7][2:] == ("att add: 640 -> 2048", "att concat: 640 -> 2048")
    assert "original 52,872,326, first 67,028,102" in table.footer


def test_up_conv_inputs_rejects_mixed_depths():
    with pytest.raises(ValueError, match="one depth"):
        up_conv_inputs({"a": {}, "b": dict(num_downs=7)})


def small_model(spec):
    torch.manual_seed(0)
    model = UNetGenerator(**dict(spec, ngf=8))
    with torch.no_grad():
        for block in model.blocks():
            if block.attention is not None:
                block.attention.gamma.fill_(0.5)
    return model


@pytest.fixture(scope="module")
def inputs():
    torch.manual_seed(1)
    return torch.rand(2, 1, 128, 128) * 2 - 1, torch.tensor([3, 7])


def test_skip_routes_zero_exactly_where_there_is_no_skip(inputs):
    images, labels = inputs
    routes = skip_routes(small_model(dict(SEED_000, skip_under_attention="none")), images, labels)
    zero = dict(zip(routes.column("level"), routes.column("skip gradient exactly 0")))
    assert zero == {1: True, 2: False, 3: False, 4: False, 5: True, 6: False, 7: True}
    assert all(routes.column("x is that map (measured)"))
    carries = dict(zip(routes.column("level"), routes.column("the skip carries")))
    assert carries[6] == "level 5's encoded map, attended (64 ch, 4x4)"
    assert carries[5].startswith("nothing (x = level 4's encoded map")
    for level, skip_norm in zip(routes.column("level"), routes.column("|grad via skip|")):
        assert (float(skip_norm) == 0.0) == zero[level]


def test_skip_routes_splits_the_gradient_like_a_hand_made_split(inputs):
    """The skip's share at level 2 equals the gradient of the output with respect to x
    when only the join sees x (the down path gets a detached copy)."""
    images, labels = inputs
    model = small_model(dict(skip="add", num_downs=7, upsample="pixelshuffle"))
    routes = skip_routes(model, images, labels)
    skip_norm = float(dict(zip(routes.column("level"), routes.column("|grad via skip|")))[2])

    level_1, level_2 = list(model.blocks())[:2]
    x2 = level_1.down(images).detach().requires_grad_(True)  # level 2's input
    style = model.embedder(labels)
    child_out, _ = level_2.submodule(level_2.down(x2.detach()), style)
    joined = level_2._join(x2, level_2.up(child_out))
    output = level_1.up(joined)
    (by_hand,) = torch.autograd.grad(output.sum(), x2)
    assert skip_norm == pytest.approx(float(by_hand.norm()), rel=1e-3)


@pytest.mark.parametrize("training", [True, False])
def test_skip_routes_leaves_the_model_as_it_was(inputs, training):
    images, labels = inputs
    model = small_model(SEED_000).train(training)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    skip_routes(model, images, labels)
    assert model.training == training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert not any(block.down._forward_pre_hooks for block in model.blocks())


# ---------------------------------------------------------------- cost
def test_matrix_sizes():
    assert attention_matrix_entries(128) == 16384**2
    assert attention_matrix_bytes(128) == 2**30
    assert attention_matrix_bytes(2, 3, batch=4, bytes_per_entry=2) == 4 * 36 * 2
    assert [format_bytes(n) for n in (4, 1024, 3 * 2**20 // 2, 2**30)] == ["4 B", "1.0 KiB", "1.5 MiB", "1.0 GiB"]


def test_level_attention_costs_of_the_default_generator():
    table = level_attention_costs()
    assert table.column("encoded map") == ["128x128", "64x64", "32x32", "16x16", "8x8", "4x4", "2x2", "1x1"]
    assert table.column("matrix memory")[:2] == ["1.0 GiB", "64.0 MiB"]
    assert table.column("attention parameters")[3] == sum(p.numel() for p in SelfAttention(512).parameters())


def test_matrix_attend_equals_the_block():
    torch.manual_seed(2)
    block = SelfAttention(16, scaled=True)
    x = torch.randn(2, 16, 5, 7)
    assert torch.allclose(matrix_attend(block, x), block.attend(x), atol=1e-6)


def test_peak_memory_sees_tensors_alive_at_the_same_time():
    def two_then_one():
        a = torch.ones(2**20)  # 4 MiB
        b = torch.ones(2**20)  # 4 MiB, both alive: 8 MiB
        del a, b
        c = torch.ones(2**19)  # 2 MiB
        return c

    peak = peak_memory_bytes(two_then_one)
    assert 8 * 2**20 <= peak < 9 * 2**20


def test_stored_matrix_costs_what_its_size_says():
    """The matrix version's forward peak is at least the (B, N, N) weights (64 MiB on a
    64x64 map); the fused path's is a small fraction of them."""
    torch.manual_seed(3)
    block = SelfAttention(8)
    x = torch.randn(1, 8, 64, 64)
    with torch.no_grad():
        matrix_peak = peak_memory_bytes(lambda: matrix_attend(block, x))
        package_peak = peak_memory_bytes(lambda: block.attend(x))
    assert matrix_peak >= attention_matrix_bytes(64)
    assert package_peak < attention_matrix_bytes(64) / 16


def test_best_times_and_power_law():
    calls = []
    times = best_times([lambda: calls.append("a"), lambda: calls.append("b")], repeats=2, min_sample_seconds=0)
    assert calls == ["a", "b", "a", "b", "a", "b"]  # one warm-up each, then in turns
    assert len(times) == 2 and all(t >= 0 for t in times)
    quick = []
    best_times([lambda: quick.append(1)], repeats=2, min_sample_seconds=1e-3)
    assert len(quick) > 3  # a quick call is repeated within a sample
    assert power_law_exponent([1, 2, 4, 8], [3, 12, 48, 192]) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="repeats=0"):
        best_times([lambda: None], repeats=0)
    with pytest.raises(ValueError, match="two"):
        power_law_exponent([1], [1])


def test_compare_with_matrix_version_reports_both_passes():
    result = compare_with_matrix_version(8, 4, batch=2, repeats=1)
    assert result["max_difference"] < 1e-5
    for name in ("forward", "forward_backward"):
        measured = result[name]
        assert measured["time_ratio"] == pytest.approx(measured["matrix_time"] / measured["package_time"])
        assert measured["package_peak"] > 0 and measured["matrix_peak"] > 0
    table = comparison_table([result])
    assert table.column("pass") == ["forward", "fwd+bwd"]


def test_benchmark_script_runs_a_tiny_grid(tmp_path, capsys):
    benchmark = load_benchmark("attention_cost")
    output = tmp_path / "table.txt"
    assert benchmark.main(["--sides", "4", "--channels", "8", "--batch", "1", "--repeats", "1", "--output", str(output)]) == 0
    text = output.read_text()
    assert "4x4" in text and "fwd+bwd" in text
    with pytest.raises(SystemExit):
        benchmark.main(["--channels", "4"])
    assert "--channels 4 is not accepted" in capsys.readouterr().err


# ---------------------------------------------------------------- diffusion-style block
def test_residual_block_parameters_and_shapes():
    c = 64
    block = ResidualBlock(c)
    assert sum(p.numel() for p in block.parameters()) == 2 * (2 * c) + 2 * (9 * c * c + c)
    assert block(torch.randn(2, c, 5, 5)).shape == (2, c, 5, 5)
    widening = ResidualBlock(32, 64)
    assert widening(torch.randn(1, 32, 3, 3)).shape == (1, 64, 3, 3)
    assert sum(p.numel() for p in widening.shortcut.parameters()) == 32 * 64 + 64


def test_residual_block_is_x_plus_its_branch():
    torch.manual_seed(4)
    block = ResidualBlock(32)
    with torch.no_grad():
        block.residual[-1].weight.zero_()
        block.residual[-1].bias.zero_()
    x = torch.randn(1, 32, 4, 4)
    assert torch.equal(block(x), x)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(in_channels=48), "in_channels=48 is not accepted with num_groups=32"),
        (dict(in_channels=64, out_channels=80), "out_channels=80"),
        (dict(in_channels=0), "in_channels=0"),
    ],
)
def test_residual_block_rejects_widths(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ResidualBlock(**kwargs)


def test_diffusion_block_is_residual_then_attention():
    block = DiffusionAttentionBlock(64, num_heads=4)
    assert isinstance(block[0], ResidualBlock) and isinstance(block[1], MultiHeadSelfAttention)
    assert block[1].num_heads == 4
    assert block(torch.randn(1, 64, 4, 4)).shape == (1, 64, 4, 4)


def test_channel_constraints():
    table = channel_constraints(dict(ngf=16))
    fits = dict(zip(table.column("level"), table.column("diffusion block fits")))
    assert fits == {1: False, 2: True, 3: True, 4: True, 5: True, 6: True, 7: True, 8: True}
    assert table.column("why not")[0] == "16 % 32 groups = 16"
    assert all(channel_constraints().column("diffusion block fits"))
    heads = channel_constraints(dict(ngf=8), num_heads=16, num_groups=8)
    assert dict(zip(heads.column("level"), heads.column("diffusion block fits")))[1] is False
    assert "8 % 16 heads = 8" in heads.column("why not")[0]


# ---------------------------------------------------------------- where attention sits
def test_skip_routes_measure_which_maps_passed_attention(inputs):
    images, labels = inputs
    for spec in (SEED_000, dict(SEED_000, skip_under_attention="none")):
        routes = skip_routes(small_model(spec), images, labels)
        passed = dict(zip(routes.column("level"), routes.column("the map passed attention")))
        # level 6's input is level 5's attended map, level 7's is computed from it
        assert passed == {1: False, 2: False, 3: False, 4: False, 5: False, 6: True, 7: True}
    routes = skip_routes(small_model(dict(SEED_000, attention_levels=())), images, labels)
    assert not any(routes.column("the map passed attention"))


def test_decoder_attention_sees_the_map_each_level_receives():
    model = anatomy.build_meta({})
    before = anatomy.count_parameters(model)
    add_decoder_attention(model, range(2, 9))
    widths = (64, 128, 256, 512, 512, 512, 512)
    assert anatomy.count_parameters(model) - before == sum(self_attention_parameter_count(c) for c in widths) == 1_421_367
    table = attention_inputs(model, image_size=256)
    assert table.column("level") == [2, 3, 4, 5, 6, 7, 8]
    assert set(table.column("side")) == {DECODER_SIDE}
    assert table.column("channels") == list(widths)
    assert table.column("map") == ["128x128", "64x64", "32x32", "16x16", "8x8", "4x4", "2x2"]
    assert table.column("N x N weights")[0] == "1.0 GiB"
    assert table.column("calls") == [1] * 7


def test_encoder_attention_sees_the_encoded_map():
    table = attention_inputs(anatomy.build_meta(dict(attention_levels=(1, 5, 6))), batch=16)
    assert table.column("side") == [ENCODER_SIDE] * 3
    costs = dict(zip(level_attention_costs().column("level"), level_attention_costs().column("encoded map")))
    assert table.column("map") == [costs[1], costs[5], costs[6]] == ["128x128", "8x8", "4x4"]
    assert table.column("N x N weights")[0] == "16.0 GiB"


def test_decoder_attention_comes_before_the_join_and_leaves_the_model_as_it_was():
    torch.manual_seed(5)
    model = UNetGenerator(num_downs=5, ngf=8, embedding_num=2, skip="concat")
    add_decoder_attention(model, [3])
    block = list(model.blocks())[2]
    assert isinstance(block.up[-1], SelfAttention) and block.up[-1].channels == block.outer_channels == 16
    assert block.out_channels == 32  # the join concatenates after the attention
    with torch.no_grad():
        block.up[-1].gamma.fill_(0.3)
    model.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    table = attention_inputs(model, image_size=64, batch=2)
    assert table.rows == ((3, DECODER_SIDE, 16, "16x16", 256, format_bytes(2 * 256 * 256 * 4), 1),)
    assert model.training and all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    images, labels = torch.rand(2, 1, 64, 64), torch.tensor([0, 1])
    assert model(images, labels).shape == (2, 1, 64, 64)


@pytest.mark.parametrize("levels,message", [((1,), "level 1"), ((9,), "level 9"), ((2.0,), "level 2.0")])
def test_decoder_attention_refuses_levels(levels, message):
    with pytest.raises(ValueError, match=message):
        add_decoder_attention(anatomy.build_meta({}), levels)


def test_decoder_attention_refuses_a_second_block_and_other_models():
    model = add_decoder_attention(anatomy.build_meta({}), [4])
    with pytest.raises(ValueError, match="already ends in attention"):
        add_decoder_attention(model, [4])
    with pytest.raises(TypeError, match="UNetGenerator"):
        add_decoder_attention(torch.nn.Linear(2, 2), [2])


# ---------------------------------------------------------------- attention switched off
@pytest.fixture(scope="module")
def few_glyphs():
    data = load_glyphs()
    keep = 40  # 4 held-out characters: 9, 19, 29, 39
    return GlyphDataset(data.characters[:keep], data.source[:keep], data.targets[:, :keep], data.held_out[:keep],
                        data.source_font, data.target_fonts, data.settings)


def test_attention_ablation_measures_each_block_and_restores_it(few_glyphs):
    torch.manual_seed(7)
    model = UNetGenerator.from_config(tiny_generator_config("attention", ngf=8, embedding_dim=8))
    blocks = [block for block in model.blocks() if block.attention is not None]
    with torch.no_grad():
        blocks[0].attention.gamma.fill_(0.8)  # the other stays 0: switching it off changes nothing
    model.train()
    result = attention_ablation(model, few_glyphs)
    assert result.levels == (3, 4) and result.maps == ("8x8", "4x4")
    assert result.gammas == (pytest.approx(0.8), 0.0)
    assert result.characters == 4 and result.intact_l1 == l1_per_font(model, few_glyphs)
    assert result.rise(4) == (0.0, 0.0, 0.0)
    assert result.rise(3) != (0.0, 0.0, 0.0)
    with torch.no_grad():
        blocks[0].attention.gamma.zero_()
        expected = l1_per_font(model, few_glyphs)
        blocks[0].attention.gamma.fill_(0.8)
    assert result.off_l1[0] == expected
    assert blocks[0].attention.gamma.item() == pytest.approx(0.8) and model.training
    table = result.table()
    assert table.title.endswith("4 held-out characters")
    assert attention_ablation(model, few_glyphs, described="glyphs nobody drew").table().title.endswith("4 glyphs nobody drew")
    assert table.column("attention") == ["all on", "level 3 off", "level 4 off"]
    assert table.column("rise")[2] == "+0.0000"
    # gammas to 4 decimals: +0.1262 and -0.1257 must not both read as 0.126
    assert table.column("gamma") == ["", "+0.8000", "+0.0000"]
    with pytest.raises(ValueError, match="level=5"):
        result.rise(5)


def test_attention_ablation_refuses_models_without_attention_or_with_too_few_fonts(few_glyphs):
    with pytest.raises(ValueError, match="no attention block"):
        attention_ablation(UNetGenerator.from_config(tiny_generator_config("classic", ngf=8)), few_glyphs)
    with pytest.raises(ValueError, match="3 target fonts"):
        attention_ablation(UNetGenerator.from_config(tiny_generator_config("attention", num_fonts=2, ngf=8)), few_glyphs)


# ---------------------------------------------------------------- the per-level change figure
def test_plot_level_changes_draws_each_pairs_change():
    first = dict(SEED_000, skip_under_attention="concat")
    figure = plot_level_changes({"first attempt": (SEED_000, first), "none under attention": (SEED_000, dict(SEED_000, skip_under_attention="none"))})
    bars = [patch.get_height() for patch in figure.axes[0].patches]
    assert bars[:7] == pytest.approx([0, 0, 0, 4.718592, 0, 9.437184, 0])
    assert bars[7:] == [0] * 7
    assert [text.get_text() for text in figure.axes[0].texts] == ["+4.7M", "+9.4M"]
    assert [text.get_text() for text in figure.axes[0].get_legend().get_texts()] == ["first attempt", "none under attention: no change at any level"]
    plt.close(figure)
    with pytest.raises(ValueError, match="one depth"):
        plot_level_changes({"a": ({}, {}), "b": (SEED_000, SEED_000)})


def test_head_costs_counts_flops_and_softmax_entries_per_head_count():
    from zi2zi_lessons.cost import head_costs

    table = head_costs(channels=64, side=4, heads=(1, 2, 8), batch=2)
    assert table.column("heads") == [1, 2, 8]
    assert len(set(table.column("parameters"))) == 1  # the same convolutions, cut into more heads
    n = 4 * 4
    # matrix products: q k^T and weights @ v, each batch x N x N x C multiply-adds, 2 FLOPs each
    assert table.column("of which attention bmm") == [2 * 2 * (2 * n * n * 64)] * 3
    assert len(set(table.column("FLOPs"))) == 1
    assert table.column("softmax entries") == [2 * h * n * n for h in (1, 2, 8)]
    with pytest.raises(ValueError, match="heads=\\[0\\]"):
        head_costs(heads=(0,))
    with pytest.raises(ValueError, match="side=0"):
        head_costs(side=0)
    with pytest.raises(ValueError, match="num_heads=3"):
        head_costs(channels=64, heads=(3,))
