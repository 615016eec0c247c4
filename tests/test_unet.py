"""The UNet generator: channel bookkeeping, shapes, parameter counts, clear errors."""

import itertools

import pytest
import torch

from zi2zi_lessons import GeneratorConfig, UNetGenerator, UnetSkipConnectionBlock, supported_image_sizes


# ---------------------------------------------------------------- an independent count
def conv_params(k, c_in, c_out, bias):
    return k * k * c_in * c_out + (c_out if bias else 0)


def attention_params(c):
    return 2 * (c * c // 8 + c // 8) + c * c + c + 1


def arithmetic_count(
    input_nc=1, output_nc=1, num_downs=8, ngf=64, embedding_num=40, embedding_dim=128,
    norm="batch", upsample="transpose", skips=None, attention_levels=(),
):
    """Parameters of the zi2zi generator, counted by hand from the layer list.

    ``skips[level]`` is the join mode of each level 2..num_downs.
    """
    bias = norm == "instance"
    norm_params = (lambda c: 2 * c) if norm == "batch" else (lambda c: 0)  # InstanceNorm2d: affine=False
    width = {1: ngf, 2: 2 * ngf, 3: 4 * ngf}
    inner = {level: width.get(level, 8 * ngf) for level in range(1, num_downs + 1)}
    total = embedding_num * embedding_dim
    for level in range(1, num_downs + 1):
        outermost, innermost = level == 1, level == num_downs
        c_in = input_nc if outermost else inner[level - 1]
        c_out = output_nc if outermost else inner[level - 1]
        total += conv_params(4, c_in, inner[level], bias)
        if not (outermost or innermost):
            total += norm_params(inner[level])
        if level in attention_levels:
            total += attention_params(inner[level])
        if innermost:
            up_in = inner[level] + embedding_dim
        else:  # the child's input and outer width are both inner[level]
            up_in = 2 * inner[level] if skips[level + 1] == "concat" else inner[level]
        up_bias = True if outermost else bias
        if upsample == "transpose":
            total += conv_params(4, up_in, c_out, up_bias)
        else:
            total += conv_params(3, up_in, 4 * c_out, up_bias)
        if not outermost:
            total += norm_params(c_out)
    return total


def count(model):
    return sum(p.numel() for p in model.parameters())


def meta_generator(**kwargs):
    with torch.device("meta"):
        return UNetGenerator(**kwargs)


def uniform_skips(num_downs, skip, attention_levels=(), under=None):
    return {
        level: (under if (level in attention_levels and under) else skip)
        for level in range(2, num_downs + 1)
    }


# ---------------------------------------------------------------- parameter counts
def test_classic_zi2zi_parameter_count():
    model = meta_generator()
    assert count(model) == arithmetic_count(skips=uniform_skips(8, "concat"))
    assert count(model) == 55_461_505


def test_additive_pixelshuffle_parameter_count():
    attention = (7, 8)
    model = meta_generator(skip="add", upsample="pixelshuffle", attention_levels=attention)
    expected = arithmetic_count(upsample="pixelshuffle", skips=uniform_skips(8, "add"), attention_levels=attention)
    assert count(model) == expected


@pytest.mark.parametrize("num_downs", [5, 6, 7, 8])
@pytest.mark.parametrize("upsample", ["transpose", "pixelshuffle"])
@pytest.mark.parametrize("norm", ["batch", "instance"])
def test_mixed_configurations_match_arithmetic(num_downs, upsample, norm):
    for skip, under in [("concat", "none"), ("add", "concat"), ("none", "add"), ("add", None)]:
        attention = (2, num_downs - 1, num_downs)
        model = meta_generator(
            num_downs=num_downs, ngf=16, upsample=upsample, norm=norm, skip=skip,
            attention_levels=attention, skip_under_attention=under,
        )
        expected = arithmetic_count(
            num_downs=num_downs, ngf=16, norm=norm, upsample=upsample,
            skips=uniform_skips(num_downs, skip, attention, under), attention_levels=attention,
        )
        assert count(model) == expected, (skip, under)


def test_removing_a_skip_in_add_mode_changes_no_parameter():
    add = meta_generator(skip="add", upsample="pixelshuffle", attention_levels=(6, 7, 8))
    removed = meta_generator(skip="add", upsample="pixelshuffle", attention_levels=(6, 7, 8), skip_under_attention="none")
    assert count(add) == count(removed)


@pytest.mark.parametrize("upsample", ["transpose", "pixelshuffle"])
def test_per_level_skips_match_arithmetic_and_run(upsample):
    chosen = {2: "add", 4: "none", 5: "concat", 6: "none", 7: "add"}
    model = meta_generator(num_downs=7, ngf=16, upsample=upsample, skip="concat", level_skips=chosen,
                           attention_levels=(6, 7), skip_under_attention="concat")
    skips = {level: chosen.get(level, "concat") for level in range(2, 8)}
    assert [info.skip for info in model.levels(128)] == ["none"] + [skips[level] for level in range(2, 8)]
    assert count(model) == arithmetic_count(num_downs=7, ngf=16, upsample=upsample, skips=skips, attention_levels=(6, 7))
    torch.manual_seed(0)
    real = UNetGenerator(num_downs=7, ngf=8, upsample=upsample, level_skips=chosen)
    assert real(torch.zeros(2, 1, 128, 128), torch.tensor([0, 1])).shape == (2, 1, 128, 128)


def test_level_skips_win_over_skip_under_attention_and_skip():
    config = GeneratorConfig(skip="add", attention_levels=(7, 8), skip_under_attention="none", level_skips={8: "concat", 3: "none"})
    assert [config.level_skip(level) for level in range(1, 9)] == ["none", "add", "none", "add", "add", "add", "none", "concat"]
    assert config.level_skips == ((3, "none"), (8, "concat"))
    assert GeneratorConfig(level_skips=[(8, "none"), (3, "add")]).level_skips == ((3, "add"), (8, "none"))
    assert UNetGenerator.from_config(config).config == config


@pytest.mark.parametrize(
    "level_skips,pattern",
    [
        ({1: "none"}, r"level 1 is outside 2\.\.8.*level 1 has no skip"),
        ({9: "none"}, r"level 9 is outside 2\.\.8"),
        ({7: "cat"}, r"level_skips\[7\]='cat'.*'concat', 'add', 'none'"),
        ("none", r"level_skips='none'.*dict level -> skip mode"),
        ([(7, "none", 1)], r"dict level -> skip mode"),
        ([(7, "none"), (7, "add")], r"level 7 is given twice"),
    ],
)
def test_bad_level_skips_are_named(level_skips, pattern):
    with pytest.raises(ValueError, match=pattern):
        GeneratorConfig(level_skips=level_skips)


def test_level_parameters_add_up_to_the_total():
    model = meta_generator(skip="add", attention_levels=(5, 8), skip_under_attention="concat")
    levels = model.levels(256)
    assert sum(info.parameters for info in levels) + 40 * 128 == count(model)


# ---------------------------------------------------------------- blocks and channels
def leaf(channels=16, embedding_dim=4, skip="concat"):
    return UnetSkipConnectionBlock(channels, channels, submodule=None, embedding_dim=embedding_dim, skip=skip)


@pytest.mark.parametrize("skip,expected", [("concat", 32), ("add", 16), ("none", 16)])
def test_block_out_channels_per_join(skip, expected):
    block = leaf(skip=skip)
    assert block.out_channels == expected
    out, bottleneck = block(torch.randn(2, 16, 4, 4), torch.randn(2, 4))
    assert out.shape == (2, expected, 4, 4)
    assert bottleneck.shape == (2, 16, 2, 2)
    assert block.up_in_channels == 16 + 4  # innermost: encoded map + style embedding


@pytest.mark.parametrize("child_skip,up_in", [("concat", 32), ("add", 16), ("none", 16)])
@pytest.mark.parametrize("parent_skip", ["concat", "add", "none"])
@pytest.mark.parametrize("upsample", ["transpose", "pixelshuffle"])
def test_parent_up_conv_takes_what_the_child_hands_back(child_skip, up_in, parent_skip, upsample):
    child = leaf(skip=child_skip)
    parent = UnetSkipConnectionBlock(8, 16, submodule=child, skip=parent_skip, upsample=upsample)
    assert parent.up_in_channels == up_in
    assert parent.up_conv.in_channels == up_in
    assert parent.up_conv.out_channels == (8 if upsample == "transpose" else 32)
    out, _ = parent(torch.randn(2, 8, 8, 8), torch.randn(2, 4))
    assert out.shape == (2, parent.out_channels, 8, 8)


def test_outermost_block_returns_the_image():
    block = UnetSkipConnectionBlock(1, 16, input_channels=3, submodule=leaf(), outermost=True)
    out, _ = block(torch.randn(2, 3, 8, 8), torch.randn(2, 4))
    assert out.shape == (2, 1, 8, 8)
    assert block.skip == "none" and block.out_channels == 1
    assert float(out.detach().abs().max()) <= 1.0  # Tanh


def test_bias_rule():
    for norm in ("batch", "instance"):
        model = UNetGenerator(num_downs=5, ngf=8, norm=norm)
        blocks = list(model.blocks())
        for block in blocks:
            down_conv = block.down[0] if block.outermost else block.down[1]
            assert (down_conv.bias is not None) == (norm == "instance")
            assert (block.up_conv.bias is not None) == (block.outermost or norm == "instance")


def test_layer_order_of_a_middle_block():
    block = list(UNetGenerator(num_downs=6, ngf=8, use_dropout=True, attention_levels=(5,)).blocks())[4]
    assert [type(m).__name__ for m in block.down] == ["LeakyReLU", "Conv2d", "BatchNorm2d"]
    assert [type(m).__name__ for m in block.up] == ["ReLU", "ConvTranspose2d", "BatchNorm2d", "Dropout"]
    assert type(block.attention).__name__ == "SelfAttention"


def test_dropout_only_on_middle_eight_ngf_levels():
    model = UNetGenerator(num_downs=7, ngf=8, use_dropout=True)
    assert [info.dropout for info in model.levels(128)] == [False, False, False, False, True, True, False]


# ---------------------------------------------------------------- whole generator shapes
SKIP_MIXES = [("concat", None), ("add", None), ("none", None), ("concat", "none"), ("add", "concat"), ("none", "add")]


@pytest.mark.parametrize("num_downs", [5, 6, 7, 8])
@pytest.mark.parametrize("upsample", ["transpose", "pixelshuffle"])
def test_generator_output_shape(num_downs, upsample):
    torch.manual_seed(0)
    size = 2 ** num_downs
    attention_choices = [(), (num_downs,), (2, num_downs - 1), tuple(range(3, num_downs + 1))]
    for (skip, under), attention in itertools.product(SKIP_MIXES, attention_choices):
        model = UNetGenerator(
            input_nc=1, output_nc=1, num_downs=num_downs, ngf=8, embedding_num=3, embedding_dim=8,
            upsample=upsample, skip=skip, attention_levels=attention, skip_under_attention=under,
        ).eval()
        images = torch.randn(2, 1, size, size)
        out, bottleneck = model.forward_with_encoding(images, torch.tensor([0, 2]))
        assert out.shape == images.shape
        assert bottleneck.shape == (2, 64, 1, 1)
        assert model.encode(images).shape == (2, 64, 1, 1)


def test_attention_on_the_outermost_level_and_larger_images():
    model = UNetGenerator(num_downs=5, ngf=8, attention_levels=(1, 2, 3, 4, 5), input_nc=3, output_nc=2).eval()
    out = model(torch.randn(1, 3, 64, 96), torch.tensor([5]))
    assert out.shape == (1, 2, 64, 96)


def test_level_description_of_the_default_generator():
    levels = meta_generator().levels(256)
    assert [info.encoded_size for info in levels] == [128, 64, 32, 16, 8, 4, 2, 1]
    assert [info.inner_channels for info in levels] == [64, 128, 256, 512, 512, 512, 512, 512]
    assert [info.up_in_channels for info in levels] == [128, 256, 512, 1024, 1024, 1024, 1024, 640]
    assert [info.skip for info in levels] == ["none"] + ["concat"] * 7


def test_level_description_under_attention():
    model = meta_generator(skip="add", upsample="pixelshuffle", attention_levels=(7, 8), skip_under_attention="none")
    levels = model.levels(256)
    assert [info.attention for info in levels] == [False] * 6 + [True, True]
    assert [info.skip for info in levels] == ["none"] + ["add"] * 5 + ["none", "none"]
    assert levels[7].up_in_channels == 640 and levels[7].up_conv_out_channels == 2048
    assert levels[3].up_in_channels == 512 and levels[3].up_conv_out_channels == 1024


def test_config_round_trip():
    config = GeneratorConfig(skip="add", attention_levels=[8, 7, 7])
    assert config.attention_levels == (7, 8)
    assert UNetGenerator.from_config(config).config == config


def test_supported_image_sizes():
    assert supported_image_sizes(8, 1024) == [256, 512, 768, 1024]
    assert supported_image_sizes(5, 100) == [32, 64, 96]


# ---------------------------------------------------------------- clear errors
@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        (dict(num_downs=4), r"num_downs=4.*>= 5"),
        (dict(num_downs=5.0), r"num_downs=5\.0"),
        (dict(ngf=0), r"ngf=0.*positive"),
        (dict(ngf=-64), r"ngf=-64"),
        (dict(input_nc=0), r"input_nc=0"),
        (dict(embedding_dim=0), r"embedding_dim=0"),
        (dict(embedding_num=-1), r"embedding_num=-1"),
        (dict(skip="residual"), r"skip='residual'.*'concat', 'add', 'none'"),
        (dict(skip_under_attention="cat"), r"skip_under_attention='cat'.*None, 'concat', 'add', 'none'"),
        (dict(upsample="bilinear"), r"upsample='bilinear'.*'transpose', 'pixelshuffle'"),
        (dict(norm="layer"), r"norm='layer'.*'batch', 'instance'"),
        (dict(attention_levels=(9,)), r"attention_levels=\(9,\).*outside 1\.\.8"),
        (dict(attention_levels=(0,)), r"attention_levels=\(0,\).*outside 1\.\.8"),
        (dict(attention_levels=8), r"attention_levels=8.*tuple"),
        (dict(ngf=4, attention_levels=(1,)), r"attention_levels=\(1,\).*ngf=4.*at least 8"),
        (dict(use_dropout="yes"), r"use_dropout='yes'"),
    ],
)
def test_bad_arguments_raise_before_building(kwargs, pattern, monkeypatch):
    def refuse(*args, **kw):
        raise AssertionError("a convolution was built before the arguments were checked")

    monkeypatch.setattr(torch.nn.Conv2d, "__init__", refuse)
    with pytest.raises(ValueError, match=pattern):
        UNetGenerator(**kwargs)


@pytest.fixture
def small_model(monkeypatch):
    model = UNetGenerator(num_downs=5, ngf=8, embedding_num=4).eval()

    def refuse(*args, **kwargs):
        raise AssertionError("a convolution ran before the input was checked")

    monkeypatch.setattr(torch.nn.Conv2d, "forward", refuse)
    return model


@pytest.mark.parametrize(
    "images,labels,pattern",
    [
        (torch.randn(2, 1, 48, 48), torch.tensor([0, 1]), r"height 48.*num_downs=5.*multiples of 2\*\*5 = 32.*32, 64, 96.*48 halves cleanly 4 times: resize to 32 or 64"),
        (torch.randn(2, 1, 32, 40), torch.tensor([0, 1]), r"width 40"),
        (torch.randn(2, 1, 16, 16), torch.tensor([0, 1]), r"height 16"),
        (torch.randn(2, 3, 32, 32), torch.tensor([0, 1]), r"3 channels.*input_nc=1"),
        (torch.randn(1, 32, 32), torch.tensor([0]), r"4-d tensor"),
        (torch.randn(2, 1, 32, 32), torch.tensor([0, 4]), r"labels contain 4, outside 0\.\.3.*embedding_num=4"),
        (torch.randn(2, 1, 32, 32), torch.tensor([-1, 0]), r"labels contain -1"),
        (torch.randn(2, 1, 32, 32), torch.tensor([0, 1, 2]), r"one font id per image.*\(2,\).*\(3,\)"),
        (torch.randn(2, 1, 32, 32), torch.tensor([0.0, 1.0]), r"labels must be an integer tensor"),
    ],
)
def test_bad_inputs_raise_before_any_convolution(small_model, images, labels, pattern):
    with pytest.raises(ValueError, match=pattern):
        small_model(images, labels)


def test_size_error_suggests_fewer_levels_for_384():
    with pytest.raises(ValueError, match=r"height 384.*use num_downs=7 or fewer, or resize to 256 or 512"):
        meta_generator().levels(384)


def test_join_refuses_mismatched_sizes():
    block = UnetSkipConnectionBlock(16, 16, submodule=None, embedding_dim=4, level=8)
    block.up[1].stride = (1, 1)  # the stride mistake of lesson 02
    with pytest.raises(RuntimeError, match=r"level 8 cannot join its skip \(4x4\) with its up path \(3x3\)"):
        block(torch.randn(1, 16, 4, 4), torch.randn(1, 4))


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        (dict(skip="add", input_channels=8), r"skip='add' needs input_channels == outer_channels"),
        (dict(outermost=True, skip="concat", submodule="child"), r"skip='concat' is not accepted for the outermost"),
        (dict(use_dropout=True), r"use_dropout=True is only accepted for middle blocks"),
        (dict(skip="sum"), r"skip='sum'"),
    ],
)
def test_block_argument_errors(kwargs, pattern):
    if kwargs.get("submodule") == "child":
        kwargs["submodule"] = leaf()
    with pytest.raises(ValueError, match=pattern):
        UnetSkipConnectionBlock(16, 16, **kwargs)
